"""A thread for file work off the database (progress goes through ``qt.progress_relay``)."""

from __future__ import annotations

from medreview.runtime.executors import WorkExecutor


def file_worker() -> WorkExecutor:
    """One thread for package files (zip, checksums): never the database thread, whose queue
    must stay free for the screens."""
    return WorkExecutor(workers=1)
