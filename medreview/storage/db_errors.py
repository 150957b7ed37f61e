"""SQLAlchemy's operational errors as medreview exceptions, so callers can retry without SQL.

A writer that must not lose work (the judge, with replies already paid for) retries while
SQLite says another connection holds the lock, and stops at once on anything else. An error
that escaped every use-case is put in words by ``describe_storage_error`` (for the CLI's and
the app's last line of defence), again without callers knowing SQLAlchemy's types.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from medreview.errors import DatabaseFailure, DatabaseLocked
from medreview.storage.health import describe_db_error


def _is_busy(text: str) -> bool:
    low = text.lower()
    return "locked" in low or "busy" in low


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Turn an ``OperationalError`` raised inside into ``DatabaseLocked`` (SQLite busy or
    locked) or ``DatabaseFailure`` (disk full, I/O error: its reason is the first line of the
    driver's message, without SQLAlchemy's SQL echo)."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig if exc.orig is not None else exc)
        if _is_busy(text):
            raise DatabaseLocked(text.splitlines()[0] if text else "database is locked") from exc
        reason = (text.splitlines() or [type(exc).__name__])[0]
        raise DatabaseFailure(reason) from exc


def describe_storage_error(exc: BaseException) -> str | None:
    """One line for a database error (a page damaged after the open-time check, a full
    disk, a lock held too long), or None when ``exc`` is not one."""
    if isinstance(exc, SQLAlchemyError | sqlite3.Error):
        return describe_db_error(exc)
    return None
