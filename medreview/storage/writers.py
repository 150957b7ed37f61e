"""Small notes in ``<project>/.writers/`` so writers can say who holds the project and queue.

SQLite's write lock says neither who holds it nor who waits, and its busy handler polls: a
writer that commits in batches and begins again at once would starve a waiter. So:
- a long writer (an import, a judge run) leaves ``hold-<pid>-<n>.json`` naming what it does;
  a waiter's message quotes it ("waiting for another writer (import of a.jsonl, pid 41)…");
- a waiter leaves ``wait-<pid>-<thread>``; a batch writer that sees one after a commit pauses
  briefly so the waiter gets the lock first.
Notes are hints: a note of a dead process is ignored, and a folder that cannot be written
(read-only project) simply has none.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from medreview.processes import pid_alive

NOTES_DIR = ".writers"
_counter = itertools.count(1)


def _pid_of(name: str) -> int | None:
    parts = name.split("-")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


class WriterNotes:
    def __init__(self, folder: Path) -> None:
        self.dir = folder / NOTES_DIR

    def _entries(self, prefix: str) -> list[Path]:
        try:
            return [p for p in self.dir.iterdir() if p.name.startswith(prefix)]
        except OSError:
            return []

    def _write(self, path: Path, text: str) -> bool:
        try:
            self.dir.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError:
            return False
        return True

    @contextlib.contextmanager
    def hold(self, what: str) -> Iterator[None]:
        """Say "``what`` is writing" while the block runs."""
        path = self.dir / f"hold-{os.getpid()}-{next(_counter)}.json"
        note = {"pid": os.getpid(), "thread": threading.get_ident(), "what": what}
        written = self._write(path, json.dumps(note))
        try:
            yield
        finally:
            if written:
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.dir.rmdir()  # only when empty: no stray folder in the project

    def holder(self) -> str | None:
        """What the other live long writers say they do, e.g. ``import of a.jsonl, pid 41``."""
        found = []
        for path in sorted(self._entries("hold-")):
            pid = _pid_of(path.name)
            if pid is None or not pid_alive(pid):
                continue
            try:
                note = json.loads(path.read_text(encoding="utf-8"))
                what = str(note["what"])[:200]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if pid == os.getpid() and note.get("thread") == threading.get_ident():
                continue  # this very writer
            found.append(what if pid == os.getpid() else f"{what}, pid {pid}")
        return "; ".join(found) or None

    def _wait_path(self) -> Path:
        return self.dir / f"wait-{os.getpid()}-{threading.get_ident()}"

    def start_waiting(self) -> None:
        self._write(self._wait_path(), "")

    def stop_waiting(self) -> None:
        with contextlib.suppress(OSError):
            self._wait_path().unlink(missing_ok=True)
            self.dir.rmdir()

    def others_waiting(self) -> bool:
        mine = self._wait_path().name
        return any(
            p.name != mine and (pid := _pid_of(p.name)) is not None and pid_alive(pid)
            for p in self._entries("wait-")
        )

    def yield_to_waiters(self, max_s: float = 0.3) -> None:
        """After a commit: give a waiting writer the lock before taking it again."""
        deadline = time.monotonic() + max_s
        while self.others_waiting() and time.monotonic() < deadline:
            time.sleep(0.01)
