"""The one Alembic chain on a real PostgreSQL server, and projects copied both ways, verified."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from medreview.demo import build_demo_project
from medreview.errors import InputError
from medreview.storage import schema
from medreview.storage.base import Base
from medreview.storage.copy import copy_database, table_checks


def test_every_migration_runs_on_postgresql_and_the_result_is_the_models(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    revisions = [r.revision for r in ScriptDirectory.from_config(schema.alembic_config())
                 .walk_revisions()][::-1]
    assert revisions[0] == "0001" and revisions[-1] == schema.head_revision()
    for rev in revisions:  # one step at a time, as projects meet them
        schema.upgrade(engine, rev)
        assert schema.current_revision(engine) == rev
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    engine.dispose()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo") / "project.sqlite"


def test_sqlite_to_postgresql_and_back_is_identical(demo_db: Path, pg_url: str,
                                                    tmp_path: Path) -> None:
    sqlite_src = sa.create_engine(f"sqlite:///{demo_db}")
    pg = sa.create_engine(pg_url)
    schema.upgrade(pg)
    there = copy_database(sqlite_src, pg)
    assert there.rows > 500
    back_db = sa.create_engine(f"sqlite:///{tmp_path / 'back.sqlite'}")
    schema.upgrade(back_db)
    back = copy_database(pg, back_db)
    assert table_checks(sqlite_src) == there.tables == back.tables
    # New rows on PostgreSQL get fresh ids after the explicit ones (sequences moved on).
    with pg.begin() as conn:
        new_id = conn.execute(sa.text(
            "INSERT INTO rater (name, kind, pseudonym, is_adjudicator, created_at) "
            "VALUES ('new physician', 'physician', 'P99', false, now()) RETURNING id")).scalar_one()
        top = conn.execute(sa.text("SELECT max(id) FROM rater WHERE id <> :i"),
                           {"i": new_id}).scalar_one()
    assert new_id > top
    pg.dispose()


def test_text_postgresql_cannot_store_is_named_and_nothing_is_written(
        demo_db: Path, pg_url: str, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.sqlite"
    hostile.write_bytes(demo_db.read_bytes())
    with sqlite3.connect(hostile) as conn:
        conn.execute("UPDATE output SET text = 'dose' || char(0) || 'hidden' WHERE id = 3")
    conn.close()
    pg = sa.create_engine(pg_url)
    schema.upgrade(pg)
    with pytest.raises(InputError, match=r"output \(id=3\): column text holds a NUL"):
        copy_database(sa.create_engine(f"sqlite:///{hostile}"), pg)
    assert all(t.rows == 0 for t in table_checks(pg))
    pg.dispose()
