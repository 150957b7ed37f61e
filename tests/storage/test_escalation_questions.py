"""The escalation rules' questions read as plain rows give what the ORM objects gave: the
forms' questions, then each criterion row by id (a later row with the same key wins)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question, case_criterion_question
from medreview.storage import escalation_items
from medreview.storage.escalations import _questions
from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, CaseRow, FormRow
from tests.storage.study_helpers import small_study


def _orm_questions(s: Session, case_ids: Collection[int] | None) -> dict[str, Question]:
    """The ORM reading as it was: the reference."""
    out: dict[str, Question] = {}
    for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
        for q in form_from_row(row).questions:
            out[q.id] = q
    crit = select(CaseCriterionRow).order_by(CaseCriterionRow.id)
    if case_ids is not None:
        crit = crit.where(CaseCriterionRow.case_id.in_(list(case_ids)))
    for c in s.scalars(crit):
        q = case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
        out[q.id] = q
    return out


@pytest.mark.parametrize("chunk", [30_000, 1, 2])
def test_plain_rows_give_the_questions_the_orm_gave(tmp_path: Path, chunk: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(escalation_items, "IN_CHUNK", chunk)  # later rows win across chunks
    with small_study(tmp_path / "p", n_cases=4) as project:
        with project.transaction() as s:
            cases = [c.id for c in s.scalars(select(CaseRow).order_by(CaseRow.id))]
            # the same key in two cases, worded differently, with tags and odd points
            s.add(CaseCriterionRow(case_id=cases[2], position=8, key="shared",
                                   text="Third case's wording", points=-2.5,
                                   tags=["axis:accuracy", "ünïcode"]))
            s.add(CaseCriterionRow(case_id=cases[0], position=8, key="shared",
                                   text="First case's wording", points=7.0, tags=[]))
            s.add(CaseCriterionRow(case_id=cases[1], position=9, key="tagged",
                                   text="Tagged", points=1.0, tags={"a": [1, 2]}))
        with project.read() as s:
            for ids in (None, set(cases), {cases[0]}, {cases[2], cases[1]}, set()):
                ours, theirs = _questions(s, ids), _orm_questions(s, ids)
                assert list(ours) == list(theirs)
                assert ours == theirs, ids
            # the later row (by id) wins, as before
            assert _questions(s, None)["criterion:shared"].prompt == "First case's wording"
