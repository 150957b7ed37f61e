"""Remember which database files passed ``PRAGMA quick_check``, so an unchanged file is not
scanned again on every open (2.5-8 s at 1M judgments, for every command).

A pass is remembered by the file's fingerprint: device, inode, size, mtime and ctime (in ns)
of ``project.sqlite`` and of a non-empty ``-wal``, plus a digest of the 100-byte header. Any
write, by SQLite or by anything else, changes mtime and ctime; ``os.utime`` can put mtime
back but sets ctime to now (POSIX). The next open then runs the full check again. A file
touched within ``RACY_NS`` of the moment it was fingerprinted is not remembered: a second
write in the same timestamp tick (1-2 s on FAT, HFS+ and some shares) would not show.

The record lives in the user's cache folder, never in the project: one small JSON file,
keyed by the database's real path, at most ``MAX_ENTRIES`` entries and ``MAX_BYTES`` bytes,
replaced atomically. It is only ever a hint: a file that is missing, too big, a symlink, not
a regular file, or not exactly the expected shape is ignored, and an entry can skip the check
only for the exact fingerprint it names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path

CACHE_NAME = "integrity-checks.json"
VERSION = 1
MAX_BYTES = 64 * 1024
MAX_ENTRIES = 64
RACY_NS = 3_000_000_000  # wider than the coarsest mtime tick (FAT: 2 s)

Fingerprint = list[object]


def _stat_row(path: Path) -> list[int]:
    s = os.stat(path)
    return [s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns]


def fingerprint(db_path: Path) -> Fingerprint | None:
    """The database file's fingerprint, or None when it cannot be taken (then nothing is
    remembered or skipped). An empty or absent ``-wal`` holds nothing: both count as none."""
    try:
        db = _stat_row(db_path)
        with db_path.open("rb") as fh:
            header = hashlib.sha256(fh.read(100)).hexdigest()
        wal_path = Path(f"{db_path}-wal")
        wal = _stat_row(wal_path) if wal_path.exists() else None
    except OSError:
        return None
    if wal is not None and wal[2] == 0:
        wal = None
    return [db, header, wal]


def settled(fp: Fingerprint, now_ns: int | None = None) -> bool:
    """True when no timestamp in ``fp`` is within ``RACY_NS`` of now (or in the future)."""
    now = time.time_ns() if now_ns is None else now_ns
    rows = [r for r in (fp[0], fp[2]) if isinstance(r, list)]
    return all(now - max(r[3], r[4]) > RACY_NS for r in rows)


def _cache_file() -> Path | None:
    try:
        from medreview.paths import user_cache_dir

        return user_cache_dir() / CACHE_NAME
    except OSError:
        return None


def _read_entries(path: Path) -> list[list[object]]:
    """The cache's entries ``[key, fingerprint]``, or [] for anything unexpected."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if path.is_symlink():  # O_NOFOLLOW does not exist on Windows
            return []
        fd = os.open(path, flags)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device would block or never end
            return []
        raw = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        return []
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested 60,000 deep
        return []
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return []
    entries = data.get("entries")
    if not isinstance(entries, list):
        return []
    return [e for e in entries[-MAX_ENTRIES:]
            if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str)]


def _key(db_path: Path) -> str:
    return os.path.realpath(db_path)


def passed_before(db_path: Path, fp: Fingerprint) -> bool:
    """Did this exact fingerprint of ``db_path`` pass the check before?"""
    path = _cache_file()
    if path is None:
        return False
    key = _key(db_path)
    # JSON gives back lists, ints and strings: equality with a fresh fingerprint is exact.
    return any(k == key and v == fp for k, v in _read_entries(path))


def remember(db_path: Path, fp: Fingerprint) -> None:
    """Record that ``fp`` passed (replacing this file's older entry); never raises."""
    path = _cache_file()
    if path is None:
        return
    key = _key(db_path)
    entries = [e for e in _read_entries(path) if e[0] != key]
    entries.append([key, fp])
    while entries:
        text = json.dumps({"version": VERSION, "entries": entries[-MAX_ENTRIES:]})
        if len(text.encode()) <= MAX_BYTES:
            break
        entries = entries[1:]  # a very long path: drop the oldest until it fits
    else:
        return
    _write_atomically(path, text)


def _write_atomically(path: Path, text: str) -> None:
    """A sibling temporary file renamed over the cache: readers see the old or the new file
    whole, and a symlink at ``path`` is replaced, never followed."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".integrity-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
