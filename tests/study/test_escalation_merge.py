"""A merge of returned packages escalates, after its one transaction, the items whose merged
physicians disagree: each once, to a senior who did not rate it; merging again adds nothing."""

from __future__ import annotations

from pathlib import Path

from medreview.domain.escalation import EscalationRules
from medreview.services import escalation
from medreview.services.study import AssignmentDesign, assign, build_package, merge_packages
from medreview.storage.project import Project
from tests.study.helpers import grade_package

RATERS = ("Dr Amara", "Dr Lukas")
SENIORS = ("Dr Lukas", "Dr Senior")  # a senior who also rates: never given an item twice


def test_merged_disagreements_go_to_a_senior_who_has_not_rated_them(
        study: Project, tmp_path: Path) -> None:
    assign(study, AssignmentDesign(RATERS, per_output=2, seed=7))
    escalation.set_rules(study, EscalationRules(disagreement=0.0, seniors=SENIORS))
    returned = [grade_package(build_package(study, name, tmp_path / f"p{i}.mrpkg").path,
                              tmp_path / f"w{i}", tmp_path / f"r{i}.mrpkg")
                for i, name in enumerate(RATERS)]
    report, changes = merge_packages(study, returned)
    assert report.added and changes.raters
    items = escalation.escalated_items(study)
    assert items, "the scripted raters disagree somewhere"
    # Both raters rated every output: only the senior who rated nothing is left.
    assert {i.senior for i in items} == {"Dr Senior"}
    assert all(i.reason.startswith("disagreement ") and i.created_by == "rule" for i in items)
    assert len({i.output_id for i in items}) == len(items)
    report, _ = merge_packages(study, returned)
    assert not report.added and len(escalation.escalated_items(study)) == len(items)


def test_a_seniors_package_carries_the_reasons(study: Project, tmp_path: Path) -> None:
    """Offline, the senior reads why each escalated item came to them, as in the app; no other
    study item travels, and merging their graded package back works as for anyone."""
    from medreview.services import grading
    from medreview.services.projects import add_rater, open_project
    from medreview.services.study import unpack_package
    from medreview.storage.assignments import find_rater

    assign(study, AssignmentDesign(RATERS, per_output=2, seed=7))
    escalation.set_rules(study, EscalationRules(disagreement=0.0, seniors=("Dr Senior",)))
    returned = [grade_package(build_package(study, name, tmp_path / f"p{i}.mrpkg").path,
                              tmp_path / f"w{i}", tmp_path / f"r{i}.mrpkg")
                for i, name in enumerate(RATERS)]
    merge_packages(study, returned)
    reasons = {i.output_id: i.reason for i in escalation.escalated_items(study)}
    pkg = build_package(study, "Dr Senior", tmp_path / "senior.mrpkg")
    folder = unpack_package(pkg.path, tmp_path / "senior")
    with open_project(folder) as offline:
        me = find_rater(offline, "Dr Senior").id
        queue = grading.load_queue(offline, me)
        assert len(queue) == len(reasons)
        shown = sorted(grading.load_item(offline, me, r.output_id).escalation_reason
                       for r in queue)
        assert shown == sorted(reasons.values())
        assert add_rater(offline, "Dr Senior").id == me
    graded = grade_package(pkg.path, folder, tmp_path / "senior-back.mrpkg")
    report, _ = merge_packages(study, [graded])
    assert report.added == len(reasons)
    assert {i.status for i in escalation.escalated_items(study)} == {"done"}
