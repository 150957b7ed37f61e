"""ProgressRelay: the one ``Progress`` callback for worker threads that reports on the UI thread.

The core calls progress as often as it likes (per record, per item) from any thread; the relay
forwards at most about twenty reports a second (a final report, ``done >= total``, or a new
message always passes), and delivers them on the thread the relay lives on (the main thread):
as ``sig_progress(done, total or 0, message)`` and, if given, to ``show(done, total, message)``.
Give it a parent (the dialog): once that is gone, reports still arriving are dropped.
``show_progress`` / ``show_busy`` put reports on a ``QProgressBar`` the same way everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QProgressBar

Show = Callable[[int, "int | None", str], None]


class ProgressRelay(QObject):
    sig_progress = Signal(int, int, str)
    """(done, total — 0 if unknown, message), on the relay's thread."""
    _sig_report = Signal(object, object, str)  # (done, total or None, message), across threads

    def __init__(self, show: Show | None = None, parent: QObject | None = None,
                 interval_s: float = 0.05) -> None:
        super().__init__(parent)
        self._show = show
        self._interval = interval_s
        self._last = 0.0
        self._message = ""
        self._lock = threading.Lock()  # a core function may report from several workers
        self._sig_report.connect(self._deliver)

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        with self._lock:
            if now - self._last < self._interval and not final and message == self._message:
                return
            self._last = now
            self._message = message
        try:
            if shiboken6.isValid(self):
                self._sig_report.emit(done, total, message)
        except RuntimeError:  # deleted between the check and the emit: nobody to tell
            pass

    @Slot(object, object, str)
    def _deliver(self, done: int, total: int | None, message: str) -> None:
        if self._show is not None:
            self._show(done, total, message)
        self.sig_progress.emit(int(done), int(total or 0), message)


def show_progress(bar: QProgressBar, done: int, total: int | None, text: str) -> None:
    """Put a report on ``bar``: a known total moves the bar (an unknown one leaves it as it
    was, busy or not), ``text`` is its format (``%v``, ``%m``, ``%p`` allowed)."""
    if total:
        bar.setRange(0, total)
        bar.setValue(min(done, total))
    bar.setFormat(text)


def show_busy(bar: QProgressBar, text: str = "") -> None:
    """A bar that moves without a total, until the first report with one."""
    bar.setRange(0, 0)
    bar.setFormat(text)
