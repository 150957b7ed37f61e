"""A size budget for the local copies of a server project's media.

Viewers and exporters read files, so a server project's blobs are copied into a per-user cache
folder on first read (``storage/server_media``). Without a bound, a reader paging through a
large study fills the laptop's disk. The cache keeps its total under a budget
(``MEDREVIEW_MEDIA_CACHE_MB``, default 2048 MB) by removing the least recently used copies
(last use = the file's modification time, refreshed on every hit), down to 90 % of the budget
so that one prune pays for several fetches. A copy removed while a viewer still has it open is
harmless: POSIX keeps the open file; Windows refuses the removal, and the copy simply stays.

Every copy is verified against its name when it is used, so the cache holds nothing the
database cannot give again.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

DEFAULT_BUDGET_MB = 2048
LOW_WATER = 0.9


def budget_from_env() -> int:
    """The budget in bytes: ``MEDREVIEW_MEDIA_CACHE_MB`` if it is a positive whole number."""
    raw = os.environ.get("MEDREVIEW_MEDIA_CACHE_MB", "")
    try:
        mb = int(raw)
    except ValueError:
        mb = DEFAULT_BUDGET_MB
    return (mb if mb > 0 else DEFAULT_BUDGET_MB) << 20


class MediaCache:
    """The cache folder's bookkeeping: one scan on first use, then a running total."""

    def __init__(self, folder: Path, budget: int | None = None) -> None:
        self.folder = folder
        self.budget = budget if budget is not None else budget_from_env()
        self._total: int | None = None
        self._lock = threading.Lock()

    def used(self, path: Path) -> None:
        """A cached copy was read: it becomes the most recently used."""
        with contextlib.suppress(OSError):
            os.utime(path)

    def added(self, path: Path) -> None:
        """A copy was written into the cache: count it, and prune if over budget (never the
        copy just added)."""
        with self._lock:
            if self._total is None:
                self._total = sum(size for _, _, size in self._entries())
            else:
                with contextlib.suppress(OSError):
                    self._total += path.stat().st_size
            if self._total > self.budget:
                self._prune(keep=path)

    def total(self) -> int:
        with self._lock:
            self._total = sum(size for _, _, size in self._entries())
            return self._total

    def _entries(self) -> list[tuple[float, Path, int]]:
        out: list[tuple[float, Path, int]] = []
        if not self.folder.is_dir():
            return out
        for sub in self.folder.iterdir():
            if not sub.is_dir() or sub.is_symlink():
                continue
            for f in sub.iterdir():
                if f.name.startswith(".incoming-"):
                    continue  # another reader's fetch in progress
                with contextlib.suppress(OSError):
                    st = f.lstat()
                    if f.is_file() and not f.is_symlink():
                        out.append((st.st_mtime, f, st.st_size))
        return out

    def _prune(self, keep: Path) -> None:
        entries = sorted(self._entries(), key=lambda e: e[0])  # least recently used first
        total = sum(size for _, _, size in entries)
        target = int(self.budget * LOW_WATER)
        for _, f, size in entries:
            if total <= target:
                break
            if f == keep:
                continue
            try:
                f.unlink()
            except OSError:
                continue  # in use (Windows) or gone already
            total -= size
        self._total = total
