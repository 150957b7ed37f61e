"""``plan_design``: the one planner behind ``assign`` and the assignment dialog's preview."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from medreview.errors import InputError
from medreview.storage.assignments import AssignmentState, OutputInfo, assignment_state
from medreview.storage.models import AssignmentRow
from medreview.storage.project import Project
from medreview.study.assign import AssignmentDesign, assign, plan_assignments, plan_design


def _outputs(n_cases: int) -> tuple[OutputInfo, ...]:
    return tuple(OutputInfo(c * 2 + m + 1, c + 1, f"c{c}", f"m{m}", ())
                 for c in range(n_cases) for m in range(2))


def test_plan_on_plain_state_counts_existing_and_new() -> None:
    outs = _outputs(6)  # 12 outputs
    state = AssignmentState(outs, existing={1: {"a"}, 2: {"a", "x"}}, positions={"a": 1},
                            known_raters=frozenset({"a"}))
    design = AssignmentDesign(("a", "b"), per_output=2, seed=5)
    plan = plan_design(design, state)
    assert list(plan.planned) == plan_assignments(outs, design, state.existing, state.positions)
    assert plan.outputs == 12 and plan.summary.added == len(plan.planned) == 24 - 2
    assert plan.summary.per_rater == {"a": 12, "b": 12}  # "x" is not in the design
    assert plan.summary.multi_rated_outputs == 12
    assert plan.summary.created_raters == ("b",)
    assert plan.new_per_rater == dict(Counter(p.rater for p in plan.planned)) == {"a": 10,
                                                                                  "b": 12}
    assert plan.new_by_model == {"a": {"m0": 5, "m1": 5}, "b": {"m0": 6, "m1": 6}}
    assert min(p.position for p in plan.planned if p.rater == "a") == 2  # after existing
    assert state.existing == {1: {"a"}, 2: {"a", "x"}}  # the state is not changed


def test_no_outputs_is_refused_with_a_reason() -> None:
    with pytest.raises(InputError, match="no outputs to assign"):
        plan_design(AssignmentDesign(("a",)), AssignmentState(()))


def test_assign_reports_exactly_the_plan_of_the_state_it_found(study: Project) -> None:
    assign(study, AssignmentDesign(("Dr A",), seed=1))
    design = AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.5, seed=9)
    predicted = plan_design(design, assignment_state(study, design.raters))
    summary = assign(study, design)
    assert summary == predicted.summary
    with study.read() as s:
        total = s.scalar(select(func.count()).select_from(AssignmentRow))
    assert total == 30 + predicted.summary.added
    assert sum(summary.per_rater.values()) == total
