"""Database errors in words, for callers that must not know SQLAlchemy's exception types."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import SQLAlchemyError

from medreview.storage.health import describe_db_error


def describe_storage_error(exc: BaseException) -> str | None:
    """One line for a database error (a page damaged after the open-time check, a full
    disk, a lock held too long), or None when ``exc`` is not one."""
    if isinstance(exc, SQLAlchemyError | sqlite3.Error):
        return describe_db_error(exc)
    return None
