"""SQLAlchemy's operational errors as medreview exceptions, so callers can retry without SQL.

A writer that must not lose work (the judge, with replies already paid for) retries while
SQLite says another connection holds the lock, and stops at once on anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import OperationalError

from medreview.errors import DatabaseFailure, DatabaseLocked


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
