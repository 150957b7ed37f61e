"""Rater packages carry "not applicable" and "cannot assess" through a merge unchanged; a
forged value of either is refused whole, naming why (``domain.not_assessed``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, cannot_assess_value
from medreview.services import grading
from medreview.storage.assignments import rater_by_name
from medreview.storage.audit import judgment_history
from medreview.storage.project import open_project
from medreview.study.merge import merge_packages
from medreview.study.package import seal_package
from tests.study.test_package_forgery import (  # noqa: F401  (world is a fixture)
    _answers_sql,
    _copy,
    forge,
    refused,
    world,
)

CA = json.dumps(cannot_assess_value("missing_context"))


@pytest.mark.parametrize(("expr", "reason"), [
    (f"json_set(answers, '$.{CANNOT_ASSESS_KEY}', json('{{\"reason\": \"bored\"}}'))",
     f"question '{CANNOT_ASSESS_KEY}': cannot assess reason 'bored' is not one of"),
    (f"json_set(answers, '$.{CANNOT_ASSESS_KEY}', json('{{\"reason\": \"other\"}}'))",
     "cannot assess for reason 'other' needs a note"),
    (f"json_set(answers, '$.overall', '{NOT_APPLICABLE}')",
     "question 'overall': not applicable (N/A) is not allowed here"),
    ("json_set(answers, '$._made_up', 1)", "question '_made_up': no such question"),
])
def test_a_forged_not_assessed_value_is_refused(world: dict[str, Any],  # noqa: F811
                                                tmp_path: Path, expr: str, reason: str) -> None:
    file = forge(world, tmp_path, _answers_sql(expr))
    assert reason in refused(world, tmp_path, file)


def test_not_assessed_round_trips_through_a_package(world: dict[str, Any],  # noqa: F811
                                                   tmp_path: Path) -> None:
    folder = tmp_path / "graded"
    shutil.copytree(world["folder"], folder)
    pkg = open_project(folder)
    try:
        with pkg.read() as s:
            me = rater_by_name(s, "Dr A").id
        first, second = [r.output_id for r in grading.load_queue(pkg, me)[:2]]
        item = grading.load_item(pkg, me, first)
        crit = next(q.id for q in item.questions() if q.id.startswith("criterion:"))
        na = dict(grading.load_item(pkg, me, first).draft.answers)  # type: ignore[union-attr]
        na[crit] = NOT_APPLICABLE
        grading.save_revision(pkg, me, first, JudgmentDraft(answers=na), status="done")
        grading.save_revision(pkg, me, second, JudgmentDraft(answers={
            "overall": 3, CANNOT_ASSESS_KEY: json.loads(CA)}), status="done")
    finally:
        pkg.close()
    file = seal_package(folder, tmp_path / "na.mrpkg").path
    path = _copy(world, tmp_path / "p")
    project = open_project(path)
    try:
        report = merge_packages(project, [file])
        assert report.added > 0 and not report.conflicts
        # package output ids are opaque tokens: find the two judgments by their answers
        current = [h for h in judgment_history(project)
                   if h["is_current"] and h["rater"] == "Dr A"]
        (with_na,) = [h for h in current if h["answers"].get(crit) == NOT_APPLICABLE]
        (cannot,) = [h for h in current if CANNOT_ASSESS_KEY in h["answers"]]
        assert cannot["answers"][CANNOT_ASSESS_KEY] == json.loads(CA)
        assert with_na["output_id"] != cannot["output_id"]
        with project.read() as s:
            me = rater_by_name(s, "Dr A").id
        merged = grading.load_item(project, me, cannot["output_id"])
        assert merged.draft is not None
        assert merged.draft.answers[CANNOT_ASSESS_KEY]["reason"] == "missing_context"
        assert merged.draft.overall_score is None  # cannot assess: no score
        scored = grading.load_item(project, me, with_na["output_id"]).draft
        assert scored is not None and scored.overall_score is not None
    finally:
        project.close()
