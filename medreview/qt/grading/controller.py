"""GradingController: the Qt face of a ``services.grading_session.GradingSession``.

The session (Qt-free, tested without a QApplication) holds the per-item draft, the debounced
autosave, retries, undo, preloading and time on task. This class gives it a runner (``Op``
owned by the controller: answers arrive on the main thread and are dropped once the controller
is closed) and a scheduler (a single-shot ``QTimer``), and turns its events into signals.
``close()`` stops the timer and every answer still on its way, so a controller left behind by
a closed project never touches its shut-down executor again.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from medreview.domain.judgment import JudgmentDraft
from medreview.qt.bridge import Op, retire
from medreview.qt.grading.busy_gate import BusyGate
from medreview.qt.timers import QtScheduler
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import grading
from medreview.services.draft_spool import DraftSpool
from medreview.services.grading_screen import TimeOnTask
from medreview.services.grading_session import GradingSession, SessionListener
from medreview.services.views import ItemView, RevisionView, SaveResult

if TYPE_CHECKING:  # the storage layer loads when a project opens, not at start-up
    from medreview.services.projects import Project

T = TypeVar("T")

AUTOSAVE_MS = 500


class _TimerHandle:
    """The session's autosave delay as the controller's one single-shot ``QTimer``."""

    def __init__(self, timer: QTimer) -> None:
        self._timer = timer

    def cancel(self) -> None:
        self._timer.stop()


class _Relay(SessionListener):
    """Session events → the controller's signals."""

    def __init__(self, owner: GradingController) -> None:
        self._c = owner

    def item_loaded(self, item: ItemView) -> None:
        self._c.sig_item_loaded.emit(item)
        self._c.item_shown()

    def preloaded(self, item: ItemView) -> None:
        self._c.sig_preloaded.emit(item)

    def draft_changed(self, draft: JudgmentDraft) -> None:
        self._c.sig_draft_changed.emit(draft)

    def draft_replaced(self, draft: JudgmentDraft) -> None:
        self._c.sig_draft_replaced.emit(draft)

    def save_state(self, state: str, message: str) -> None:
        self._c.sig_save_state.emit(state, message)

    def saved(self, output_id: int, result: SaveResult, draft: JudgmentDraft) -> None:
        self._c.sig_saved.emit(output_id, result, draft)

    def load_failed(self, message: str) -> None:
        self._c.item_shown()
        self._c.sig_load_failed.emit(message)

    def refused(self, message: str) -> None:
        self._c.sig_refused.emit(message)


