"""The migrations build exactly the models' schema on SQLite (tests/postgres checks PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from medreview.storage import schema
from medreview.storage.base import Base


def test_migrated_sqlite_schema_is_the_models(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    schema.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []
    engine.dispose()
