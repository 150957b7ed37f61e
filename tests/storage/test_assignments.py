"""storage.assignments: outputs, raters and assignment state as plain values; one write
transaction that plans on what it reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.errors import InputError
from medreview.storage.assignments import (
    AssignmentState,
    NewAssignment,
    OutputInfo,
    assignment_state,
    find_rater,
    output_infos,
    write_assignment,
)
from medreview.storage.models import AssignmentRow, ProjectRow
from medreview.storage.read_models import RaterView
from tests.storage.study_helpers import assert_plain, assign_all, small_study


def test_outputs_and_raters_are_plain_values(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        outs = output_infos(project)
        assert_plain(outs)
        assert [type(o) for o in outs] == [OutputInfo] * 4
        assert [o.output_id for o in outs] == sorted(o.output_id for o in outs)
        assert len({o.case_id for o in outs}) == 2 and len({o.model for o in outs}) == 2
        assert all(o.case_external_id.startswith("case-") and isinstance(o.tags, tuple)
                   for o in outs)
        lead = find_rater(project, "  Dr Lead ")
        assert_plain(lead)
        assert isinstance(lead, RaterView) and (lead.name, lead.kind) == ("Dr Lead", "physician")
        with pytest.raises(InputError, match="no rater with this name"):
            find_rater(project, "Dr Nobody")


def test_state_counts_only_the_named_raters(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        ids = assign_all(project, "Dr A")
        assign_all(project, "Dr B")
        state = assignment_state(project, ["Dr A", "Dr C"])
        assert_plain(state)
        assert state.existing == {oid: {"Dr A"} for oid in ids}
        assert state.positions == {"Dr A": len(ids) - 1}
        assert state.known_raters == {"Dr A"}  # Dr C has no row yet
        assert len(state.outputs) == len(ids)


def test_write_plans_inside_the_transaction_and_records_the_design(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        first = assign_all(project, "Dr A")
        seen: list[AssignmentState] = []

        def plan(state: AssignmentState) -> list[NewAssignment]:
            seen.append(state)
            return [NewAssignment("Dr B", first[0], 0, "Response A")]

        write_assignment(project, ["Dr A", "Dr B"], plan, seed=3, design_record={"k": 2})
        (state,) = seen
        assert state.known_raters == {"Dr A"}  # Dr B was created by this transaction
        assert state.existing[first[0]] == {"Dr A"}
        after = assignment_state(project, ["Dr A", "Dr B"])
        assert after.existing[first[0]] == {"Dr A", "Dr B"}
        assert find_rater(project, "Dr B").kind == "physician"
        with project.read() as s:
            settings = s.scalars(select(ProjectRow)).one().settings
            seeds = set(s.scalars(select(AssignmentRow.seed)))
        designs = settings["study"]["assignments"]
        assert seeds == {7, 3}
        assert designs == [{"test": True}, {"k": 2}]


def test_a_failing_plan_writes_nothing(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project:
        def plan(state: AssignmentState) -> list[NewAssignment]:
            raise InputError("no")

        with pytest.raises(InputError):
            write_assignment(project, ["Dr New"], plan, seed=1, design_record={})
        with pytest.raises(InputError, match="no rater"):
            find_rater(project, "Dr New")
        assert assignment_state(project, ["Dr New"]).existing == {}
