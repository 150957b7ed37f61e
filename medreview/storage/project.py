"""Create and open project folders: ``project.sqlite`` + ``media/``.

Opening a project whose schema is older than this version backs the database up (SQLite's
online backup, so WAL contents are included) and then upgrades it with Alembic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from medreview.errors import ProjectError
from medreview.storage import schema
from medreview.storage.engine import make_engine, make_sessionmaker, sqlite_url
from medreview.storage.media import MediaStore
from medreview.storage.models import ProjectRow

DB_NAME = "project.sqlite"
MEDIA_DIR = "media"


class Project:
    """An open project: its engine, a session factory and its media store.

    Every user action runs in ``with project.transaction() as s:`` — one commit, or nothing.
    """

    def __init__(self, path: Path, engine: Engine, media: MediaStore) -> None:
        self.path = path
        self.engine = engine
        self.media = media
        self._sessions: sessionmaker[Session] = make_sessionmaker(engine)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
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


def is_project(path: Path) -> bool:
    return (path / DB_NAME).is_file()


def create_project(
    path: Path, name: str | None = None, *, database_url: str | None = None
) -> Project:
    """Make a new, empty project folder (or a PostgreSQL project whose media live in ``path``)."""
    path = Path(path)
    if is_project(path):
        raise ProjectError("a project already exists here", source=str(path))
    if path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
        raise ProjectError(
            "folder is not empty; choose a new folder for the project", source=str(path)
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / MEDIA_DIR).mkdir(exist_ok=True)
    engine = make_engine(database_url or sqlite_url(path / DB_NAME))
    schema.upgrade(engine)
    project = Project(path, engine, MediaStore(path / MEDIA_DIR))
    with project.transaction() as s:
        s.add(ProjectRow(uid=str(uuid.uuid4()), name=name or path.name, settings={}))
    return project


def backup_database(db_path: Path, label: str) -> Path:
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


def open_project(path: Path, *, upgrade: bool = True, database_url: str | None = None) -> Project:
    """Open an existing project, backing up and migrating an older schema first."""
    path = Path(path)
    db_path = path / DB_NAME
    if database_url is None and not db_path.is_file():
        raise ProjectError("not a medreview project (no project.sqlite)", source=str(path))
    engine = make_engine(database_url or sqlite_url(db_path))
    try:
        current = schema.current_revision(engine)
    except Exception as exc:  # a damaged or foreign file: say so instead of a traceback
        engine.dispose()
        raise ProjectError(f"cannot read the project database: {exc}", source=str(db_path)) from exc
    head = schema.head_revision()
    if current is None:
        engine.dispose()
        raise ProjectError("database has no medreview schema version", source=str(db_path))
    if current != head:
        if not upgrade:
            engine.dispose()
            raise ProjectError(
                f"schema {current} is older than {head}; open with upgrade", source=str(db_path)
            )
        if database_url is None:
            backup_database(db_path, f"schema-{current}")
        try:
            schema.upgrade(engine)
        except Exception as exc:
            engine.dispose()
            raise ProjectError(
                f"could not upgrade schema {current} to {head}: {exc}", source=str(db_path)
            ) from exc
    return Project(path, engine, MediaStore(path / MEDIA_DIR))
