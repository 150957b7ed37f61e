"""A ``Scheduler`` (services.grading_session) on Qt timers: each ``call_later`` its own
single-shot ``QTimer`` owned by ``owner``, so several delays run at once (a grading session's
autosave keeps its own timer; its retries while a server is unreachable use this one) and
none outlives the object that asked for it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class _Handle:
    def __init__(self, timer: QTimer) -> None:
        self._timer = timer

    def cancel(self) -> None:
        self._timer.stop()
        self._timer.deleteLater()


class QtScheduler:
    def __init__(self, owner: QObject) -> None:
        self._owner = owner

    def call_later(self, seconds: float, fn: Callable[[], None]) -> _Handle:
        timer = QTimer(self._owner)
        timer.setSingleShot(True)

        def fire() -> None:
            timer.deleteLater()
            fn()

        timer.timeout.connect(fire)
        timer.start(max(0, round(seconds * 1000)))
        return _Handle(timer)
