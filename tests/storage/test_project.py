"""Project folders: creation, SQLite settings, reopening, migrations with backups, bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from medreview.errors import ProjectError
from medreview.storage import schema
from medreview.storage.engine import make_engine, sqlite_url
from medreview.storage.ingest import ingest
from medreview.storage.project import Project, create_project, open_project
from tests.storage.helpers import case, located, output


@pytest.mark.sqlite_only(reason="SQLite PRAGMAs and the folder's project.sqlite and media/")
def test_create_sets_wal_foreign_keys_and_full_sync(project_path: Path) -> None:
    with create_project(project_path, "p") as project:
        with project.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert schema.current_revision(project.engine) == schema.head_revision()
        assert project.name == "p"
    assert (project_path / "project.sqlite").is_file()
    assert (project_path / "media").is_dir()


@pytest.mark.sqlite_only(reason="the folder's refusals (a full database: tests/postgres)")
def test_create_refuses_existing_project_and_non_empty_folder(
    project_path: Path, tmp_path: Path
) -> None:
    create_project(project_path).close()
    with pytest.raises(ProjectError, match="already exists"):
        create_project(project_path)
    other = tmp_path / "full"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        create_project(other)


def test_foreign_keys_are_enforced(empty_project: Project) -> None:
    from sqlalchemy.exc import IntegrityError

    from medreview.storage.models import OutputRow

    with pytest.raises(IntegrityError), empty_project.transaction() as s:
        s.add(OutputRow(case_id=999, model="m", text="t", text_sha256="0" * 64))


def test_open_missing_and_corrupt_databases_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a medreview project"):
        open_project(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "project.sqlite").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ProjectError, match=r"project\.sqlite"):
        open_project(bad)


def _make_first_revision_project(path: Path) -> None:
    """A project as the first schema revision (0001) wrote it, with data in it."""
    path.mkdir(parents=True)
    (path / "media").mkdir()
    engine = make_engine(sqlite_url(path / "project.sqlite"))
    schema.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO project (id, uid, name, description, created_at, settings,"
                " data_may_leave, reveal_models)"
                " VALUES (1, 'u-1', 'old', '', '2025-01-01 00:00:00', '{}', 0, 0)"
            )
        )
        conn.execute(
            text(
                'INSERT INTO "case" (id, external_id, title, messages, context, tags, metadata,'
                " content_sha256, source, created_at) VALUES (1, 'c1', 'Old case',"
                " '[{\"role\": \"user\", \"content\": \"hi\"}]', '[]', '[]', '{}', 'x', 's',"
                " '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO output (id, case_id, model, text, text_sha256, metadata, source,"
                " created_at) VALUES (1, 1, 'm1', 'answer', 'y', '{}', 's', '2025-01-01 00:00:00')"
            )
        )
    engine.dispose()


def test_first_schema_revision_opens_after_migration_with_data_intact(tmp_path: Path) -> None:
    path = tmp_path / "old"
    _make_first_revision_project(path)
    with open_project(path) as project:
        assert schema.current_revision(project.engine) == schema.head_revision() != "0001"
        with project.read() as s:
            assert s.execute(text('SELECT external_id, title FROM "case"')).all() == [
                ("c1", "Old case")
            ]
            assert s.execute(text("SELECT model, text FROM output")).all() == [("m1", "answer")]
            # Tables added by later revisions exist and work.
            assert s.execute(text("SELECT count(*) FROM judge_cache")).scalar() == 0
        assert project.name == "old"
    backups = list(path.glob("project.schema-0001.*.bak.sqlite"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:  # the backup is the old schema, data included
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert conn.execute('SELECT external_id FROM "case"').fetchall() == [("c1",)]


def test_reopen_keeps_data(project_path: Path) -> None:
    with create_project(project_path) as project:
        ingest(project, located([case("a"), output("a", "m", "text")]), source="t", importer="t")
    with open_project(project_path) as project, project.read() as s:
        assert s.execute(text("SELECT count(*) FROM output")).scalar() == 1
