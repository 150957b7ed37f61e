"""GradingController: the per-item draft, debounced autosave, undo, preloading and time on task.

Every edit updates the draft at once and restarts a single-shot autosave timer; navigation and
"save and next" save at once. Saves run on the database executor and report back through the
bridge; "Saved" is announced only after the commit returned. A save may be submitted while
another is in flight: the database executor runs them in order, so the newest state always
lands last, and leaving an item never waits for (or drops) a pending save.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import QuestionKind
from medreview.qt.bridge import Op
from medreview.services import grading
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project
from medreview.services.tasks import Executor
from medreview.services.views import ItemView, SaveResult
from medreview.services.workspace import TimeOnTask, live_score, missing_for, with_comparison

AUTOSAVE_MS = 500
PRELOAD_LIMIT = 8


class GradingController(QObject):
    sig_item_loaded = Signal(object)
    """The ``ItemView`` now being graded (its draft is ``controller.draft``)."""
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
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.rater_id = rater_id
        self.executor = executor
        self.bus = bus or ChangeBus()
        self.item: ItemView | None = None
        self.partner_id: int | None = None
        self.draft = JudgmentDraft()
        self.status = "todo"
        self.revision_no = 0
        self.dirty = False
        self._pending_saves = 0
        self._retry: dict[int, tuple[JudgmentDraft, str]] = {}  # failed saves of other items
        self._generation = 0
        self._cache: dict[int, ItemView] = {}
        self._inflight: set[int] = set()
        # A read-only project is browsed: edits are refused here, before the draft changes.
        self.read_only_reason: str | None = project.read_only_reason
        self.time = TimeOnTask()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(autosave_ms)
        self.timer.timeout.connect(self._on_timer_timeout)

    # loading ----------------------------------------------------------------------------------
    def open_item(self, output_id: int) -> None:
        """Save the current item if it changed and show ``output_id`` (from the preload cache
        when it is there)."""
        if self.item is not None and self.item.output_id == output_id:
            return
        gen = self._generation + 1
        cached = self._cache.pop(output_id, None)
        if cached is None:
            # The load goes first: it does not depend on the save of the item being left,
            # and a later visit back to that item is queued behind its save anyway.
            Op(grading.load_item, self.project, self.rater_id, output_id) \
                .success(lambda item: self._on_item_loaded(gen, item)) \
                .failure(lambda exc: self._on_load_failed(gen, exc)).run(self.executor)
        self.flush()  # still under the old generation: a failure is kept for retry
        self._generation = gen
        if cached is not None:
            self._on_item_loaded(gen, cached)

    def preload(self, output_id: int) -> None:
        """Fetch an item in the background so opening it next is instant."""
        if (output_id in self._cache or output_id in self._inflight
                or (self.item is not None and self.item.output_id == output_id)):
            return
        self._inflight.add(output_id)

        def store(item: ItemView) -> None:
            self._inflight.discard(output_id)
            if len(self._cache) >= PRELOAD_LIMIT:
                self._cache.pop(next(iter(self._cache)))
            self._cache[output_id] = item

        Op(grading.load_item, self.project, self.rater_id, output_id).success(store) \
            .failure(lambda _exc: self._inflight.discard(output_id)).run(self.executor)

    def _on_item_loaded(self, gen: int, item: ItemView) -> None:
        if gen != self._generation:
            return  # a newer request won; drop this stale answer
        self.item = item
        self.partner_id = None
        self.draft = item.draft or JudgmentDraft()
        self.status = item.status
        self.revision_no = item.revision_no
        self.dirty = False
        self.time = TimeOnTask(base=self.draft.time_on_task_s)
        self.time.start()
        self.sig_item_loaded.emit(item)
        self.sig_draft_changed.emit(self.draft)
        if self._retry:  # never let a fresh item hide that an earlier one is unsaved
            self.sig_save_state.emit("error", f"NOT saved: {len(self._retry)} earlier item(s); "
                                     "retrying with the next save")
        elif not self.saving:
            self.sig_save_state.emit("saved", self._saved_text())

    def _on_load_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.sig_load_failed.emit(str(exc))

    # editing ----------------------------------------------------------------------------------
    def _refuse_read_only(self) -> bool:
        """True (and say why, and show the saved draft again) if nothing may be saved."""
        if self.read_only_reason is None:
            return False
        self.sig_refused.emit(f"Read-only project ({self.read_only_reason}): grades cannot be "
                              "saved here; you can browse, see statistics and export.")
        if self.item is not None:
            self.sig_draft_replaced.emit(self.draft)  # undo what the widget already shows
        return True

    def _edit(self, **changes: Any) -> None:
        if self.item is None or self._refuse_read_only():
            return
        self.draft = dataclasses.replace(self.draft, **changes)
        self.dirty = True
        self.sig_draft_changed.emit(self.draft)
        self.sig_save_state.emit("dirty", "Unsaved changes…")
        self.timer.start()

    def set_partner(self, output_id: int) -> None:
        """The other answer now shown side by side; pairwise answers record it."""
        self.partner_id = output_id

    def set_answer(self, question_id: str, value: Any) -> None:
        answers = dict(self.draft.answers)
        if value is None:
            answers.pop(question_id, None)
        else:
            answers[question_id] = value
        pairwise = self.item is not None and any(
            q.id == question_id and q.kind is QuestionKind.PAIRWISE for q in self.item.questions())
        if pairwise:
            self._edit(answers=answers, annotations=with_comparison(
                self.draft.annotations, question_id, value, self.partner_id))
            return
        self._edit(answers=answers)

    def set_rationale(self, text: str) -> None:
        if text != self.draft.rationale:
            self._edit(rationale=text)

    def set_confidence(self, value: float | None) -> None:
        self._edit(confidence=value)

    def set_flag(self, on: bool) -> None:
        self._edit(flagged=on)

    def add_annotation(self, annotation: Any) -> None:
        self._edit(annotations=(*self.draft.annotations, annotation))

    def replace_annotation(self, index: int, annotation: Any) -> None:
        notes = list(self.draft.annotations)
        if 0 <= index < len(notes) and notes[index] != annotation:
            notes[index] = annotation
            self._edit(annotations=tuple(notes))

    def remove_annotation(self, index: int) -> None:
        notes = list(self.draft.annotations)
        if 0 <= index < len(notes):
            del notes[index]
            self._edit(annotations=tuple(notes))

    # derived ----------------------------------------------------------------------------------
    def missing(self) -> list[str]:
        return missing_for(self.item, self.draft.answers) if self.item else []

    def score(self) -> float | None:
        return live_score(self.item, self.draft.answers) if self.item else None

    def _saved_text(self) -> str:
        if self.revision_no:
            return f"Saved · revision {self.revision_no}"
        return "Nothing entered yet"

    # saving -----------------------------------------------------------------------------------
    def _on_timer_timeout(self) -> None:
        if self.dirty:
            self.save()

    def _auto_status(self) -> str:
        # Editing a done item keeps it done while it stays complete.
        return "done" if self.status == "done" and not self.missing() else "draft"

    @property
    def saving(self) -> bool:
        return self._pending_saves > 0

    def save(self, status: str | None = None) -> cf.Future[SaveResult] | None:
        """Write the draft as a new revision now (``status`` None: keep draft/done as is)."""
        if self.item is None or self.read_only_reason is not None:
            return None
        status = status or self._auto_status()
        self.timer.stop()
        self._retry_failed()
        if not self.dirty and status == self.status:
            return None
        self.dirty = False
        # The stored score is decided by the core when the revision is written
        # (storage.revisions.append_revision -> domain.scoring.judgment_score); this copy, from
        # the same core rule via live_score, only keeps the draft on screen in step with it.
        draft = dataclasses.replace(self.draft, time_on_task_s=self.time.seconds,
                                    overall_score=self.score())
        self.draft = draft
        return self._submit(self.item.output_id, draft, status)

    def _submit(self, output_id: int, draft: JudgmentDraft, status: str
                ) -> cf.Future[SaveResult]:
        self._pending_saves += 1
        gen = self._generation  # which visit of the item this save belongs to
        self.sig_save_state.emit("saving", "Saving…")
        self._cache.pop(output_id, None)
        return Op(grading.save_revision, self.project, self.rater_id, output_id, draft,
                  status=status) \
            .success(lambda r: self._on_saved(output_id, draft, r)) \
            .failure(lambda exc: self._on_save_failed(gen, output_id, draft, status, exc)) \
            .run(self.executor)

    def _retry_failed(self) -> None:
        retry, self._retry = self._retry, {}
        for output_id, (draft, status) in retry.items():
            self._submit(output_id, draft, status)

    def _on_saved(self, output_id: int, draft: JudgmentDraft, result: SaveResult) -> None:
        self._pending_saves -= 1
        if self.item is not None and self.item.output_id == output_id:
            self.status = result.status
            if result.revision_no is not None:
                self.revision_no = max(self.revision_no, result.revision_no)
        if not self.saving and not self.dirty and not self._retry:
            self.sig_save_state.emit("saved", self._saved_text())
        self.sig_saved.emit(output_id, result, draft)
        self.bus.emit(result.changes, self)

    def _on_save_failed(self, gen: int, output_id: int, draft: JudgmentDraft, status: str,
                        exc: BaseException) -> None:
        self._pending_saves -= 1
        # The rater may have moved on already (the next item is loading): then the draft in
        # memory is about to be replaced, so keep the failed one aside.
        if gen == self._generation and self.item is not None \
                and self.item.output_id == output_id:
            self.dirty = True  # still unsaved: the next edit, save or navigation retries
        else:
            self._retry[output_id] = (draft, status)  # keep it until a save succeeds
        self.sig_save_state.emit("error", f"NOT saved: {exc}")

    def flush(self) -> None:
        """Save now if anything changed (before navigating away)."""
        if self.dirty:
            self.save()

    def flush_blocking(self, timeout: float = 30.0) -> None:
        """Save and wait for the commit (closing the window or the project)."""
        future = self.save() if (self.dirty or self._retry) else None
        if future is not None:
            future.result(timeout)
        drain = getattr(self.executor, "drain", None)
        if drain is not None:
            drain()

    def complete(self) -> tuple[bool, list[str]]:
        """Save as done if every required question is answered; else save as draft and
        return the missing question ids (the item does not count as done)."""
        if self._refuse_read_only():
            return True, []  # browsing: move on, nothing to save
        missing = self.missing()
        if missing:
            self.save("draft")
            return False, missing
        if self.draft.skipped:
            self.draft = dataclasses.replace(self.draft, skipped=False)
            self.dirty = True
        self.save("done")
        return True, []

    def skip(self) -> None:
        if self.item is None or self._refuse_read_only():
            return
        self.draft = dataclasses.replace(self.draft, skipped=True)
        self.dirty = True
        self.save("skipped")

    def undo(self) -> None:
        """Undo the newest save of this item (unsaved edits are saved first, then undone)."""
        if self.item is None or self._refuse_read_only():
            return
        self.flush()
        output_id = self.item.output_id
        gen = self._generation
        self.sig_save_state.emit("saving", "Undoing…")
        Op(grading.undo_last, self.project, self.rater_id, output_id) \
            .success(lambda res: self._on_undone(gen, output_id, res)) \
            .failure(lambda exc: self.sig_save_state.emit("error", f"Undo failed: {exc}")) \
            .run(self.executor)

    def _on_undone(self, gen: int, output_id: int,
                   res: tuple[SaveResult, JudgmentDraft | None]) -> None:
        result, draft = res
        if gen != self._generation or draft is None:
            self.sig_save_state.emit("saved", "Nothing to undo" if draft is None
                                     else self._saved_text())
            return
        self.draft = draft
        self.status = result.status
        self.dirty = False
        if result.revision_no is not None:
            self.revision_no = result.revision_no
        self.sig_draft_replaced.emit(draft)
        self.sig_draft_changed.emit(draft)
        self.sig_save_state.emit("saved", f"Undone · {self._saved_text()}")
        self.sig_saved.emit(output_id, result, draft)
        self.bus.emit(result.changes, self)

    def history(self) -> cf.Future[list[Any]]:
        assert self.item is not None
        return self.executor.submit(grading.history, self.project, self.rater_id,
                                    self.item.output_id)
