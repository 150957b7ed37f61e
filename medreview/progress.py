"""Progress reporting and cancellation: the only concurrency notions the core knows.

Long work is a plain function taking ``progress`` and ``token``; the CLI draws a bar from it,
the Qt layer forwards it to a progress dialog from a worker thread.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Cancelled(Exception):
    """Raised inside long work when its token was cancelled."""


class Progress(Protocol):
    def __call__(self, done: int, total: int | None = None, message: str = "") -> None: ...


def no_progress(done: int, total: int | None = None, message: str = "") -> None:
    """A progress sink that ignores everything."""


class CancelToken:
    """Thread-safe cancellation flag checked by long work between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")
