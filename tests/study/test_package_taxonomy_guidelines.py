"""The error taxonomy's grading guidelines are versioned like the rubric's, travel in rater
packages, and the pair of versions a rater graded with comes back with the merged revisions
into the audit export (two columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import FormKind
from medreview.errors import MedreviewError
from medreview.services import form_editing, grading, guidelines
from medreview.services.study import export_audit
from medreview.storage.assignments import rater_by_name
from medreview.storage.project import Project, open_project
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package, seal_package, unpack_package


def _keys(project: Project) -> tuple[str, str]:
    rubric = form_editing.load_active(project, FormKind.RUBRIC).form
    taxonomy = form_editing.load_active(project, FormKind.TAXONOMY).form
    assert rubric is not None and taxonomy is not None
    return rubric.key, taxonomy.key


def test_taxonomy_guidelines_travel_and_both_versions_reach_the_audit_export(
        study: Project, tmp_path: Path) -> None:
    assign(study, AssignmentDesign(("Dr A",), per_output=1, seed=1))
    rubric_key, tax_key = _keys(study)
    form_editing.save_guideline(study, rubric_key, "# rubric v1", "lead")
    for i in (1, 2, 3):
        form_editing.save_guideline(study, tax_key, f"# omission means v{i}", "lead")
    shown = guidelines.shown_guidelines(study, rubric_key, tax_key)
    assert shown.rubric is not None and shown.rubric.version == 1
    assert shown.taxonomy is not None and shown.taxonomy.version == 3
    assert shown.recorded == 300_001
    info = build_package(study, "Dr A", tmp_path / "a.mrpkg")
    folder = unpack_package(info.path, tmp_path / "a")
    pkg = open_project(folder)
    try:
        there = guidelines.shown_guidelines(pkg, rubric_key, tax_key)
        assert there.taxonomy is not None and there.taxonomy.text == "# omission means v3"
        assert [g.version for g in form_editing.guideline_history(pkg, tax_key)] == [3, 2, 1]
        with pkg.read() as s:
            rater_id = rater_by_name(s, "Dr A").id
        queue = grading.load_queue(pkg, rater_id)
        grading.save_revision(pkg, rater_id, queue[0].output_id,
                              JudgmentDraft(answers={"overall": 4}),
                              guideline_version=there.recorded)
        # only the taxonomy had guidelines for the second answer
        only_tax = guidelines.recorded_versions(None, 3)
        grading.save_revision(pkg, rater_id, queue[1].output_id,
                              JudgmentDraft(answers={"overall": 2}), guideline_version=only_tax)
    finally:
        pkg.close()
    merge_packages(study, [seal_package(folder, tmp_path / "a-graded.mrpkg").path])
    out = export_audit(study, tmp_path / "audit", "jsonl", pseudonymise=False)
    rows = [json.loads(line) for line in
            next(p for p in out if p.name.startswith("judgment_history")).read_text()
            .splitlines()]
    got = sorted((r["answers"]["overall"], r["guideline_version"],
                  r["taxonomy_guideline_version"]) for r in rows if r["rater"] == "Dr A")
    assert got == [(2, None, 3), (4, 1, 3)]


def test_a_form_past_the_last_recordable_version_is_refused_in_one_line(
        study: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from medreview.storage import guidelines as store

    _rubric_key, tax_key = _keys(study)
    monkeypatch.setattr(store, "MAX_GUIDELINE_VERSION", 2)
    form_editing.save_guideline(study, tax_key, "v1", "lead")
    form_editing.save_guideline(study, tax_key, "v2", "lead")
    with pytest.raises(MedreviewError) as err:
        form_editing.save_guideline(study, tax_key, "v3", "lead")
    assert "\n" not in str(err.value) and "2 versions" in str(err.value)
    assert [g.version for g in form_editing.guideline_history(study, tax_key)] == [2, 1]
