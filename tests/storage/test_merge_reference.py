"""The lead's reference for a merge: cases with equal criteria share one tuple (the checks
compile one answers check per tuple), and each case still has exactly its own criteria."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from medreview.storage.merging import merge_reference, read_outputs
from medreview.storage.models import CaseCriterionRow, CaseRow
from medreview.storage.revisions import case_criteria
from tests.storage.study_helpers import small_study


def test_equal_criteria_share_a_tuple_and_each_case_keeps_its_own(tmp_path: Path) -> None:
    with small_study(tmp_path / "p", n_cases=4) as project:
        with project.transaction() as s:
            cases = list(s.scalars(select(CaseRow).order_by(CaseRow.id)))
            s.add(CaseCriterionRow(case_id=cases[1].id, position=9, key="only-two",
                                   text="Mentions case two", points=1.0))
        ref = merge_reference(project)
        with project.read() as s:
            plain = case_criteria(s, None)
        assert {cid: tuple(qs) for cid, qs in ref.criteria.items()} == plain
        two = ref.criteria[cases[1].id]
        others = [ref.criteria[c.id] for c in cases if c.id != cases[1].id]
        assert all(qs is others[0] for qs in others)  # one tuple for the equal ones
        assert two is not others[0] and two != others[0]
        assert [q.id for q in two][-1] == "criterion:only-two"
        assert "criterion:only-two" not in {q.id for q in others[0]}


def test_a_merge_reads_only_the_outputs_it_is_given(tmp_path: Path) -> None:
    with small_study(tmp_path / "p", n_cases=4) as project:
        full = merge_reference(project)
        first, *rest = sorted(full.case_of)
        lead = merge_reference(project, ())
        assert lead.case_of == {} and lead.criteria == {} and lead.forms == full.forms
        read_outputs(project, lead, [first])  # one of eight: read by id
        assert lead.case_of == {first: full.case_of[first]}
        assert set(lead.criteria) == {full.case_of[first]}
        # the other seven (most outputs: the pass over all): what reading everything gave
        read_outputs(project, lead, rest)
        assert lead.case_of == full.case_of
        assert lead.criteria == full.criteria and lead.cases_read == full.cases_read
        # equal criteria read by two calls still share one tuple
        assert len({id(qs) for qs in lead.criteria.values()}) == 1
