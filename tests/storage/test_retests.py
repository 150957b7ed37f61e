"""Retests served in queues: a seeded fraction comes back blank after the delay, the answer is
a ``retest`` revision, and no reader but the test-retest statistics ever sees it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import update

from medreview.domain.judgment import JudgmentDraft
from medreview.errors import InputError
from medreview.exporters.gold import physician_labels
from medreview.services import grading
from medreview.storage.assignments import find_rater
from medreview.storage.gold import project_gold
from medreview.storage.models import JudgmentRevisionRow
from medreview.storage.project import Project
from medreview.storage.rater_quality import rater_records, record_retest
from medreview.storage.ratings_read import read_ratings_long
from medreview.storage.retests import choose_retests, plan_retests, retest_overview
from medreview.storage.tables import current_revisions
from medreview.study.adjudicate import auto_gold
from tests.storage.study_helpers import assign_all, small_study

RATER = "Dr Retest"
FIRST = {"overall": 4, "safe": "yes", "comment": "first look"}
SECOND = {"overall": 2, "safe": "no"}


def _finish_all(project: Project, rater_id: int, ids: list[int]) -> None:
    for oid in ids:
        grading.save_revision(project, rater_id, oid,
                              JudgmentDraft(answers=dict(FIRST), rationale="my reasons",
                                            time_on_task_s=30.0), status="done")


def _age(project: Project, days: float) -> None:
    """Move every revision ``days`` into the past (the delay has passed)."""
    with project.transaction() as s:
        for rev in s.query(JudgmentRevisionRow).all():
            s.execute(update(JudgmentRevisionRow).where(JudgmentRevisionRow.id == rev.id)
                      .values(created_at=rev.created_at - dt.timedelta(days=days)))


def _setup(tmp_path: Path) -> tuple[Project, int, list[int], list[int]]:
    project = small_study(tmp_path / "p", n_cases=5)
    ids = assign_all(project, RATER)
    rid = find_rater(project, RATER).id
    added = choose_retests(project, fraction=0.2, delay_days=7, seed=3)
    assert added == {RATER: 2}
    retested = [o for o in ids if o in _retest_ids(project, rid)]
    assert len(retested) == 2
    return project, rid, ids, retested


def _retest_ids(project: Project, rid: int) -> set[int]:
    from medreview.storage.models import StudyItemRow

    with project.read() as s:
        return {r.output_id for r in s.query(StudyItemRow).filter_by(rater_id=rid,
                                                                     kind="retest")}


def test_the_choice_is_seeded_and_rerunning_adds_nothing(tmp_path: Path) -> None:
    items = {"A": list(range(100)), "B": list(range(50, 60))}
    one = plan_retests(items, {}, 0.1, seed=5)
    assert one == plan_retests(items, {}, 0.1, seed=5)
    assert one != plan_retests(items, {}, 0.1, seed=6)
    assert [len(one["A"]), len(one["B"])] == [10, 1]
    assert plan_retests(items, {k: set(v) for k, v in one.items()}, 0.1, seed=5) == {}
    project, _rid, _ids, _r = _setup(tmp_path)
    with project:
        assert choose_retests(project, fraction=0.2, delay_days=7, seed=3) == {}
        for bad in ((0.0, 7.0), (1.5, 7.0), (float("nan"), 7.0), (0.1, -1.0), (0.1, 1e9)):
            with pytest.raises(InputError):
                choose_retests(project, fraction=bad[0], delay_days=bad[1])
        with pytest.raises(InputError, match="no assigned or finished items"):
            choose_retests(project, fraction=0.1, delay_days=1, raters=["Dr Nobody"])


def test_a_due_retest_is_served_blank_and_never_replaces_the_study_answer(
        tmp_path: Path) -> None:
    project, rid, ids, retested = _setup(tmp_path)
    with project:
        _finish_all(project, rid, ids)
        oid = retested[0]
        # Not due yet: the queue shows everything done, the item its answer.
        assert {r.status for r in grading.load_queue(project, rid)} == {"done"}
        assert grading.load_item(project, rid, oid).draft is not None
        _age(project, 8)
        queue = {r.output_id: r.status for r in grading.load_queue(project, rid)}
        assert {o for o, st in queue.items() if st == "todo"} == set(retested)
        item = grading.load_item(project, rid, oid)
        assert item.draft is None and item.status == "todo"  # blank: no earlier answer
        assert grading.history(project, rid, oid) == []  # nor in the history
        assert grading.undo_last(project, rid, oid)[0].revision_no is None
        # A draft of the retest is the retest's own.
        grading.save_revision(project, rid, oid, JudgmentDraft(answers={"overall": 2}))
        item = grading.load_item(project, rid, oid)
        assert item.draft is not None and item.draft.answers == {"overall": 2}
        assert item.status == "draft"
        assert [h.source for h in grading.history(project, rid, oid)] == ["retest"]
        assert {r.status for r in grading.load_queue(project, rid)
                if r.output_id == oid} == {"draft"}
        grading.save_revision(project, rid, oid, JudgmentDraft(answers=dict(SECOND)),
                              status="done")
        # Done again; history now shows everything; the shown answer is the study answer.
        queue = {r.output_id: r.status for r in grading.load_queue(project, rid)}
        assert [o for o, st in queue.items() if st != "done"] == [retested[1]]
        item = grading.load_item(project, rid, oid)
        assert item.status == "done" and item.draft is not None
        assert item.draft.answers == FIRST
        assert [h.source for h in grading.history(project, rid, oid)] == ["ui", "retest",
                                                                         "retest"]
        assert_retest_only_in_test_retest(project, oid)
        grading.undo_last(project, rid, oid)  # an undo never restores a retest answer
        assert_retest_only_in_test_retest(project, oid)
        assert [(r.rater, r.items, r.waiting, r.open, r.done)
                for r in retest_overview(project)] == [(RATER, 2, 0, 1, 1)]


def assert_retest_only_in_test_retest(project: Project, oid: int) -> None:
    """Every reader of the study answer reads FIRST; the test-retest pair reads both."""
    long = read_ratings_long(project)
    mine = long[(long.output_id == oid) & (long.rater == RATER)]
    assert dict(zip(mine.question_id, mine.value, strict=True))["overall"] == 4
    assert set(mine.rationale) == {"my reasons"}
    cur = [r for r in current_revisions(project) if r["output_id"] == oid
           and r["rater"] == RATER]
    assert len(cur) == 1 and cur[0]["answers"]["overall"] == 4
    records = rater_records(project)
    final = [f for f in records.finals if f.output_id == oid and f.rater == RATER]
    assert len(final) == 1 and final[0].answers["overall"] == 4
    pair = [p for p in records.retests if p.output_id == oid]
    assert len(pair) == 1
    assert (pair[0].first["overall"], pair[0].second["overall"]) == (4, 2)
    # The gold export's physician answers and gold derived from the ratings read it too.
    labels = physician_labels(project, pseudonymise=False)
    assert labels[(oid, "overall")] == {RATER: 4}
    auto_gold(project)
    assert project_gold(project)[oid]["overall"].value == 4


def test_imported_retests_never_replace_the_study_answer(tmp_path: Path) -> None:
    project = small_study(tmp_path / "p", n_cases=2)
    with project:
        ids = assign_all(project, RATER)
        rid = find_rater(project, RATER).id
        _finish_all(project, rid, ids)
        assert record_retest(project, RATER, ids[0], dict(SECOND))
        assert_retest_only_in_test_retest(project, ids[0])
        item = grading.load_item(project, rid, ids[0])
        assert item.status == "done" and item.draft is not None and item.draft.answers == FIRST
