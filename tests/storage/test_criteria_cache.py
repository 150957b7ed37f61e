"""The merge's shared case-criteria questions: the same questions as the per-row reads, and a
criterion edited between the checks and the write is read anew (never a stale cached one)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, FormRow, OutputRow
from medreview.storage.revisions import (
    CriterionCache,
    Scorer,
    case_criteria,
    case_questions_of,
    score_of,
)
from tests.storage.study_helpers import small_study


def test_case_criteria_are_the_questions_the_per_row_read_builds(tmp_path: Path) -> None:
    with small_study(tmp_path / "p", n_cases=3) as project, project.read() as s:
        every = case_criteria(s, None)
        some = case_criteria(s, [min(every)])
        outputs = s.execute(select(OutputRow.id, OutputRow.case_id)).all()
        assert every and some == {min(every): every[min(every)]}
        for oid, cid in outputs:
            assert every.get(cid, ()) == case_questions_of(s, oid)
            assert every.get(cid, ())  # the sample rubric has per-case criteria


def test_an_edited_criterion_is_built_anew_and_scored_with_its_new_points(
        tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        cache: CriterionCache = {}
        with project.read() as s:
            before = case_criteria(s, None, cache)
            again = case_criteria(s, None, cache)
        cid = min(before)
        assert all(a is b for a, b in zip(again[cid], before[cid], strict=True))  # shared
        first = before[cid][0]
        key = first.id.removeprefix("criterion:")
        with project.transaction() as s:  # another writer edits it between two reads
            s.execute(update(CaseCriterionRow)
                      .where(CaseCriterionRow.case_id == cid, CaseCriterionRow.key == key)
                      .values(text="edited", points=-7.0))
        with project.read() as s:
            after = case_criteria(s, None, cache)
            edited = after[cid][0]
            assert (edited.prompt, edited.points) == ("edited", -7.0)
            assert edited is not first and first.points != -7.0
            oid = s.scalars(select(OutputRow.id).where(OutputRow.case_id == cid)).first()
            assert oid is not None
            form = next(f for f in s.scalars(select(FormRow))
                        if form_from_row(f).per_case_criteria)
            answers = {q.id: True for q in after[cid]}
            scorer = Scorer(s, [oid], cache)
            got = scorer.score(form.id, oid, answers, "done")
            assert got == score_of(s, form_id=form.id, output_id=oid, answers=answers,
                                   status="done")
            stale = Scorer(s, [oid], {})  # no cache: the same score
            assert got == stale.score(form.id, oid, answers, "done")
