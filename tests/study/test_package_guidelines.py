"""Grading guidelines travel in rater packages, and the version a rater graded with comes back
with the merged revisions (audit)."""

from __future__ import annotations

from pathlib import Path

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import FormKind
from medreview.services import form_editing, grading
from medreview.storage.assignments import rater_by_name
from medreview.storage.audit import judgment_history
from medreview.storage.project import Project, open_project
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package, seal_package, unpack_package


def test_guidelines_travel_and_the_version_graded_with_is_merged_back(
        study: Project, tmp_path: Path) -> None:
    assign(study, AssignmentDesign(("Dr A",), per_output=1, seed=1))
    key = form_editing.load_active(study, FormKind.RUBRIC).form.key
    form_editing.save_guideline(study, key, "# v1", "lead")
    form_editing.save_guideline(study, key, "# v2: count explicit advice only", "lead")
    info = build_package(study, "Dr A", tmp_path / "a.mrpkg")
    folder = unpack_package(info.path, tmp_path / "a")
    pkg = open_project(folder)
    try:
        shown = form_editing.current_guideline(pkg, key)
        assert shown is not None and (shown.version, shown.text) == (
            2, "# v2: count explicit advice only")
        assert [g.version for g in form_editing.guideline_history(pkg, key)] == [2, 1]
        with pkg.read() as s:
            rater_id = rater_by_name(s, "Dr A").id
        out_id = grading.load_queue(pkg, rater_id)[0].output_id
        grading.save_revision(pkg, rater_id, out_id, JudgmentDraft(answers={"overall": 4}),
                              status="draft", guideline_version=shown.version)
    finally:
        pkg.close()
    sealed = seal_package(folder, tmp_path / "a-graded.mrpkg").path
    merge_packages(study, [sealed])
    merged = [r for r in judgment_history(study) if r["rater"] == "Dr A"]
    assert [(r["answers"], r["guideline_version"]) for r in merged] == [({"overall": 4}, 2)]


def test_a_forged_guideline_version_is_refused_in_one_line(study: Project, tmp_path: Path
                                                           ) -> None:
    import sqlite3

    import pytest

    from medreview.errors import PackageError

    assign(study, AssignmentDesign(("Dr A",), per_output=1, seed=1))
    info = build_package(study, "Dr A", tmp_path / "a.mrpkg")
    folder = unpack_package(info.path, tmp_path / "a")
    pkg = open_project(folder)
    try:
        with pkg.read() as s:
            rater_id = rater_by_name(s, "Dr A").id
        out_id = grading.load_queue(pkg, rater_id)[0].output_id
        grading.save_revision(pkg, rater_id, out_id, JudgmentDraft(answers={"overall": 4}))
    finally:
        pkg.close()
    with sqlite3.connect(folder / "project.sqlite") as conn:
        conn.execute("UPDATE judgment_revision SET guideline_version = '<b>9</b>'")
    conn.close()
    sealed = seal_package(folder, tmp_path / "a-forged.mrpkg").path
    before = judgment_history(study)
    with pytest.raises(PackageError) as err:
        merge_packages(study, [sealed])
    assert "guideline version '<b>9</b>' is not a version number" in str(err.value)
    assert "\n" not in str(err.value)
    assert judgment_history(study) == before
