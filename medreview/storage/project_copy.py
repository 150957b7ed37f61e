"""``medreview copy SRC DST``: a whole project between a folder and a PostgreSQL database.

Either direction (folder → server, server → folder; also folder → folder, server → server),
into an empty destination that is first brought to this version's schema. Order matters for
"nothing half-written": the destination is checked empty; every medium the project's rows name
is streamed across (content-addressed, checked as it arrives) and read back from the destination
(sha256 and size); then all tables go in ONE transaction (``storage/copy.py``, verified table by
table before the commit), so no row is ever committed naming a medium that is not there. If
anything fails, what this copy added is taken away again (a folder it created is removed or
emptied, media it added to a database are deleted) and the one-line reason is raised.

The source is opened read-only and must be at this version's schema (migrate it first).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select, update

from medreview.errors import InputError, ProjectError
from medreview.progress import Progress, no_progress
from medreview.storage import schema
from medreview.storage.copy import TableCheck, copied_tables, copy_database
from medreview.storage.engine import reading
from medreview.storage.media import Media, MediaStore, SharedFolderMediaStore
from medreview.storage.media_location import check_new_folder, with_folder
from medreview.storage.models import AttachmentRow, PendingMediaRow, ProjectRow
from medreview.storage.project import (
    DB_NAME,
    MEDIA_DIR,
    Project,
    _server_engine,
    _sqlite_engine,
    open_project,
    server_revision,
)
from medreview.storage.server_media import DatabaseMediaStore
from medreview.storage.server_url import is_database_url, media_cache_folder, parse_server_url


@dataclass(frozen=True)
class ProjectCopyReport:
    source: str
    destination: str
    revision: str
    tables: tuple[TableCheck, ...]
    media: int
    media_bytes: int
    verified: bool  # every table (count + sha256) and every medium (sha256 + size) read back

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass
class _Destination:
    location: str
    engine: Engine
    media: Media
    folder: Path | None = None  # a folder destination: emptied (or removed) on failure
    remove_folder: bool = False
    added: list[str] = field(default_factory=list)  # media added to a database destination

    def undo(self) -> None:
        """Take back what this copy added (the tables' transaction rolled back already)."""
        if self.folder is None:
            for digest in self.added:
                self.media.remove(digest)
            return
        self.engine.dispose()
        if self.remove_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        for child in self.folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _open_destination(target: Path | str, media_folder: str | None = None) -> _Destination:
    if media_folder is not None:
        if not is_database_url(target):
            raise ProjectError("a media folder is chosen only for a PostgreSQL destination; a "
                               "project folder keeps its media in its own media/ folder",
                               source=str(target))
        check_new_folder(media_folder)
    if is_database_url(target):
        server = parse_server_url(str(target))
        engine, _lock = _server_engine(server, None)
        try:
            current = server_revision(engine, server)
            if current is None:
                schema.upgrade(engine)  # an empty database: this version's schema first
            elif current != schema.head_revision():
                raise ProjectError(f"the destination database is at schema {current}, not "
                                   f"{schema.head_revision()}: copy into a new, empty database",
                                   source=server.display)
        except BaseException:
            engine.dispose()
            raise
        cache = media_cache_folder(server)
        media: Media = (DatabaseMediaStore(engine, cache, location=server.display)
                        if media_folder is None
                        else SharedFolderMediaStore(Path(media_folder), cache / "not-reachable"))
        return _Destination(server.display, engine, media)
    path = Path(target)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ProjectError("the destination folder is not empty; copy into a new folder",
                           source=str(path))
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    (path / MEDIA_DIR).mkdir()
    engine, _gate = _sqlite_engine(path, path / DB_NAME)
    dest = _Destination(str(path), engine, MediaStore(path / MEDIA_DIR), folder=path,
                        remove_folder=created)
    try:
        schema.upgrade(engine)
    except BaseException:
        dest.undo()
        raise
    return dest


def _media_of(project: Project) -> list[tuple[str, int]]:
    """Every medium the project's rows name, with the size they record (sha256 order)."""
    with project.read() as s:
        sizes: dict[str, int] = {}
        for model in (AttachmentRow, PendingMediaRow):
            for digest, size in s.execute(select(model.sha256, func.max(model.size))
                                          .group_by(model.sha256)):
                sizes[digest] = max(int(size), sizes.get(digest, 0))
    return sorted(sizes.items())


def _verified_size(media: Media, digest: str) -> int:
    """Read the blob back in full (the store checks its sha256); its size."""
    return sum(len(piece) for piece in media.chunks(digest))


def copy_project(source: Path | str, destination: Path | str,
                 progress: Progress = no_progress, *,
                 media_folder: str | None = None) -> ProjectCopyReport:
    """Copy the project at ``source`` into the empty ``destination`` and verify everything.
    A PostgreSQL destination keeps its media in the database, or in ``media_folder`` (an
    existing, writable, absolute folder) which its settings then record; the source's own
    media location is never carried over (a folder copy keeps them in its media/)."""
    src = open_project(source, read_only=True)
    try:
        dest = _open_destination(destination, media_folder)
        try:
            report = _copy(src, dest, progress, media_folder)
        except BaseException:
            dest.undo()
            raise
        finally:
            dest.engine.dispose()
    finally:
        src.close()
    return report


def _copy(src: Project, dest: _Destination, progress: Progress,
          media_folder: str | None = None) -> ProjectCopyReport:
    with dest.engine.connect() as conn:  # refuse before any medium is written
        for table in copied_tables():
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                raise InputError(f"the destination is not empty (table {table.name} has rows)"
                                 "; copy into a new, empty database", source=dest.location)
        conn.rollback()
    media = _media_of(src)
    for i, (digest, size) in enumerate(media, 1):
        if not dest.media.has(digest):
            dest.media.add_chunks(digest, size, _pieces(src.media, digest))
            dest.added.append(digest)
        # Read back from the destination before any row can name it: sha256 and size.
        got = _verified_size(dest.media, digest)
        if got != size:
            raise InputError(f"media {digest[:12]}… has {got} bytes in the copy and {size} in "
                             "the project", source=dest.location)
        progress(i, len(media), "copying and verifying media")
    tables = copy_database(reading(src.engine), dest.engine, progress,
                           finish=lambda conn: _record_media_folder(conn, media_folder)).tables
    return ProjectCopyReport(src.location, dest.location, schema.head_revision(), tables,
                             len(media), sum(size for _, size in media), verified=True)


def _record_media_folder(conn: Connection, folder: str | None) -> None:
    """The destination's own media location in its settings (in the copy's transaction).
    The copy left its connection streaming (``yield_per`` turns a statement into a server-side
    cursor, which cannot run an UPDATE): these statements run plain."""
    plain = {"stream_results": False, "yield_per": 0}
    rows = conn.execute(select(ProjectRow.uid, ProjectRow.settings), execution_options=plain)
    for uid, settings in rows.all():
        wanted = with_folder(settings, folder)
        if wanted != (settings if isinstance(settings, dict) else {}):
            conn.execute(update(ProjectRow).where(ProjectRow.uid == uid).values(settings=wanted),
                         execution_options=plain)


def _pieces(media: Media, digest: str) -> Iterator[bytes]:
    yield from media.chunks(digest)
