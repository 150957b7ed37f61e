"""Engine factory: SQLite with WAL, foreign keys and full sync; or a PostgreSQL URL.

All dialect-specific settings live here, so the rest of the storage layer is portable.

Transactions on SQLite (see docs/ARCHITECTURE.md, "Writers and transactions"):
- pysqlite's own transaction handling is switched off (``isolation_level=None``) and the
  ``begin`` event emits BEGIN itself, as SQLAlchemy documents for pysqlite;
- a write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock before its
  first read, so whatever it reads (a next revision number, "does this row exist") cannot be
  changed by another writer before it commits;
- read sessions (execution option ``medreview_read``) start a plain deferred ``BEGIN`` and
  never wait for writers (WAL);
- a writer that finds the lock taken waits in ``WriteGate.begin`` — a loop of short SQLite
  busy waits that reports "waiting for another writer (import of X)…" to a callback, for up
  to ``MEDREVIEW_WRITE_WAIT_S`` seconds (default 600) before giving up with one line.

On PostgreSQL (``ServerWriteLock``) the same rule holds with the server's own lock: every write
transaction first takes a transaction-scoped advisory lock, one per database (= project), so
revision numbers and "is this row here" reads stay exact while writers in other processes and
on other machines commit; reads run at REPEATABLE READ (one snapshot, like SQLite's WAL reads)
and never take the lock. The lock is released by COMMIT or ROLLBACK, also when a client dies.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from medreview.errors import DatabaseFailure, ProjectBusy, ProjectError
from medreview.storage.writers import WriterNotes

READ_OPTION = "medreview_read"
# Media writes on a server: content-addressed rows that need no project write lock (an
# import holding the lock adds its files through another connection).
MEDIA_OPTION = "medreview_media"
# One SQLite busy wait; the gate loops over these so it can report progress between them.
BUSY_SLICE_MS = 250
DEFAULT_WAIT_S = 600.0

WaitCallback = Callable[[str], None]

# Process-wide fallback for "waiting for another writer" messages (the CLI prints them).
_default_wait_callback: list[WaitCallback | None] = [None]


def set_default_wait_callback(callback: WaitCallback | None) -> None:
    _default_wait_callback[0] = callback


def max_write_wait_s() -> float:
    try:
        return max(0.0, float(os.environ.get("MEDREVIEW_WRITE_WAIT_S", DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def read_only_connector(path: Path, *, immutable: bool = False) -> Callable[[], Any]:
    """Connections SQLite itself keeps from writing (``mode=ro``), whoever runs (even root).

    ``immutable`` also skips locking and the ``-shm`` file: only for a folder nobody can
    write, whose database has no write-ahead log left to read.
    """
    uri = "file:" + quote(Path(path).resolve().as_posix()) + "?mode=ro"
    if immutable:
        uri += "&immutable=1"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    return connect


def _is_busy(exc: BaseException) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class WriteGate:
    """Starts SQLite transactions: deferred for reads, ``BEGIN IMMEDIATE`` (waiting) for writes."""

    def __init__(self, notes: WriterNotes | None, *, read_only: bool = False) -> None:
        self.notes = notes
        self.read_only = read_only
        self.on_wait: WaitCallback | None = None

    def begin(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        if self.read_only or conn.get_execution_options().get(READ_OPTION):
            dbapi.execute("BEGIN")
            return
        self._begin_immediate(dbapi)

    def _begin_immediate(self, dbapi: Any) -> None:
        start = time.monotonic()
        limit = max_write_wait_s()
        waiting = False
        try:
            while True:
                try:
                    dbapi.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                    waited = time.monotonic() - start
                    holder = self.notes.holder() if self.notes else None
                    if waited >= limit:
                        who = f" ({holder})" if holder else ""
                        raise ProjectBusy(
                            f"another writer{who} has kept the project busy for {waited:.0f} s;"
                            " nothing was changed, try again when it has finished"
                        ) from None
                    if not waiting and self.notes is not None:
                        self.notes.start_waiting()  # asks batch writers to leave a gap
                    waiting = True
                    callback = self.on_wait or _default_wait_callback[0]
                    if callback is not None and waited >= 1.0:  # a batch gap is no news
                        who = f" ({holder})" if holder else ""
                        callback(f"waiting for another writer{who}… {waited:.0f} s")
        finally:
            if waiting and self.notes is not None:
                self.notes.stop_waiting()


# pg_advisory_xact_lock key shared by every medreview writer of a database ("mrvw" + 1).
SERVER_WRITE_LOCK = 0x6D727677_00000001
_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait cut short by lock_timeout
_LOCK_SLICE = "1s"


class ServerWriteLock:
    """Begins PostgreSQL write transactions with the project's advisory lock (waiting)."""

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self.on_wait: WaitCallback | None = None
        self._doing: dict[int, str] = {}  # thread -> what it writes ("import of a.jsonl")

    @contextlib.contextmanager
    def hold(self, what: str) -> Iterator[None]:
        """Name this thread's writes to waiters (as ``application_name`` while they hold the
        lock; ``pg_stat_activity`` shows it to them), like the SQLite writer notes."""
        me = threading.get_ident()
        previous = self._doing.get(me)
        self._doing[me] = what
        try:
            yield
        finally:
            if previous is None:
                self._doing.pop(me, None)
            else:
                self._doing[me] = previous

    def begin(self, conn: Connection) -> None:
        opts = conn.get_execution_options()
        if self.read_only or opts.get(READ_OPTION) or opts.get(MEDIA_OPTION):
            return
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        start = time.monotonic()
        limit = max_write_wait_s()
        while True:
            cur = dbapi.cursor()
            try:
                # Waits in slices so it can report (and give up) like the SQLite gate; the
                # server queues waiters in order, so a batch writer cannot starve them.
                cur.execute(f"SET LOCAL lock_timeout = '{_LOCK_SLICE}'")
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SERVER_WRITE_LOCK,))
                cur.execute("SET LOCAL lock_timeout TO DEFAULT")
                what = self._doing.get(threading.get_ident())
                if what:
                    label = "".join(c if " " <= c <= "~" else "?" for c in f"medreview: {what}")
                    cur.execute("SELECT set_config('application_name', %s, true)", (label[:63],))
                return
            except Exception as exc:
                if getattr(exc, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    # Raised from an event, SQLAlchemy would not wrap it: one line here.
                    first = (str(exc).splitlines() or [type(exc).__name__])[0]
                    raise DatabaseFailure(f"cannot start a write on the server: {first}") from exc
                dbapi.rollback()
            finally:
                cur.close()
            waited = time.monotonic() - start
            holder = _server_lock_holder(dbapi)
            who = f" ({holder})" if holder else ""
            if waited >= limit:
                raise ProjectBusy(
                    f"another writer{who} has kept the project busy for {waited:.0f} s; nothing "
                    "was changed, try again when it has finished"
                )
            callback = self.on_wait or _default_wait_callback[0]
            if callback is not None:
                callback(f"waiting for another writer{who}… {waited:.0f} s")


def _server_lock_holder(dbapi: Any) -> str | None:
    """Who holds the write lock, as far as this login may see: what it writes, and its user."""
    cur = dbapi.cursor()
    try:
        cur.execute(
            "SELECT a.application_name, a.usename FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
            (SERVER_WRITE_LOCK >> 32, SERVER_WRITE_LOCK & 0xFFFFFFFF))
        row = cur.fetchone()
    except Exception:  # only a nicer message: never a reason to fail
        row = None
    finally:
        cur.close()
        dbapi.rollback()
    if row is None:
        return None
    app, user = (str(v) if v else "" for v in row)
    what = app.removeprefix("medreview: ") if app.startswith("medreview: ") else ""
    return ", ".join(part for part in (what, user) if part) or None


def make_server_engine(url: Any, connect_args: dict[str, Any], lock: ServerWriteLock) -> Engine:
    """A PostgreSQL engine (psycopg 3) whose write transactions take ``lock`` first."""
    try:
        import psycopg  # noqa: F401  (only in the ``postgres`` extra: say so in one line)
    except ImportError as exc:
        raise ProjectError("PostgreSQL projects need the psycopg driver: "
                           "pip install 'medreview[postgres]'") from exc
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    event.listen(engine, "begin", lock.begin)
    return engine


def _sqlite_connect_hook(read_only: bool) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's pysqlite recipe: no implicit BEGIN from the driver; the gate emits it.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit reported as saved survives a power cut, not only a crash.
            cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    return on_connect


def make_engine(
    url: str, *, gate: WriteGate | None = None, creator: Callable[[], Any] | None = None
) -> Engine:
    """``creator`` (SQLite only) opens the DBAPI connection itself, e.g. a read-only URI."""
    if url.startswith("sqlite"):
        gate = gate or WriteGate(None)
        if creator is not None:
            # QueuePool: "sqlite://" alone would mean :memory: and one shared connection.
            engine = create_engine(url, creator=creator, poolclass=QueuePool)
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect_hook(gate.read_only))
        event.listen(engine, "begin", gate.begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def reading(engine: Engine) -> Engine:
    """The same engine, whose transactions are deferred reads (never wait for a writer); on
    PostgreSQL at REPEATABLE READ, so a read sees one snapshot as it does on SQLite."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(**{READ_OPTION: True}, isolation_level="REPEATABLE READ")
    return engine.execution_options(**{READ_OPTION: True})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: results leave the DB thread as plain values, never lazy ORM rows.
    return sessionmaker(engine, expire_on_commit=False)
