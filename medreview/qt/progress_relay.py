"""ProgressRelay: a ``Progress`` callback for worker threads that reports on the UI thread.

The core calls progress as often as it likes (per record, per item); the relay forwards at most
about twenty reports a second, always the last one, so the event loop is never flooded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from medreview.qt.bridge import run_on_main

Show = Callable[[int, "int | None", str], None]


class ProgressRelay:
    def __init__(self, show: Show, interval_s: float = 0.05) -> None:
        self._show = show
        self._interval = interval_s
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if now - self._last < self._interval and not final:
            return
        self._last = now
        run_on_main(lambda: self._show(done, total, message))
