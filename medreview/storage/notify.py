"""Change hints from a PostgreSQL project: LISTEN on a background thread, never trust a payload.

Writers need do nothing: a statement trigger (migration 0009) draws one number per writing
transaction from ``medreview_change_seq`` and sends ``NOTIFY medreview_changes`` with it, which
the server delivers only after COMMIT. The listener here uses a notification only as a reason
to look: it reads where the sequence stands itself and calls ``on_change(revision)``; the
screen then re-queries what it shows.

A notification can be lost (the connection drops, the laptop sleeps): so after every
(re)connect the listener LISTENs first and then calls ``on_change`` once unconditionally,
and while idle it checks the sequence every ``check_s`` seconds — a change that happened while
nobody listened is picked up either way. SQLite projects have no listener (``None``): their
screens refresh as today, from the app's own change bus.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

CHANNEL = "medreview_changes"
SEQUENCE = "medreview_change_seq"
_REVISION_SQL = f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SEQUENCE}"

log = logging.getLogger(__name__)

Connect = Callable[[], Any]  # returns an open psycopg connection


def change_revision(engine: Engine) -> int | None:
    """Where the project's change revision stands (None on SQLite: it has none)."""
    if engine.dialect.name != "postgresql":
        return None
    dbapi = _connect(engine)
    try:
        return _revision(dbapi)
    finally:
        dbapi.close()


def _revision(dbapi: Any) -> int:
    with dbapi.cursor() as cur:
        cur.execute(_REVISION_SQL)
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _connect(engine: Engine) -> Any:
    """A connection of its own (out of the pool), with the engine's credentials and TLS."""
    fairy = engine.raw_connection()
    fairy.detach()  # never returned to the pool: the listener closes it
    dbapi = fairy.dbapi_connection
    assert dbapi is not None
    dbapi.rollback()  # a pre-ping may have opened a transaction
    dbapi.autocommit = True
    return dbapi


class ChangeListener:
    """A daemon thread: ``on_change(revision)`` after each burst of hints, after each
    (re)connect, and when a periodic check finds the revision moved; ``on_online(bool, why)``
    when the server becomes reachable or unreachable. Callbacks run on the listener thread.
    """

    def __init__(self, connect: Connect, on_change: Callable[[int], None], *,
                 on_online: Callable[[bool, str], None] | None = None,
                 check_s: float = 15.0, retry_s: float = 1.0, max_retry_s: float = 15.0,
                 coalesce_s: float = 0.05) -> None:
        self._connect = connect
        self._on_change = on_change
        self._on_online = on_online
        self.check_s, self.retry_s, self.max_retry_s = check_s, retry_s, max_retry_s
        self.coalesce_s = coalesce_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medreview-listen", daemon=True)
        self._conn: Any = None
        self._lock = threading.Lock()
        self.revision: int | None = None  # the last revision announced
        self.online: bool | None = None  # None until the first connect is tried
        self.connects = 0  # how many times it (re)connected (tests, diagnostics)

    def start(self) -> ChangeListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def backend_pid(self) -> int | None:
        """The server process of the current listening connection (tests drop it)."""
        with self._lock:
            conn = self._conn
        return None if conn is None else int(conn.info.backend_pid)

    def _run(self) -> None:
        wait = self.retry_s
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:  # unreachable: say so, retry with a growing pause
                self._set_online(False, _one_line(exc))
                self._stop.wait(wait)
                wait = min(wait * 2, self.max_retry_s)
                continue
            wait = self.retry_s
            with self._lock:
                self._conn = conn
            try:
                self._listen(conn)
            except Exception as exc:  # a dropped connection: reconnect, re-query
                if not self._stop.is_set():
                    self._set_online(False, _one_line(exc))
            finally:
                with self._lock:
                    self._conn = None
                with contextlib.suppress(Exception):
                    conn.close()

    def _listen(self, conn: Any) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        self.connects += 1
        self._set_online(True, "")
        # Whatever happened while nobody listened: look now (LISTEN came first, so a commit
        # after this read still notifies us).
        self._announce(_revision(conn))
        idle = 0.0
        step = 0.5
        while not self._stop.is_set():
            hints = list(conn.notifies(timeout=step, stop_after=1))
            if hints:
                # Let a burst (an import's batches, or anyone's NOTIFY flood: the channel is
                # open to every login) arrive and drop it unread, then look once.
                for _ in conn.notifies(timeout=self.coalesce_s):
                    pass
                self._announce(_revision(conn))
                idle = 0.0
                continue
            idle += step
            if idle >= self.check_s:  # also proves the connection still works
                idle = 0.0
                revision = _revision(conn)
                if revision != self.revision:
                    self._announce(revision)

    def _announce(self, revision: int) -> None:
        self.revision = revision
        try:
            self._on_change(revision)
        except Exception:  # a screen's error must not end the listening
            log.exception("change listener callback failed")

    def _set_online(self, online: bool, why: str) -> None:
        changed = online != self.online
        self.online = online
        if changed and self._on_online is not None:
            try:
                self._on_online(online, why)
            except Exception:
                log.exception("change listener status callback failed")


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def listener_for(engine: Engine, on_change: Callable[[int], None], *,
                 on_online: Callable[[bool, str], None] | None = None,
                 **options: float) -> ChangeListener | None:
    """A started listener on the project's server; None for SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    return ChangeListener(lambda: _connect(engine), on_change, on_online=on_online,
                          **options).start()
