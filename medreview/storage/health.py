"""Is this file a whole, readable SQLite database? Checked before anything writes to it.

SQLite happily "opens" a zero-length file (and would write a fresh header into it), and a
truncated or page-smashed database only fails at the first query that touches a bad page.
So a project is checked when opened: the 100-byte header against the file size, then
``PRAGMA quick_check`` (reads every page once; about 0.1 s per 10 MB) unless this exact file
passed it before (``integrity_cache``: the same inode, size, mtime, ctime, header and -wal).
"""

from __future__ import annotations

import sqlite3
import struct
import time
from pathlib import Path

from sqlalchemy import Engine

from medreview.errors import ProjectError
from medreview.storage import integrity_cache
from medreview.storage.engine import reading

SQLITE_MAGIC = b"SQLite format 3\x00"
RESTORE_HINT = "restore project.sqlite from a copy or a *.bak.sqlite backup next to it"


def check_database_file(db_path: Path) -> None:
    """Refuse an empty, truncated or foreign file by its header alone (no SQLite involved)."""
    try:
        size = db_path.stat().st_size
        with db_path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise ProjectError(
            f"cannot read the database file: {exc.strerror or exc}", source=str(db_path)
        ) from exc
    if size == 0:
        raise ProjectError(
            f"the database file is empty (0 bytes): it was truncated or never written; "
            f"{RESTORE_HINT}",
            source=str(db_path),
        )
    if not header.startswith(SQLITE_MAGIC):
        raise ProjectError(
            "not an SQLite database (a damaged or foreign file); " + RESTORE_HINT,
            source=str(db_path),
        )
    if len(header) < 100:
        raise ProjectError(
            f"the database file is truncated ({size} bytes); {RESTORE_HINT}", source=str(db_path)
        )
    (raw_page,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if raw_page == 1 else raw_page
    if page_size < 512 or page_size & (page_size - 1):
        raise ProjectError(
            f"the database header is damaged (page size {raw_page}); {RESTORE_HINT}",
            source=str(db_path),
        )
    change, pages = struct.unpack(">II", header[24:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    # The in-header page count is trustworthy only when written by the same change.
    if pages and change == valid_for and size < pages * page_size:
        raise ProjectError(
            f"the database file is truncated ({size} bytes, its header says "
            f"{pages * page_size}); {RESTORE_HINT}",
            source=str(db_path),
        )


def check_integrity(engine: Engine, db_path: Path) -> None:
    """``PRAGMA quick_check``: every page and index entry is where SQLite expects it.

    Skipped when this exact file (by its fingerprint: ``storage/integrity_cache.py``) passed
    before; a pass is remembered only if the file did not change while it was checked.
    """
    taken_ns = time.time_ns()
    before = integrity_cache.fingerprint(db_path)
    if before is not None and integrity_cache.passed_before(db_path, before):
        return
    _quick_check(engine, db_path)
    if (before is not None and integrity_cache.settled(before, taken_ns)
            and integrity_cache.fingerprint(db_path) == before):
        integrity_cache.remember(db_path, before)


def _quick_check(engine: Engine, db_path: Path) -> None:
    with reading(engine).connect() as conn:
        problems = [str(r) for r in conn.exec_driver_sql("PRAGMA quick_check(3)").scalars()]
    if problems != ["ok"]:
        lines = [ln.strip() for ln in problems[0].splitlines() if ln.strip() and "***" not in ln]
        first = lines[0] if lines else problems[0]
        raise ProjectError(
            f"the database is damaged ({first[:160]}); {RESTORE_HINT}", source=str(db_path)
        )


def describe_db_error(exc: BaseException) -> str:
    """One line for an SQLite error (without SQLAlchemy's SQL echo and background link)."""
    orig = getattr(exc, "orig", None) or exc
    text = (str(orig).splitlines() or [type(orig).__name__])[0]
    low = text.lower()
    if isinstance(orig, sqlite3.DatabaseError):
        if "not a database" in low:
            return f"not an SQLite database (a damaged or foreign file); {RESTORE_HINT}"
        if "malformed" in low or "corrupt" in low:
            return f"the database is damaged ({text}); {RESTORE_HINT}"
        if "unable to open" in low:
            return "cannot open the database file (missing, or in a folder that cannot be read)"
        if "disk i/o" in low or "full" in low:
            return f"{text} (is the disk full or the storage failing?)"
        if "readonly" in low or "read-only" in low:
            return "the database cannot be written (read-only file, folder or disk)"
    return text[:300]
