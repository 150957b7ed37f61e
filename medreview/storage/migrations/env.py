"""Alembic environment: runs on the connection the caller passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from medreview.storage import models  # noqa: F401  (registers the tables on Base.metadata)
from medreview.storage.base import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
