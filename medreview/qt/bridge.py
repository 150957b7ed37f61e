"""Deliver executor results to the main thread (Anki's ``run_on_main`` and ``CollectionOp``).

``Op(fn, *args).success(cb).failure(cb).run(executor)`` submits ``fn`` to an executor (the
database thread in the app, inline in tests) and calls ``cb`` on the Qt main thread through a
queued signal, so callbacks may touch widgets and emit on the ChangeBus. ``MessageRelay``
carries progress lines a worker reports while it runs (a save waiting for another writer).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from medreview.services.tasks import Executor

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Bridge(QObject):
    sig_call = Signal(object)
    """Emitted with a zero-argument callable to run on the thread that owns the bridge."""

    def __init__(self) -> None:
        super().__init__()
        # Queued even when emitted from the main thread: callbacks never re-enter the caller.
        self.sig_call.connect(self._on_call, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _on_call(self, fn: Callable[[], None]) -> None:
        fn()


_bridge: _Bridge | None = None


def bridge() -> _Bridge:
    global _bridge
    if _bridge is None:
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("create the QApplication before using the bridge")
        _bridge = _Bridge()
        _bridge.moveToThread(app.thread())
    return _bridge


def run_on_main(fn: Callable[[], None]) -> None:
    bridge().sig_call.emit(fn)


class MessageRelay(QObject):
    """Lines posted from any thread (the database thread's "waiting for another writer…"),
    delivered by ``sig_message`` on the thread this object lives on (queued across threads)."""

    sig_message = Signal(str)

    def post(self, text: str) -> None:
        if shiboken6.isValid(self):  # its window may be gone while a worker still reports
            self.sig_message.emit(text)


class Op(Generic[T]):
    """One call to run off the main thread with main-thread completion callbacks."""

    def __init__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> None:
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._owner: QObject | None = None

    def owned_by(self, owner: QObject) -> Op[T]:
        """Drop the callbacks if ``owner`` (a window or dialog) is deleted before the result
        arrives: a screen closed while its query ran must not be touched afterwards."""
        self._owner = owner
        return self

    def success(self, cb: Callable[[T], None]) -> Op[T]:
        self._success = cb
        return self

    def failure(self, cb: Callable[[BaseException], None]) -> Op[T]:
        self._failure = cb
        return self

    def run(self, executor: Executor) -> cf.Future[T]:
        b = bridge()  # created here, on the main thread, before any worker needs it
        try:
            future = executor.submit(self._fn, *self._args, **self._kwargs)
        except RuntimeError:
            # The project closed (its executor shut down) while a screen still reacted to an
            # earlier result: there is nothing left to run this on, and no one to tell.
            log.debug("dropping %s: its project is closed", self._fn)
            dropped: cf.Future[T] = cf.Future()
            dropped.cancel()
            return dropped

        def deliver(f: cf.Future[T]) -> None:
            b.sig_call.emit(lambda: self._finish(f))

        future.add_done_callback(deliver)
        return future

    def _alive(self) -> bool:
        owners = [self._owner] if self._owner is not None else [
            getattr(cb, "__self__", None) for cb in (self._success, self._failure)]
        return all(shiboken6.isValid(o) for o in owners if isinstance(o, QObject))

    def _finish(self, f: cf.Future[T]) -> None:
        if not self._alive():
            log.debug("dropping the result of %s: its screen is gone", self._fn)
            return
        exc = f.exception()
        if exc is not None:
            if self._failure is not None:
                self._failure(exc)
            else:
                log.error("background operation failed", exc_info=exc)
            return
        if self._success is not None:
            self._success(f.result())
