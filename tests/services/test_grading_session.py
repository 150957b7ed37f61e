"""GradingSession without Qt: draft, autosave debounce, retry, generations, undo, closing.

A hand-driven runner stands for the database thread (calls wait in a queue until the test runs
them, in order, as the single DB worker would) and a manual clock for the autosave timer.
Everything else is real: a sample project on disk and the grading services.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.changes import Changes
from medreview.errors import ProjectBusy
from medreview.runtime.bus import ChangeBus
from medreview.services import grading
from medreview.services.grading_session import GradingSession, SessionListener
from medreview.services.projects import Project
from medreview.services.sample_project import build_sample_project
from medreview.services.views import SaveResult


class ManualScheduler:
    """A clock that moves only when told; ``call_later`` timers fire as it passes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[_Timer] = []

    def call_later(self, seconds: float, fn: Callable[[], None]) -> _Timer:
        t = _Timer(self.now + seconds, fn)
        self._timers.append(t)
        return t

    @property
    def live(self) -> list[_Timer]:
        return [t for t in self._timers if not t.cancelled and not t.fired]

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for t in sorted(self.live, key=lambda t: t.due):
            if t.due <= self.now and not t.cancelled:
                t.fired = True
                t.fn()


class _Timer:
    def __init__(self, due: float, fn: Callable[[], None]) -> None:
        self.due, self.fn = due, fn
        self.cancelled = self.fired = False

    def cancel(self) -> None:
        self.cancelled = True


