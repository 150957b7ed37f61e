"""Alembic migrations of the project database (``render_as_batch`` for SQLite)."""