class GradingController(QObject):
    sig_item_loaded = Signal(object)
    """The ``ItemView`` now being graded (its draft is ``controller.draft``)."""
    sig_preloaded = Signal(object)
    """An ``ItemView`` fetched ahead of the rater (not shown yet)."""
    sig_draft_changed = Signal(object)
    """The current ``JudgmentDraft`` after an edit or an undo."""
    sig_draft_replaced = Signal(object)
    """The draft was replaced from the database (undo): widgets must show it."""
    sig_save_state = Signal(str, str)
    """(state, message): state is "dirty", "saving", "saved" or "error"."""
    sig_saved = Signal(int, object, object)
    """(output id, ``SaveResult``, the draft that was saved) after a commit."""
    sig_load_failed = Signal(str)
    """A message saying why an item could not be opened."""
    sig_refused = Signal(str)
    """An edit, save or undo refused because the project is read-only (one plain line)."""

    def __init__(self, project: Project, rater_id: int, executor: Executor,
                 bus: ChangeBus | None = None, autosave_ms: int = AUTOSAVE_MS,
                 parent: QObject | None = None, spool: DraftSpool | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.rater_id = rater_id
        self.executor = executor
        self.bus = bus or ChangeBus()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(autosave_ms)
        self._on_timeout: Callable[[], None] | None = None
        self.timer.timeout.connect(self._on_timer_timeout)
        # Saves and preloads wait while "next" puts an item on screen (busy_gate.py).
        self.gate = BusyGate()
        self._awaiting: int | None = None  # the item being loaded for the screen
        self.session = GradingSession(project, rater_id, self._run, self, self.bus,
                                      _Relay(self), autosave_s=autosave_ms / 1000,
                                      initiator=self, retry_scheduler=QtScheduler(self),
                                      spool=spool, background_gate=self.gate.wait)

    # the session's runner and scheduler ------------------------------------------------------
    def _run(self, call: Callable[[], T], on_success: Callable[[T], None],
             on_failure: Callable[[BaseException], None]) -> cf.Future[T]:
        return Op(self, call).success(on_success).failure(on_failure).run(self.executor)

    def call_later(self, seconds: float, fn: Callable[[], None]) -> _TimerHandle:
        self._on_timeout = fn
        self.timer.start(round(seconds * 1000))
        return _TimerHandle(self.timer)

    def _on_timer_timeout(self) -> None:
        fn, self._on_timeout = self._on_timeout, None
        if fn is not None:
            fn()

    # the busy gate ---------------------------------------------------------------------------
    def _hold_for_screen(self) -> None:
        """Background work waits until what this event does is on screen: released by a
        zero timer (after the show and its layout) unless an item is still loading."""
        self.gate.hold()
        QTimer.singleShot(0, self._release_gate)

    def _release_gate(self) -> None:
        if self._awaiting is None:
            self.gate.release()

    def item_shown(self) -> None:
        """The item asked for is shown (or could not be loaded): release after its layout."""
        self._awaiting = None
        QTimer.singleShot(0, self._release_gate)

    # state, read from the session ------------------------------------------------------------
    @property
    def item(self) -> ItemView | None:
        return self.session.item

    @item.setter
    def item(self, item: ItemView | None) -> None:
        self.session.item = item

    @property
    def draft(self) -> JudgmentDraft:
        return self.session.draft

    @property
    def status(self) -> str:
        return self.session.status

    @property
    def revision_no(self) -> int:
        return self.session.revision_no

    @property
    def dirty(self) -> bool:
        return self.session.dirty

    @property
    def saving(self) -> bool:
        return self.session.saving

    @property
    def guideline_version(self) -> int | None:
        """The grading guidelines versions shown beside the panel, the rubric's and the
        taxonomy's as one number (``domain.guideline_versions``), recorded with each save."""
        return self.session.guideline_version

    @guideline_version.setter
    def guideline_version(self, version: int | None) -> None:
        self.session.guideline_version = version

    @property
    def partner_id(self) -> int | None:
        return self.session.partner_id

    @property
    def read_only_reason(self) -> str | None:
        return self.session.read_only_reason

    @property
    def time(self) -> TimeOnTask:
        return self.session.time

    @property
    def closed(self) -> bool:
        return self.session.closed

    # actions, handed to the session ----------------------------------------------------------
    def open_item(self, output_id: int) -> None:
        self._hold_for_screen()
        self.session.open_item(output_id)
        item = self.session.item
        if item is None or item.output_id != output_id:
            self._awaiting = output_id  # loading: released when it is shown

    def preload(self, output_id: int) -> None:
        self.session.preload(output_id)

    def set_partner(self, output_id: int) -> None:
        self.session.set_partner(output_id)

    def set_answer(self, question_id: str, value: Any) -> None:
        self.session.set_answer(question_id, value)

    def set_rationale(self, text: str) -> None:
        self.session.set_rationale(text)

    def set_confidence(self, value: float | None) -> None:
        self.session.set_confidence(value)

    def set_flag(self, on: bool) -> None:
        self.session.set_flag(on)

    def add_annotation(self, annotation: Any) -> None:
        self.session.add_annotation(annotation)

    def replace_annotation(self, index: int, annotation: Any) -> None:
        self.session.replace_annotation(index, annotation)

    def remove_annotation(self, index: int) -> None:
        self.session.remove_annotation(index)

    def missing(self) -> list[str]:
        return self.session.missing()

    def score(self) -> float | None:
        return self.session.score()

    def save(self, status: str | None = None) -> cf.Future[SaveResult] | None:
        return self.session.save(status)

    def flush(self) -> None:
        """Save now if anything changed (before navigating away)."""
        self.session.flush()

    def flush_blocking(self, timeout: float = 30.0) -> None:
        """Save and wait for the commit (only where the app must not go on before it: the
        window closing)."""
        self._awaiting = None
        self.gate.release()  # nothing is shown any more: the save must not wait
        future = self.session.save() if self.session.unsaved else None
        if future is not None:
            future.result(timeout)
        drain = getattr(self.executor, "drain", None)
        if drain is not None:
            drain()

    def complete(self) -> tuple[bool, list[str]]:
        self._hold_for_screen()  # the next item is about to be shown
        return self.session.complete()

    def skip(self) -> None:
        self._hold_for_screen()  # the next item is about to be shown
        self.session.skip()

    def undo(self) -> None:
        self.session.undo()

    def history(self) -> cf.Future[list[RevisionView]]:
        """The item's revisions as a future (for callers that may wait, like screenshots)."""
        assert self.item is not None
        self.session.flush()
        return self.executor.submit(grading.history, self.project, self.rater_id,
                                    self.item.output_id)

    def history_async(self, on_done: Callable[[list[RevisionView]], None],
                      on_failure: Callable[[BaseException], None] | None = None) -> None:
        """The item's revisions, delivered on the main thread after pending saves."""
        self.session.history(on_done, on_failure)

    def close(self) -> list[cf.Future[SaveResult]]:
        """Save what is unsaved, stop the autosave timer and drop every answer still coming.
        Returns the saves still on their way."""
        self._awaiting = None
        self.gate.release()
        pending = self.session.close()
        self.timer.stop()
        self._on_timeout = None
        retire(self)
        return pending
