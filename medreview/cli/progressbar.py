"""A dependency-free progress bar on stderr, usable as a ``medreview.progress.Progress``."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws ``label [#####.....] done/total message`` at most 10 times a second.

    On a non-terminal stream (CI logs, pipes) it prints a plain line every few seconds instead.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last = 0.0
        self._drawn = False
        self._start = time.monotonic()

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        now = time.monotonic()
        interval = 0.1 if self.tty else 5.0
        final = total is not None and done >= total
        if not final and now - self._last < interval:
            return
        self._last = now
        elapsed = now - self._start
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            text = f"{self.label} [{bar}] {done}/{total} {message} ({elapsed:.0f}s)"
        else:
            text = f"{self.label} {done} {message} ({elapsed:.0f}s)"
        if self.tty:
            self.stream.write("\r" + text[:200].ljust(80))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
