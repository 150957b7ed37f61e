"""Make a project's database an older schema for real (Alembic downgrade), data kept, so an
upgrade test meets the tables and columns an older medreview actually left."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from medreview.storage import schema


def as_older_schema(db: Path, revision: str) -> None:
    engine = sa.create_engine(f"sqlite:///{db}")
    cfg = schema.alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
        assert schema.current_revision(engine) == revision
    finally:
        engine.dispose()