class QueueRunner:
    """The database thread, by hand: ``run_all()`` runs the queued calls in order and delivers
    each answer as the main thread would."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[[], Any], Callable[[Any], None],
                               Callable[[BaseException], None], cf.Future[Any]]] = []

    def __call__(self, call: Callable[[], Any], on_success: Callable[[Any], None],
                 on_failure: Callable[[BaseException], None]) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self.queue.append((call, on_success, on_failure, future))
        return future

    def run_all(self) -> None:
        while self.queue:
            call, ok, failed, future = self.queue.pop(0)
            try:
                value = call()
            except Exception as exc:  # delivered like a pool's future would
                future.set_exception(exc)
                failed(exc)
            else:
                future.set_result(value)
                ok(value)


class Recorder(SessionListener):
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.saved_ids: list[int] = []
        self.loaded: list[int] = []
        self.replaced = 0

    def save_state(self, state: str, message: str) -> None:
        self.states.append((state, message))

    def saved(self, output_id: int, result: SaveResult, draft: Any) -> None:
        self.saved_ids.append(output_id)

    def item_loaded(self, item: Any) -> None:
        self.loaded.append(item.output_id)

    def draft_replaced(self, draft: Any) -> None:
        self.replaced += 1


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[tuple[Project, int, list[int]]]:
    project, me = build_sample_project(tmp_path / "p", n_cases=2, outputs_per_case=2,
                                       with_dicom=False)
    outputs = [r.output_id for r in grading.load_queue(project, me.id)]
    yield project, me.id, outputs
    project.close()


def _session(sample: tuple[Project, int, list[int]], **kw: Any
             ) -> tuple[GradingSession, QueueRunner, ManualScheduler, Recorder, list[Any]]:
    project, rater_id, _ = sample
    runner, clock, rec = QueueRunner(), ManualScheduler(), Recorder()
    bus = ChangeBus()
    heard: list[Any] = []
    bus.subscribe(lambda changes, who: heard.append((changes, who)))
    s = GradingSession(project, rater_id, runner, clock, bus, rec, autosave_s=0.5,
                       clock=lambda: clock.now, **kw)
    return s, runner, clock, rec, heard


def _revisions(sample: tuple[Project, int, list[int]], output_id: int) -> list[Any]:
    project, rater_id, _ = sample
    return grading.history(project, rater_id, output_id)


def test_edits_are_saved_once_after_the_debounce(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, clock, rec, heard = _session(sample, initiator="screen")
    first = sample[2][0]
    s.open_item(first)
    runner.run_all()
    assert s.item is not None and s.item.output_id == first and rec.loaded == [first]
    s.set_answer("overall", 1)
    clock.advance(0.3)
    s.set_answer("overall", 2)  # restarts the delay
    clock.advance(0.3)
    assert runner.queue == [] and s.dirty and s.autosave_pending
    clock.advance(0.25)
    assert not s.dirty and s.saving and len(runner.queue) == 1
    runner.run_all()
    assert not s.saving and s.revision_no == 1 and rec.states[-1][0] == "saved"
    revs = _revisions(sample, first)
    assert len(revs) == 1 and revs[0].draft.answers == {"overall": 2}
    assert revs[0].draft.time_on_task_s == pytest.approx(0.85)
    assert rec.saved_ids == [first]
    assert [who for _c, who in heard] == ["screen"] and isinstance(heard[0][0], Changes)
    clock.advance(5)  # nothing more to save, no timer left
    assert runner.queue == [] and clock.live == []


def test_a_busy_database_keeps_the_draft_and_the_next_save_retries(sample, monkeypatch
                                                                    ) -> None:  # type: ignore[no-untyped-def]
    s, runner, clock, rec, _ = _session(sample)
    first = sample[2][0]
    s.open_item(first)
    runner.run_all()
    real = grading.save_revision
    calls: list[int] = []

    def busy_once(*args: Any, **kwargs: Any) -> SaveResult:
        calls.append(1)
        if len(calls) == 1:
            raise ProjectBusy("another writer held the project")
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", busy_once)
    s.set_answer("overall", 3)
    clock.advance(1)
    runner.run_all()
    assert rec.states[-1][0] == "error" and "NOT saved" in rec.states[-1][1]
    assert s.dirty and _revisions(sample, first) == []
    s.set_answer("overall", 4)  # the next edit saves everything
    clock.advance(1)
    runner.run_all()
    assert len(calls) == 2 and not s.dirty and rec.states[-1][0] == "saved"
    assert [r.draft.answers for r in _revisions(sample, first)] == [{"overall": 4}]


def test_a_failed_save_of_a_left_item_is_kept_and_retried(sample, monkeypatch
                                                          ) -> None:  # type: ignore[no-untyped-def]
    s, runner, _clock, rec, _ = _session(sample)
    first, second = sample[2][:2]
    s.open_item(first)
    runner.run_all()
    real = grading.save_revision
    fail = {"on": True}

    def flaky(*args: Any, **kwargs: Any) -> SaveResult:
        if fail["on"]:
            raise ProjectBusy("busy")
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", flaky)
    s.set_answer("overall", 2)
    s.open_item(second)  # saves the first on the way out
    runner.run_all()
    assert s.item is not None and s.item.output_id == second
    assert not s.dirty and s.unsaved  # the failure belongs to the item left behind
    assert rec.states[-1][0] == "error"
    fail["on"] = False
    s.set_answer("overall", 1)
    s.save()
    runner.run_all()
    assert [r.draft.answers for r in _revisions(sample, first)] == [{"overall": 2}]
    assert [r.draft.answers for r in _revisions(sample, second)] == [{"overall": 1}]
    assert not s.unsaved and rec.states[-1][0] == "saved"


def test_a_late_answer_for_an_item_already_left_is_dropped(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, _clock, rec, _ = _session(sample)
    first, second = sample[2][:2]
    s.open_item(first)
    s.open_item(second)  # before the first one arrived
    runner.run_all()
    assert rec.loaded == [second] and s.item is not None and s.item.output_id == second


def test_preloaded_items_open_at_once(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, _clock, rec, _ = _session(sample)
    first, second = sample[2][:2]
    s.open_item(first)
    s.preload(second)
    runner.run_all()
    s.open_item(second)
    assert rec.loaded == [first, second] and runner.queue == []


def test_undo_restores_the_previous_draft(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, _clock, rec, heard = _session(sample)
    first = sample[2][0]
    s.open_item(first)
    runner.run_all()
    s.set_answer("overall", 1)
    s.save()
    s.set_answer("overall", 3)
    s.undo()  # saves the edit first, then undoes it
    runner.run_all()
    assert s.draft.answers == {"overall": 1} and rec.replaced == 1
    assert [r.draft.answers for r in _revisions(sample, first)] == [
        {"overall": 1}, {"overall": 3}, {"overall": 1}]
    assert rec.states[-1] == ("saved", f"Undone · Saved · revision {s.revision_no}")
    assert len(heard) == 3


def test_history_comes_after_the_pending_save(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, _clock, _rec, _ = _session(sample)
    first = sample[2][0]
    s.open_item(first)
    runner.run_all()
    s.set_answer("overall", 2)
    got: list[Any] = []
    s.history(got.append)
    runner.run_all()
    assert [r.draft.answers for r in got[0]] == [{"overall": 2}]


def test_closing_saves_stops_the_timer_and_ignores_late_answers(sample
                                                                ) -> None:  # type: ignore[no-untyped-def]
    s, runner, clock, rec, heard = _session(sample)
    first, second = sample[2][:2]
    s.open_item(first)
    runner.run_all()
    s.set_answer("overall", 4)
    assert clock.live  # the autosave delay is running
    s.preload(second)
    pending = s.close()
    assert clock.live == [] and len(pending) == 1 and s.closed
    states_before = list(rec.states)
    runner.run_all()  # the database thread still writes the last save…
    assert [r.draft.answers for r in _revisions(sample, first)] == [{"overall": 4}]
    assert pending[0].done() and pending[0].exception() is None
    assert rec.states == states_before and rec.saved_ids == [] and heard == []  # …nobody hears
    s.set_answer("overall", 1)  # an old screen feeding a closed session changes nothing
    s.open_item(second)
    clock.advance(10)
    assert runner.queue == [] and clock.live == [] and s.draft.answers == {"overall": 4}


def test_a_read_only_project_refuses_edits(sample) -> None:  # type: ignore[no-untyped-def]
    s, runner, clock, rec, _ = _session(sample)
    s.open_item(sample[2][0])
    runner.run_all()
    refused: list[str] = []
    rec.refused = refused.append  # type: ignore[method-assign]
    s.read_only_reason = "opened with --read-only"
    s.set_answer("overall", 2)
    clock.advance(1)
    assert s.draft.answers == {} and runner.queue == [] and rec.replaced == 1
    assert refused and "Read-only project (opened with --read-only)" in refused[0]
