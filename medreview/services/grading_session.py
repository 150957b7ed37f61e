"""GradingSession: one rater grading one project, without Qt.

The state machine the grading screen drives: the current item and its draft, a debounced
autosave, saves that may fail and are retried with the next save, a generation counter so a
late answer for an item the rater already left is dropped, preloading, undo, and time on task.
It owns no thread and no timer: a ``Runner`` runs service calls (off the UI thread in the app,
inline or by hand in tests) and calls back on the caller's thread, and a ``Scheduler`` starts
the autosave delay. ``close()`` cancels the delay and makes every later answer a no-op, so an
old session can never act on a project that has been closed.

Every change-set a save or an undo returns goes to the ``ChangeBus`` with ``initiator``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import QuestionKind
from medreview.runtime.bus import ChangeBus
from medreview.services import grading
from medreview.services.draft_spool import (
    DraftSpool,
    SpooledSave,
    is_connection_lost,
    new_uid,
    spool_for,
)
from medreview.services.grading_screen import TimeOnTask, live_score, missing_for, with_comparison
from medreview.services.views import ItemView, RevisionView, SaveResult

if TYPE_CHECKING:  # the storage layer is imported by the first service call, not here
    from medreview.services.projects import Project

T = TypeVar("T")

AUTOSAVE_S = 0.5
PRELOAD_LIMIT = 8
# A server that went away: saves are held (and kept in the draft spool) and tried again after
# 1, 2, 4… up to 30 s, off the UI thread (the runner's), until one lands.
UNREACHABLE = "server unreachable — your answers are kept and will be saved when it returns"
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0


class Runner(Protocol):
    """Run ``call`` somewhere, then ``on_success(result)`` or ``on_failure(exc)`` back on the
    caller's thread; returns the call's future."""

    def __call__(self, call: Callable[[], T], on_success: Callable[[T], None],
                 on_failure: Callable[[BaseException], None]) -> cf.Future[T]: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """``call_later(seconds, fn)`` runs ``fn`` once after ``seconds`` unless cancelled."""

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Timer: ...


class SessionListener:
    """What a screen hears from a session (every method may be overridden; the defaults do
    nothing). Calls arrive on the thread the runner calls back on."""

    def item_loaded(self, item: ItemView) -> None: ...

    def preloaded(self, item: ItemView) -> None:
        """An item fetched ahead (the screen may prepare its rendering while the rater reads)."""

    def draft_changed(self, draft: JudgmentDraft) -> None: ...

    def draft_replaced(self, draft: JudgmentDraft) -> None:
        """The draft was replaced (undo, a refused edit): widgets must show it again."""

    def save_state(self, state: str, message: str) -> None:
        """``state`` is "dirty", "saving", "saved" or "error"."""

    def saved(self, output_id: int, result: SaveResult, draft: JudgmentDraft) -> None: ...

    def load_failed(self, message: str) -> None: ...

    def refused(self, message: str) -> None:
        """An edit, save or undo refused because the project is read-only (one plain line)."""


class GradingSession:
    def __init__(self, project: Project, rater_id: int, runner: Runner, scheduler: Scheduler,
                 bus: ChangeBus | None = None, listener: SessionListener | None = None,
                 autosave_s: float = AUTOSAVE_S, clock: Callable[[], float] | None = None,
                 initiator: object | None = None, spool: DraftSpool | None = None,
                 retry_scheduler: Scheduler | None = None,
                 background_gate: Callable[[], None] | None = None) -> None:
        self.project = project
        # Run first by saves and preloads on the runner's thread: the screen makes them wait
        # while it shows an item (qt.grading.busy_gate); None: they start at once.
        self._gate = background_gate
        self.rater_id = rater_id
        self._run = runner
        # Saves on their way to a server, kept on this disk (None for a folder project).
        self.spool = spool if spool is not None else spool_for(project, rater_id)
        self._retry_scheduler = retry_scheduler or scheduler
        self._retry_timer: Timer | None = None
        self._retry_delay = RETRY_FIRST_S
        self.unreachable = False  # the last save found the server gone: saves are held
        self._resuming: set[str] = set()  # uids of kept saves sent again on opening
        self._scheduler = scheduler
        self.bus = bus or ChangeBus()
        self.listener = listener or SessionListener()
        self.autosave_s = autosave_s
        self._clock = clock
        self.initiator = initiator if initiator is not None else self
        self.item: ItemView | None = None
        self.partner_id: int | None = None
        self.draft = JudgmentDraft()
        self.status = "todo"
        self.revision_no = 0
        self.dirty = False
        self.closed = False
        # The grading guidelines versions the screen shows (the rubric's and the taxonomy's as
        # one number, domain.guideline_versions): stored with each save.
        self.guideline_version: int | None = None
        self._pending: dict[object, cf.Future[SaveResult] | None] = {}  # unanswered saves
        # Failed saves of other items, and every save held while the server is unreachable.
        self._retry: dict[int, SpooledSave] = {}
        self._generation = 0
        self._cache: dict[int, ItemView] = {}
        self._inflight: set[int] = set()
        self._timer: Timer | None = None
        # A read-only project is browsed: edits are refused here, before the draft changes.
        self.read_only_reason: str | None = project.read_only_reason
        self.time = self._new_time(0.0)

    def _new_time(self, base: float) -> TimeOnTask:
        return TimeOnTask(base=base) if self._clock is None else TimeOnTask(self._clock, base)

    def _call(self, call: Callable[[], T], on_success: Callable[[T], None],
              on_failure: Callable[[BaseException], None]) -> cf.Future[T]:
        """Run through the runner; answers that arrive after ``close()`` are ignored."""
        def ok(value: T) -> None:
            if not self.closed:
                on_success(value)

        def failed(exc: BaseException) -> None:
            if not self.closed:
                on_failure(exc)

        return self._run(call, ok, failed)

    def _background(self, call: Callable[[], T]) -> Callable[[], T]:
        """``call`` as work that may wait for the screen (a save, a preload)."""
        gate = self._gate
        if gate is None:
            return call

        def gated() -> T:
            gate()
            return call()

        return gated

    # loading ----------------------------------------------------------------------------------
    def open_item(self, output_id: int) -> None:
        """Save the current item if it changed and show ``output_id`` (from the preload cache
        when it is there)."""
        if self.closed or (self.item is not None and self.item.output_id == output_id):
            return
        gen = self._generation + 1
        cached = self._cache.pop(output_id, None)
        if cached is None:
            # The load goes first: it does not depend on the save of the item being left,
            # and a later visit back to that item is queued behind its save anyway.
            self._call(functools.partial(grading.load_item, self.project, self.rater_id,
                                         output_id),
                       lambda item: self._on_item_loaded(gen, item),
                       lambda exc: self._on_load_failed(gen, exc))
        self.flush()  # still under the old generation: a failure is kept for retry
        self._generation = gen
        if cached is not None:
            self._on_item_loaded(gen, cached)

    def reload(self) -> None:
        """Show the current item again from the database, dropping preloaded items: the
        forms changed (a rubric edit saved a new version), so every ``ItemView`` is stale."""
        if self.closed or self.item is None:
            return
        output_id = self.item.output_id
        self._cache.clear()
        self.flush()  # queued before the load: what was on screen is saved first
        gen = self._generation + 1
        self._generation = gen
        self._call(functools.partial(grading.load_item, self.project, self.rater_id, output_id),
                   lambda item: self._on_item_loaded(gen, item),
                   lambda exc: self._on_load_failed(gen, exc))

    def preload(self, output_id: int) -> None:
        """Fetch an item in the background so opening it next is instant."""
        if (self.closed or output_id in self._cache or output_id in self._inflight
                or (self.item is not None and self.item.output_id == output_id)):
            return
        self._inflight.add(output_id)

        def store(item: ItemView) -> None:
            self._inflight.discard(output_id)
            if len(self._cache) >= PRELOAD_LIMIT:
                self._cache.pop(next(iter(self._cache)))
            self._cache[output_id] = item
            self.listener.preloaded(item)

        self._call(self._background(functools.partial(grading.load_item, self.project,
                                                      self.rater_id, output_id)),
                   store, lambda _exc: self._inflight.discard(output_id))

    def _on_item_loaded(self, gen: int, item: ItemView) -> None:
        if gen != self._generation:
            return  # a newer request won; drop this stale answer
        self.item = item
        self.partner_id = None
        self.draft = item.draft or JudgmentDraft()
        self.status = item.status
        self.revision_no = item.revision_no
        self.dirty = False
        self.time = self._new_time(self.draft.time_on_task_s)
        self.time.start()
        self.listener.item_loaded(item)
        self.listener.draft_changed(self.draft)
        if self.unreachable:
            self.listener.save_state("error", UNREACHABLE)
        elif self._retry:  # never let a fresh item hide that an earlier one is unsaved
            self.listener.save_state("error", f"NOT saved: {len(self._retry)} earlier item(s); "
                                     "retrying with the next save")
        elif not self.saving:
            self.listener.save_state("saved", self._saved_text())

    def _on_load_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.listener.load_failed(
                "server unreachable — the item can be opened when it returns; your answers "
                "are kept" if is_connection_lost(exc) else str(exc))

    # editing ----------------------------------------------------------------------------------
    def _refuse_read_only(self) -> bool:
        """True (and say why, and show the saved draft again) if nothing may be saved."""
        if self.read_only_reason is None:
            return False
        self.listener.refused(f"Read-only project ({self.read_only_reason}): grades cannot be "
                              "saved here; you can browse, see statistics and export.")
        if self.item is not None:
            self.listener.draft_replaced(self.draft)  # undo what the widget already shows
        return True

    def _edit(self, **changes: Any) -> None:
        if self.closed or self.item is None or self._refuse_read_only():
            return
        self.draft = dataclasses.replace(self.draft, **changes)
        self.dirty = True
        self.listener.draft_changed(self.draft)
        if self.unreachable:  # held anyway: keep saying why
            self.listener.save_state("error", UNREACHABLE)
        else:
            self.listener.save_state("dirty", "Unsaved changes…")
        self._restart_autosave()

    def _restart_autosave(self) -> None:
        self._cancel_autosave()
        self._timer = self._scheduler.call_later(self.autosave_s, self._on_autosave)

    def _cancel_autosave(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def autosave_pending(self) -> bool:
        return self._timer is not None

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
    def _on_autosave(self) -> None:
        self._timer = None
        if self.dirty and not self.closed:
            self.save()

    def _auto_status(self) -> str:
        # Editing a done item keeps it done while it stays complete.
        return "done" if self.status == "done" and not self.missing() else "draft"

    @property
    def saving(self) -> bool:
        return bool(self._pending)

    @property
    def unsaved(self) -> bool:
        """Edits or failed saves that have not reached the database."""
        return self.dirty or bool(self._retry)

    def save(self, status: str | None = None) -> cf.Future[SaveResult] | None:
        """Write the draft as a new revision now (``status`` None: keep draft/done as is)."""
        if self.closed or self.item is None or self.read_only_reason is not None:
            return None
        status = status or self._auto_status()
        self._cancel_autosave()
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
                ) -> cf.Future[SaveResult] | None:
        return self._send(SpooledSave(output_id, new_uid(), status, draft,
                                      self.guideline_version))

    def _send(self, save: SpooledSave, *, retrying: bool = False
              ) -> cf.Future[SaveResult] | None:
        """Send ``save`` (kept in the spool first); while the server is unreachable it is
        held instead, for the next retry (``retrying``: this is that retry)."""
        output_id = save.output_id
        self._cache.pop(output_id, None)
        if self.spool is not None:
            self.spool.put(save)  # on this disk before the server has it
        if self.unreachable and not retrying:
            self._retry[output_id] = save
            if self.item is not None and self.item.output_id == output_id:
                self.status = save.status  # as the rater left it: later edits keep "done"
            self.listener.save_state("error", UNREACHABLE)
            return None
        gen = self._generation  # which visit of the item this save belongs to
        self.listener.save_state("saving", "Saving…")
        token = object()  # the save, before its future exists (an inline runner answers at once)
        self._pending[token] = None

        def ok(result: SaveResult) -> None:
            self._pending.pop(token, None)
            self._on_saved(save, result)

        def failed(exc: BaseException) -> None:
            self._pending.pop(token, None)
            self._on_save_failed(gen, save, exc)

        # The uid makes a second send of a save whose first COMMIT landed add nothing.
        future = self._call(self._background(functools.partial(
            grading.save_revision, self.project, self.rater_id, output_id, save.draft,
            status=save.status, guideline_version=save.guideline_version, uid=save.uid)),
                            ok, failed)
        if token in self._pending:
            self._pending[token] = future
        return future

    def _retry_failed(self) -> None:
        if self.unreachable:
            return  # held for the retry timer
        retry, self._retry = self._retry, {}
        for save in retry.values():
            self._send(save)

    def resume_kept(self) -> int:
        """Send the saves a previous session kept on this disk (the server was unreachable,
        or the app quit or crashed before they landed); returns how many."""
        if self.closed or self.spool is None or self.read_only_reason is not None:
            return 0
        kept = self.spool.saves()
        self._resuming = {s.uid for s in kept}
        if kept:
            self.listener.save_state("saving", f"Saving {len(kept)} answer(s) kept on this "
                                     "computer from an earlier session…")
        for save in kept:
            self._send(save)
        return len(kept)

    # the server went away ---------------------------------------------------------------------
    def _went_away(self) -> None:
        self.unreachable = True
        self.listener.save_state("error", UNREACHABLE)
        if self._retry_timer is None and not self.closed:
            delay, self._retry_delay = self._retry_delay, min(self._retry_delay * 2, RETRY_MAX_S)
            self._retry_timer = self._retry_scheduler.call_later(delay, self._on_retry_due)

    def _on_retry_due(self) -> None:
        """The backoff delay passed: send one held save as a probe (a dead link may make each
        attempt wait for the connect timeout on the database thread); when it lands, the
        rest follow; when it fails, the next delay starts."""
        self._retry_timer = None
        if self.closed:
            return
        if not self._retry:
            self.unreachable = False  # nothing to save: the next save finds out
            return
        probe = self._retry.pop(next(iter(self._retry)))
        self._send(probe, retrying=True)

    def _came_back(self) -> None:
        self.unreachable = False
        self._retry_delay = RETRY_FIRST_S
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        self._retry_failed()  # everything held goes now

    def _on_saved(self, save: SpooledSave, result: SaveResult) -> None:
        output_id, draft = save.output_id, save.draft
        if self.spool is not None:
            self.spool.remove(output_id, save.uid)
        if self.unreachable:
            self._came_back()
        resumed = save.uid in self._resuming
        self._resuming.discard(save.uid)
        if self.item is not None and self.item.output_id == output_id:
            self.status = result.status
            if result.revision_no is not None:
                self.revision_no = max(self.revision_no, result.revision_no)
        if not self.saving and not self.dirty and not self._retry:
            self.listener.save_state("saved", "Saved the answers kept from an earlier session"
                                     if resumed and not self._resuming else self._saved_text())
        self.listener.saved(output_id, result, draft)
        self.bus.emit(result.changes, self.initiator)

    def _on_save_failed(self, gen: int, save: SpooledSave, exc: BaseException) -> None:
        output_id = save.output_id
        if is_connection_lost(exc):
            # Landed or not, nobody knows: held with its uid (a newer save of the item, held
            # meanwhile, wins) and sent again by the retry timer.
            kept = self._retry.setdefault(output_id, save)
            if gen == self._generation and self.item is not None \
                    and self.item.output_id == output_id:
                self.status = kept.status
            self._went_away()
            return
        # The rater may have moved on already (the next item is loading): then the draft in
        # memory is about to be replaced, so keep the failed one aside.
        if gen == self._generation and self.item is not None \
                and self.item.output_id == output_id:
            self.dirty = True  # still unsaved: the next edit, save or navigation retries
        else:
            self._retry[output_id] = save  # keep it until a save succeeds
        self.listener.save_state("error", f"NOT saved: {exc}")

    def flush(self) -> cf.Future[SaveResult] | None:
        """Save now if anything changed (before navigating away); never waits."""
        if self.dirty:
            return self.save()
        if self._retry and not self.closed and self.read_only_reason is None:
            # Nothing new on screen: only what failed goes again (a save of the screen's
            # draft now would record a status it never had, e.g. a held "done" as "draft").
            self._retry_failed()
        return None

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
        if self.closed or self.item is None or self._refuse_read_only():
            return
        self.draft = dataclasses.replace(self.draft, skipped=True)
        self.dirty = True
        self.save("skipped")

    # undo and history -------------------------------------------------------------------------
    def undo(self) -> None:
        """Undo the newest save of this item (unsaved edits are saved first, then undone)."""
        if self.closed or self.item is None or self._refuse_read_only():
            return
        self.flush()
        output_id = self.item.output_id
        gen = self._generation
        self.listener.save_state("saving", "Undoing…")
        self._call(functools.partial(grading.undo_last, self.project, self.rater_id, output_id),
                   lambda res: self._on_undone(gen, output_id, res),
                   lambda exc: self.listener.save_state("error", f"Undo failed: {exc}"))

    def _on_undone(self, gen: int, output_id: int,
                   res: tuple[SaveResult, JudgmentDraft | None]) -> None:
        result, draft = res
        if gen != self._generation or draft is None:
            self.listener.save_state("saved", "Nothing to undo" if draft is None
                                     else self._saved_text())
            return
        self.draft = draft
        self.status = result.status
        self.dirty = False
        if result.revision_no is not None:
            self.revision_no = result.revision_no
        self.listener.draft_replaced(draft)
        self.listener.draft_changed(draft)
        self.listener.save_state("saved", f"Undone · {self._saved_text()}")
        self.listener.saved(output_id, result, draft)
        self.bus.emit(result.changes, self.initiator)

    def history(self, on_done: Callable[[list[RevisionView]], None],
                on_failure: Callable[[BaseException], None] | None = None
                ) -> cf.Future[list[RevisionView]] | None:
        """The current item's revisions, after any unsaved edit has been saved (the runner
        runs calls in order)."""
        if self.closed or self.item is None:
            return None
        self.flush()
        return self._call(functools.partial(grading.history, self.project, self.rater_id,
                                            self.item.output_id),
                          on_done, on_failure or (lambda _exc: None))

    # closing ----------------------------------------------------------------------------------
    def close(self) -> list[cf.Future[SaveResult]]:
        """Save what is unsaved, stop the autosave delay and ignore every later answer.
        Returns the saves still on their way (the caller decides whether to wait)."""
        if self.closed:
            return []
        if not self.read_only_reason:
            self.flush()
        self._cancel_autosave()
        if self._retry_timer is not None:
            self._retry_timer.cancel()  # held saves stay in the spool for the next opening
            self._retry_timer = None
        self.time.pause()
        self.closed = True
        self._generation += 1
        pending = [f for f in self._pending.values() if f is not None]
        self._pending = {}
        if self.spool is not None:
            self.spool.close()  # on disk now; saves still on their way leave it next time
        return pending

