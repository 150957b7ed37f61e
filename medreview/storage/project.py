"""Create and open project folders: ``project.sqlite`` + ``media/``.

Opening a project whose schema is older than this version backs the database up (SQLite's
online backup, so WAL contents are included; one copy per old version) and then upgrades it
with Alembic. A newer schema, an empty, truncated, foreign or damaged file is refused with one
line before anything is written. A project that cannot be written opens read-only.

A project may also be a PostgreSQL database, named by its URL (``storage/server_url.py``): the
same models and Alembic chain, media in the database (``storage/server_media.py``), writers
serialised by the server's advisory lock (``storage/engine.ServerWriteLock``). A server database
is shared, so opening never migrates it: a database at another schema is refused with one line
saying who migrates it (the study lead, ``medreview migrate URL``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from medreview.errors import ProjectError, ProjectReadOnly
from medreview.storage import schema
from medreview.storage.engine import (
    ServerWriteLock,
    WriteGate,
    make_engine,
    make_server_engine,
    make_sessionmaker,
    read_only_connector,
    reading,
    sqlite_url,
)
from medreview.storage.health import check_database_file, check_integrity, describe_db_error
from medreview.storage.media import Media, MediaStore
from medreview.storage.media_location import check_new_folder, media_store, settings_of, with_folder
from medreview.storage.models import ProjectRow
from medreview.storage.server_url import (
    ServerUrl,
    connect_args,
    is_database_url,
    local_folder,
    media_cache_folder,
    parse_server_url,
)
from medreview.storage.writers import WriterNotes

DB_NAME = "project.sqlite"
MEDIA_DIR = "media"


class Project:
    """An open project: its engine, a session factory and its media store.

    Every user action runs in ``with project.transaction() as s:`` — one commit, or nothing.
    Reads use ``project.read()``: deferred transactions that never wait for a writer. A
    project opened read-only (``read_only_reason`` says why) refuses every transaction.
    ``location`` is what messages name: the folder, or a server project's URL without its
    password (whose ``path`` is then this user's local folder for it).
    """

    def __init__(
        self,
        path: Path,
        engine: Engine,
        media: Media,
        *,
        gate: WriteGate | ServerWriteLock | None = None,
        read_only_reason: str | None = None,
        location: str | None = None,
    ) -> None:
        self.path = path
        self.engine = engine
        self.media = media
        self.read_only_reason = read_only_reason
        self.location = location or str(path)
        self._gate = gate
        self._notes = gate.notes if isinstance(gate, WriteGate) else None
        self._sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self._reads: sessionmaker[Session] = make_sessionmaker(reading(engine))

    @property
    def read_only(self) -> bool:
        return self.read_only_reason is not None

    def set_writer_wait_callback(self, callback: Callable[[str], None] | None) -> None:
        """Called with "waiting for another writer (…)… N s" while a write waits its turn."""
        if self._gate is not None:
            self._gate.on_wait = callback

    def _check_writable(self) -> None:
        if self.read_only_reason is not None:
            raise ProjectReadOnly(
                f"the project is open read-only ({self.read_only_reason}); nothing can be saved",
                source=self.location,
            )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        self._check_writable()
        with self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session for a writer that commits in batches (``session.commit()`` per batch).

        Each batch begins with ``BEGIN IMMEDIATE`` at its first statement; an exception rolls
        the unfinished batch back. Call ``yield_to_waiters()`` after each commit.
        """
        self._check_writable()
        with self._sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def yield_to_waiters(self) -> None:
        if self._notes is not None:
            self._notes.yield_to_waiters()

    @contextlib.contextmanager
    def writer(self, what: str) -> Iterator[None]:
        """Tell waiting writers that ``what`` (e.g. "import of a.jsonl") is writing."""
        if isinstance(self._gate, ServerWriteLock) and not self.read_only:
            with self._gate.hold(what):
                yield
            return
        if self._notes is None or self.read_only:
            yield
            return
        with self._notes.hold(what):
            yield

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def uid(self) -> str:
        with self.read() as s:
            return s.execute(select(ProjectRow.uid)).scalar_one()

    @property
    def name(self) -> str:
        with self.read() as s:
            return s.execute(select(ProjectRow.name)).scalar_one()


def is_project(path: Path | str) -> bool:
    """A project folder? (A server URL is answered by opening it, not here.)"""
    if is_database_url(path):
        return False
    return (Path(path) / DB_NAME).is_file()


def _sqlite_engine(path: Path, db_path: Path) -> tuple[Engine, WriteGate]:
    gate = WriteGate(WriterNotes(path))
    return make_engine(sqlite_url(db_path), gate=gate), gate


def create_project(
    path: Path | str, name: str | None = None, *, database_url: str | None = None,
    media_folder: str | None = None,
) -> Project:
    """Make a new, empty project folder, or a project in an empty PostgreSQL database (a URL
    as ``path`` or ``database_url``), whose media go in the database or, given
    ``media_folder``, in that shared folder (``storage/media_location``)."""
    if database_url is not None or is_database_url(path):
        return _create_server_project(database_url or str(path), name, media_folder)
    path = Path(path)
    if media_folder is not None:
        raise ProjectError("a media folder is chosen only for a PostgreSQL project; a project "
                           "folder keeps its media in its own media/ folder", source=str(path))
    if is_project(path):
        raise ProjectError("a project already exists here", source=str(path))
    if path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
        raise ProjectError(
            "folder is not empty; choose a new folder for the project", source=str(path)
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / MEDIA_DIR).mkdir(exist_ok=True)
    engine, gate = _sqlite_engine(path, path / DB_NAME)
    schema.upgrade(engine)
    project = Project(path, engine, MediaStore(path / MEDIA_DIR), gate=gate)
    with project.transaction() as s:
        s.add(ProjectRow(uid=str(uuid.uuid4()), name=name or path.name, settings={}))
    return project


def backup_database(db_path: Path, label: str) -> Path:
    """A copy of the database (WAL contents included) next to it; one per label while the
    database is unchanged, so repeated failed upgrades do not pile up copies."""
    for old in sorted(db_path.parent.glob(f"{db_path.stem}.{label}.*.bak.sqlite")):
        if old.stat().st_mtime >= _db_mtime(db_path):
            return old
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    dest = db_path.with_name(f"{db_path.stem}.{label}.{stamp}.bak.sqlite")
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return dest


def _db_mtime(db_path: Path) -> float:
    times = [p.stat().st_mtime for p in (db_path, Path(f"{db_path}-wal")) if p.exists()]
    return max(times)


def _schema_state(engine: Engine, db_path: Path) -> str:
    """The schema revision; a damaged or foreign file is refused here, before anything writes."""
    try:
        current = schema.current_revision(reading(engine))
        if current is None:
            raise ProjectError("database has no medreview schema version", source=str(db_path))
        check_integrity(engine, db_path)
    except ProjectError:
        engine.dispose()
        raise
    except Exception as exc:  # a damaged or foreign file: say so instead of a traceback
        engine.dispose()
        raise ProjectError(
            f"cannot read the project database: {describe_db_error(exc)}", source=str(db_path)
        ) from exc
    return current


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory  # only for a schema other than this version's

    try:
        scripts = ScriptDirectory.from_config(schema.alembic_config())
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def open_project(
    path: Path | str,
    *,
    upgrade: bool = True,
    database_url: str | None = None,
    read_only: bool | None = None,
) -> Project:
    """Open an existing project, backing up and migrating an older schema first.

    ``read_only`` None means: read-only when ``MEDREVIEW_READ_ONLY`` is set or the database
    or its folder cannot be written (an archive, a read-only share). A read-only project can
    be browsed, counted and exported; every transaction is refused with one line.
    ``path`` may be a PostgreSQL URL (or ``database_url`` given): never migrated on opening.
    """
    if database_url is not None or is_database_url(path):
        return open_server_project(database_url or str(path), read_only=read_only)
    path = Path(path)
    db_path = path / DB_NAME
    if not db_path.is_file():
        raise ProjectError("not a medreview project (no project.sqlite)", source=str(path))
    check_database_file(db_path)
    reason = read_only_reason(path, db_path, read_only)
    if reason is None:
        engine, gate = _sqlite_engine(path, db_path)
    else:
        gate = WriteGate(None, read_only=True)
        engine = _read_only_engine(db_path, gate)
    current = _schema_state(engine, db_path)
    head = schema.head_revision()
    if current != head:
        if not _known(current):
            engine.dispose()
            raise ProjectError(
                f"made by a newer medreview (schema {current}); this version supports schemas "
                f"up to {head}: update medreview to open it",
                source=str(db_path),
            )
        if not upgrade or reason is not None:
            engine.dispose()
            why = f"it is read-only ({reason})" if reason else "upgrading was not allowed"
            raise ProjectError(
                f"schema {current} is older than {head} and {why}; open it writable once to "
                "upgrade (a backup is made first)",
                source=str(db_path),
            )
        backup_database(db_path, f"schema-{current}")
        try:
            schema.upgrade(engine)
        except Exception as exc:
            engine.dispose()
            raise ProjectError(
                f"could not upgrade schema {current} to {head}: {describe_db_error(exc)}",
                source=str(db_path),
            ) from exc
    return Project(path, engine, MediaStore(path / MEDIA_DIR), gate=gate, read_only_reason=reason)


def _server_engine(server: ServerUrl, reason: str | None) -> tuple[Engine, ServerWriteLock]:
    lock = ServerWriteLock(read_only=reason is not None)
    engine = make_server_engine(server.url, connect_args(server, read_only=reason is not None),
                                lock)
    return engine, lock


def _server_project(server: ServerUrl, engine: Engine, lock: ServerWriteLock,
                    reason: str | None, settings: object = None) -> Project:
    """``settings`` (the project row's) say where the media are: the database or a folder."""
    media = media_store(settings, engine, media_cache_folder(server), server.display)
    return Project(local_folder(server), engine, media, gate=lock, read_only_reason=reason,
                   location=server.display)


def server_revision(engine: Engine, server: ServerUrl) -> str | None:
    """The database's schema revision; an unreachable server or a refused login in one line
    (without the password)."""
    try:
        return schema.current_revision(reading(engine))
    except Exception as exc:
        engine.dispose()
        raise ProjectError(f"cannot open the database: {server.redact(describe_db_error(exc))}",
                           source=server.display) from exc


def _check_server_schema(current: str | None, server: ServerUrl) -> None:
    head = schema.head_revision()
    if current is None:
        raise ProjectError("the database holds no medreview project; the study lead creates one "
                           f"with `medreview copy FOLDER {server.display}` or "
                           f"`medreview init {server.display}`", source=server.display)
    if current == head:
        return
    if not _known(current):
        raise ProjectError(f"made by a newer medreview (schema {current}); this version supports "
                           f"schemas up to {head}: update medreview to open it",
                           source=server.display)
    raise ProjectError(f"the database is at schema {current} and this medreview needs {head}; "
                       "nothing can be saved until the study lead migrates it with "
                       f"`medreview migrate {server.display}`", source=server.display)


def open_server_project(url: str, *, read_only: bool | None = None,
                        password: str | None = None) -> Project:
    """Open the project in a PostgreSQL database; another schema version is refused.
    ``password`` (typed in the app's dialog) wins over the URL's, the keyring's and libpq's."""
    server = parse_server_url(url, use_keyring=password is None)
    if password is not None:
        server = ServerUrl(server.url, password)
    reason = _requested_read_only(read_only)
    engine, lock = _server_engine(server, reason)
    try:
        _check_server_schema(server_revision(engine, server), server)
        settings = settings_of(engine)
    except ProjectError:
        engine.dispose()
        raise
    return _server_project(server, engine, lock, reason, settings)


def _create_server_project(url: str, name: str | None, media_folder: str | None) -> Project:
    """A new project in an empty database: the schema at head and the project row (with the
    media folder, checked first, when one is chosen)."""
    if media_folder is not None:
        check_new_folder(media_folder)
    settings = with_folder({}, media_folder)
    server = parse_server_url(url)
    engine, lock = _server_engine(server, None)
    if server_revision(engine, server) is not None or _has_tables(engine):
        engine.dispose()
        raise ProjectError("the database is not empty; create the project in a new, empty "
                           "database", source=server.display)
    project = _server_project(server, engine, lock, None, settings)
    try:
        schema.upgrade(engine)
        with project.transaction() as s:
            s.add(ProjectRow(uid=str(uuid.uuid4()), name=name or str(server.url.database),
                             settings=settings))
    except Exception:
        project.close()
        raise
    return project


def _has_tables(engine: Engine) -> bool:
    from sqlalchemy import inspect

    with reading(engine).connect() as conn:
        return bool(inspect(conn).get_table_names())


def migrate(target: Path | str) -> tuple[str | None, str]:
    """Bring a project (folder or server database) to this version's schema: (from, to).

    A folder is backed up first (as on opening); a server database is upgraded in one
    transaction (PostgreSQL's DDL is transactional), under the project's write lock.
    """
    head = schema.head_revision()
    if not is_database_url(target):
        path = Path(target)
        if not (path / DB_NAME).is_file():
            raise ProjectError("not a medreview project (no project.sqlite)", source=str(path))
        check_database_file(path / DB_NAME)
        probe = make_engine("sqlite://", gate=WriteGate(None, read_only=True),
                            creator=read_only_connector(path / DB_NAME))
        try:
            before = _schema_state(probe, path / DB_NAME)
        finally:
            probe.dispose()
        open_project(path).close()
        return before, head
    server = parse_server_url(str(target))
    engine, _lock = _server_engine(server, None)
    try:
        current = server_revision(engine, server)
        if current is None:
            raise ProjectError("the database holds no medreview project; nothing to migrate",
                               source=server.display)
        if current != head:
            if not _known(current):
                _check_server_schema(current, server)
            try:
                schema.upgrade(engine)
            except Exception as exc:
                raise ProjectError(f"could not upgrade schema {current} to {head}: "
                                   f"{server.redact(describe_db_error(exc))}; nothing was "
                                   "changed", source=server.display) from exc
        return current, head
    finally:
        engine.dispose()


def _requested_read_only(requested: bool | None) -> str | None:
    if requested or (requested is None
                     and os.environ.get("MEDREVIEW_READ_ONLY", "") not in ("", "0")):
        return "opened read-only on request"
    return None


def read_only_reason(path: Path, db_path: Path, requested: bool | None) -> str | None:
    if requested:
        return "opened read-only on request"
    if requested is None and os.environ.get("MEDREVIEW_READ_ONLY", "") not in ("", "0"):
        return "opened read-only on request"
    if requested is False:
        return None
    if not _writable(db_path):
        return "the database file is not writable"
    if not _writable(path):
        return "the project folder is not writable"
    return None


def _writable(path: Path) -> bool:
    # access(2) also answers False on a read-only mount, for root too.
    return os.access(path, os.W_OK)


def _read_only_engine(db_path: Path, gate: WriteGate) -> Engine:
    """``mode=ro``; when SQLite cannot open that (no ``-shm`` and a folder it cannot write),
    ``immutable=1`` — but only if no write-ahead log holds commits it would not see."""
    engine = make_engine("sqlite://", gate=gate, creator=read_only_connector(db_path))
    try:
        with engine.connect():
            pass
        return engine
    except Exception:
        engine.dispose()
    wal = Path(f"{db_path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise ProjectError(
            "cannot open read-only: the folder cannot be written and the write-ahead log "
            f"{wal.name} holds unfinished changes; copy the project folder somewhere writable",
            source=str(db_path),
        )
    return make_engine(
        "sqlite://", gate=gate, creator=read_only_connector(db_path, immutable=True)
    )
