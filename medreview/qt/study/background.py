"""Progress from worker threads to widgets, and a thread for file work off the database."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from medreview.services.tasks import WorkExecutor


class ProgressRelay(QObject):
    """A ``Progress`` callback usable from any thread: it re-emits on the main thread."""

    sig_progress = Signal(int, int, str)
    """(done, total — 0 if unknown, message), delivered queued to main-thread receivers."""

    def __call__(self, done: int, total: int | None = None, message: str = "") -> None:
        self.sig_progress.emit(int(done), int(total or 0), message)


def file_worker() -> WorkExecutor:
    """One thread for package files (zip, checksums): never the database thread, whose queue
    must stay free for the screens."""
    return WorkExecutor(workers=1)
