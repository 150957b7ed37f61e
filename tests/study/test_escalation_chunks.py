"""The escalation state read in chunks of output ids (a 1M merge's hook passed them all in one
IN list, past SQLite's bound-parameter limit) is the state read in one: same plan, same
questions, chunk by chunk down to one id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.escalation import EscalationRules, plan
from medreview.services import escalation
from medreview.services.study import AssignmentDesign, assign, build_package, merge_packages
from medreview.storage import escalation_items
from medreview.storage.escalations import outputs_rated_since, plan_escalations
from medreview.storage.project import Project
from tests.study.helpers import grade_package

RATERS = ("Dr Amara", "Dr Lukas")
RULES = EscalationRules(disagreement=0.0, seniors=("Dr Lukas", "Dr Senior"))


def test_chunked_reads_plan_what_one_read_planned(study: Project, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assign(study, AssignmentDesign(RATERS, per_output=2, seed=7))
    returned = [grade_package(build_package(study, name, tmp_path / f"p{i}.mrpkg").path,
                              tmp_path / f"w{i}", tmp_path / f"r{i}.mrpkg")
                for i, name in enumerate(RATERS)]
    merge_packages(study, returned)  # no rules yet: nothing escalated
    ids = outputs_rated_since(study, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert len(ids) > 3

    def planner(state: Any) -> list[Any]:
        return list(plan(state, RULES))

    def read(chunk: int) -> list[Any]:
        monkeypatch.setattr(escalation_items, "IN_CHUNK", chunk)
        return [plan_escalations(study, planner, ids, light=light) for light in (True, False)
                ] + [plan_escalations(study, planner, ids[:1]), plan_escalations(
                    study, planner, [])]

    whole = read(30_000)
    assert whole[1], "the scripted raters disagree somewhere"
    for chunk in (1, 2, 3):
        assert read(chunk) == whole
    # and the write path, in chunks of one, escalates exactly what was planned
    escalation.set_rules(study, RULES)
    monkeypatch.setattr(escalation_items, "IN_CHUNK", 1)
    escalation.after_ratings(study, ids)  # the hook's path: these ids, in chunks
    assert {i.output_id for i in escalation.escalated_items(study)} == {
        p.output_id for p in whole[1] if p.senior is not None}
