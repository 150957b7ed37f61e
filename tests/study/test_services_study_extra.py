"""The study services the app's screens use: assignment preview, one output's ratings, package
checks and summaries."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.errors import InputError, PackageError
from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import add_rater
from medreview.storage.project import Project
from medreview.study.adjudicate import adjudication_queue
from medreview.study.assign import AssignmentDesign
from tests.study.helpers import grade_package


def _rate(project: Project, rater: str, output_id: int, answers: dict[str, object],
          errors: tuple[Annotation, ...] = (), status: str = "done") -> None:
    rid = add_rater(project, rater).id
    grading.save_revision(project, rid, output_id,
                          JudgmentDraft(answers=answers, annotations=errors), status=status)


def test_preview_predicts_assign_exactly_and_writes_nothing(study: Project) -> None:
    svc.assign(study, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=3))
    design = AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.5, seed=11,
                              case_grouping="together")
    before = svc.assignment_overview(study)
    preview = svc.preview_assignment(study, design)
    assert svc.assignment_overview(study) == before  # nothing written, not even the new rater
    assert preview.summary.created_raters == ("Dr C",)
    summary, changes = svc.assign(study, design)
    assert changes.raters
    assert preview.summary.added == summary.added > 0
    assert preview.summary.per_rater == summary.per_rater
    assert preview.summary.multi_rated_outputs == summary.multi_rated_outputs
    assert sum(preview.new_per_rater.values()) == summary.added
    assert all(sum(m.values()) == preview.new_per_rater[r]
               for r, m in preview.new_by_model.items())
    after = svc.assignment_overview(study)
    loads = {r.name: r.assigned for r in after.raters}
    assert loads["Dr C"] == summary.per_rater["Dr C"] and loads["Dr Lead"] == 0
    assert (after.outputs, after.cases, len(after.models)) == (30, 10, 3)
    assert [d["seed"] for d in after.designs] == [3, 11]
    assert svc.preview_assignment(study, design).summary.added == 0  # already applied


def test_preview_rejects_a_bad_design_with_a_reason(study: Project) -> None:
    with pytest.raises(InputError, match="needs at least 3 raters"):
        svc.preview_assignment(study, AssignmentDesign(("Dr A", "Dr B"), per_output=3))


def test_output_ratings_match_the_queue_and_show_gold_provenance(study: Project) -> None:
    _rate(study, "A", 1, {"criterion:dx": True, "overall": 1},
          (Annotation("errors", "factual", 2),))
    _rate(study, "B", 1, {"criterion:dx": True, "overall": 4})
    _rate(study, "C", 1, {"criterion:dx": False, "overall": 4})
    _rate(study, "D", 1, {"criterion:dx": False}, status="draft")  # unfinished: not counted
    r = svc.output_ratings(study, 1)
    queue = {d.question_id: d.ratings for d in adjudication_queue(study) if d.output_id == 1}
    assert set(queue) == {"overall", "criterion:dx", "errors"}
    assert all(r.ratings[q] == v for q, v in queue.items())
    assert r.ratings["overall"] == {"A": 1, "B": 4, "C": 4}
    assert r.ratings["errors"] == {"A": [{"category": "factual", "severity": 2}], "B": [],
                                   "C": []}
    assert r.gold == {}
    assert r.majority == {"overall": 4, "criterion:dx": True, "errors": []}
    svc.set_gold(study, 1, "overall", 3, rationale="dose wrong", adjudicator="Dr Lead")
    g = svc.output_ratings(study, 1).gold["overall"]
    assert (g.value, g.provenance, g.adjudicator, g.rationale, g.revision_no) == (
        3, "adjudicated", "Dr Lead", "dose wrong", 1)
    assert svc.output_ratings(study, 2).ratings == {}


def test_load_output_is_nobodys_view(study: Project) -> None:
    _rate(study, "A", 2, {"overall": 2})
    item = svc.load_output(study, 2)
    assert item.output_id == 2 and item.draft is None and item.status == "todo"
    assert item.blind_label.startswith("Response ") and item.case.external_id == "case-00001"


def test_package_checks_accept_own_and_refuse_foreign_tampered_truncated(
        study: Project, tmp_path: Path) -> None:
    svc.assign(study, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=1))
    pkg = svc.build_package(study, "Dr A", tmp_path / "a.mrpkg").path
    uid, name = svc.project_identity(study)
    info = svc.check_package(pkg, uid)
    assert (info.rater, info.stage, info.project_name, info.items) == (
        "Dr A", "outbound", name, 15)
    returned = grade_package(pkg, tmp_path / "graded", tmp_path / "a-back.mrpkg", limit=4)
    summary = svc.package_folder_summary(tmp_path / "graded")
    assert (summary.rater, summary.items, summary.done) == ("Dr A", 15, 4)
    assert svc.check_package(returned, uid).stage == "return"
    with pytest.raises(PackageError, match="another project"):
        svc.check_package(returned, "some-other-uid")
    tampered = tmp_path / "tampered.mrpkg"
    with zipfile.ZipFile(returned) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("project.sqlite"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(item, data)
    with pytest.raises(PackageError, match="checksum"):
        svc.check_package(tampered, uid)
    truncated = tmp_path / "truncated.mrpkg"
    truncated.write_bytes(returned.read_bytes()[: returned.stat().st_size // 2])
    with pytest.raises(PackageError, match="damaged or truncated"):
        svc.read_package_info(truncated)
    with pytest.raises(PackageError, match="no manifest"):
        svc.package_folder_summary(tmp_path)


def test_output_ratings_say_who_did_not_rate_and_why(study: Project) -> None:
    """N/A and cannot-assess are no ratings (out of majority and gold) but the adjudicator
    sees them beside the ratings."""
    from medreview.domain.not_assessed import ALL_ROWS, CANNOT_ASSESS_KEY, NOT_APPLICABLE

    _rate(study, "A", 1, {"criterion:dx": NOT_APPLICABLE, "overall": 2})
    _rate(study, "B", 1, {"criterion:dx": True, "overall": 4})
    _rate(study, "C", 1, {CANNOT_ASSESS_KEY: {"reason": "outside_specialty", "note": ""}})
    _rate(study, "D", 1, {"criterion:dx": NOT_APPLICABLE}, status="draft")  # unfinished
    r = svc.output_ratings(study, 1)
    assert r.ratings["criterion:dx"] == {"B": True}
    assert r.ratings["overall"] == {"A": 2, "B": 4}
    assert r.not_assessed == {"criterion:dx": {"A": "N/A"},
                              ALL_ROWS: {"C": "cannot assess (Outside my specialty)"}}
