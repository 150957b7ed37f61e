"""Is this error "the server went away"? (A save then waits for it instead of failing.)

A lost or refused connection to a PostgreSQL server means nothing was decided about the
transaction that was running (or its COMMIT's answer was lost): the work is kept and tried
again. A refused statement, a constraint, a wrong password or a missing permission is an
answer from the server, and trying again would give the same answer.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError

# SQLSTATE classes of a connection that failed or a server shutting down.
_GONE_STATES = ("08", "57P01", "57P02", "57P03")
# libpq's words for a login the server answered (and refused): never "unreachable".
_ANSWERED = ("password authentication failed", "authentication failed", "permission denied",
             "does not exist", "no pg_hba.conf entry", "too many connections")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _psycopg_operational() -> type[BaseException] | None:
    try:
        import psycopg
    except ImportError:
        return None
    return psycopg.OperationalError


def is_connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the server could not be reached or the
    connection dropped, so the outcome of the work is unknown and it may be tried again."""
    operational = _psycopg_operational()
    for e in _chain(exc):
        text = str(e).lower()
        if any(word in text for word in _ANSWERED):
            return False
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        if operational is not None and isinstance(e, operational):
            state = getattr(e, "sqlstate", None)
            if state is None or str(state).startswith(_GONE_STATES):
                return True
        if isinstance(e, ConnectionError | socket.timeout | TimeoutError):
            return True
    return False
