"""Deliver executor results to the main thread (Anki's ``run_on_main`` and ``CollectionOp``).

``Op(owner, fn, *args).success(cb).failure(cb).run(executor)`` submits ``fn`` to an executor
(the database thread in the app, inline in tests) and calls ``cb`` on the Qt main thread
through a queued signal, so callbacks may touch widgets; nothing reaches an ``owner`` that was
closed meanwhile, ``.emits(bus)`` publishes the result's change-set and ``.latest()`` keeps
only the newest answer of a repeated query. ``MessageRelay``
carries progress lines a worker reports while it runs (a save waiting for another writer).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from medreview.domain.changes import Changes
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor

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


_EPOCH = "medreview_op_epoch"
_LATEST = "medreview_op_latest:"


def _epoch(owner: QObject) -> int:
    value = owner.property(_EPOCH)
    return int(value) if value is not None else 0


def retire(owner: QObject) -> None:
    """Drop every result still on its way to ``owner``: its screen closed (a dialog finished,
    a controller whose project closed) even if the object itself lives on a little longer."""
    if shiboken6.isValid(owner):
        owner.setProperty(_EPOCH, _epoch(owner) + 1)


def run_modal(dialog: Any) -> None:
    """Run a project's modal dialog (a QDialog); once it is closed, answers still on their way
    to it are dropped (what they changed reaches the other screens through the bus)."""
    dialog.exec()
    retire(dialog)
    # Not kept as a child of the window: a finished AssignDialog left there until exit made
    # Qt abort at shutdown ("shared QObject was deleted directly", then a heap error).
    dialog.deleteLater()


class Op(Generic[T]):
    """One call to run off the main thread with main-thread completion callbacks.

    ``Op(owner, fn, *args)``: callbacks run only while ``owner`` (the screen that asked) is
    alive and was not closed since the call started: deleted, or ``retire(owner)``-ed (a
    dialog that finished, the tool windows and the grading controller of a closed project).
    ``emits(bus)`` sends the result's change-set to the bus (even when the screen is gone:
    the database changed all the same); ``latest(key)`` delivers only the
    newest of repeated calls with that key. The older form ``Op(fn, *args)`` (optionally
    ``.owned_by(owner)``) guards bound-method callbacks only.
    """

    @overload
    def __init__(self, owner_or_fn: QObject, fn: Callable[..., T], /, *args: Any,
                 **kwargs: Any) -> None: ...

    @overload
    def __init__(self, owner_or_fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> None: ...

    def __init__(self, owner_or_fn: QObject | Callable[..., T], /, *args: Any,
                 **kwargs: Any) -> None:
        if isinstance(owner_or_fn, QObject):
            self._owner: QObject | None = owner_or_fn
            self._fn: Callable[..., T] = args[0]
            args = args[1:]
        else:
            self._owner = None
            self._fn = owner_or_fn
        self._args = args
        self._kwargs = kwargs
        self._success: Callable[[T], None] | None = None
        self._failure: Callable[[BaseException], None] | None = None
        self._bus: ChangeBus | None = None
        self._changes_of: Callable[[T], Changes] | None = None
        self._latest: str | None = None
        self._epoch = 0
        self._seq = 0

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

    def emits(self, bus: ChangeBus, changes: Callable[[T], Changes] | None = None) -> Op[T]:
        """After success, emit the result's ``Changes`` on ``bus`` with the owner as initiator
        (``changes`` picks them from the result; by default the result itself or its
        ``.changes``)."""
        self._bus = bus
        self._changes_of = changes
        return self

    def latest(self, key: str = "") -> Op[T]:
        """Only the newest call with this key (per owner) delivers; older answers are dropped."""
        self._latest = key
        return self

    def run(self, executor: Executor) -> cf.Future[T]:
        b = bridge()  # created here, on the main thread, before any worker needs it
        owner = self._owner
        if owner is not None:
            self._epoch = _epoch(owner)
            if self._latest is not None:
                name = _LATEST + self._latest
                self._seq = int(owner.property(name) or 0) + 1
                owner.setProperty(name, self._seq)
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
        owner = self._owner
        if owner is None:
            owners = [getattr(cb, "__self__", None) for cb in (self._success, self._failure)]
            return all(shiboken6.isValid(o) for o in owners if isinstance(o, QObject))
        if not shiboken6.isValid(owner) or _epoch(owner) != self._epoch:
            return False
        if self._latest is not None:
            return int(owner.property(_LATEST + self._latest) or 0) == self._seq
        return True

    def _finish(self, f: cf.Future[T]) -> None:
        alive = self._alive()
        exc = f.exception()
        if exc is None and alive and self._success is not None:
            self._success(f.result())
        if exc is None and self._bus is not None:
            self._emit(f.result(), alive)
        if not alive:
            log.debug("dropping the result of %s: its screen is gone", self._fn)
            return
        if exc is not None:
            if self._failure is not None:
                self._failure(exc)
            else:
                log.error("background operation failed", exc_info=exc)

    def _emit(self, result: T, alive: bool) -> None:
        assert self._bus is not None
        if self._changes_of is not None:
            changes: object = self._changes_of(result)
        elif isinstance(result, Changes):
            changes = result
        else:
            changes = getattr(result, "changes", None)
        if isinstance(changes, Changes):
            self._bus.emit(changes, self._owner if alive else None)
