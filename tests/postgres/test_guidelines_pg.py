"""Grading guidelines and form versions on PostgreSQL: the editor's saves and the version a
grade records behave as on SQLite (schema 0006 on a real server)."""

from __future__ import annotations

import dataclasses

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import FormKind
from medreview.rubrics.templates import load_template
from medreview.services import form_editing, grading
from medreview.services.projects import add_rater, create_project
from medreview.storage.audit import judgment_history
from medreview.storage.ingest import ingest
from tests.storage.helpers import case, located, output


def test_guidelines_versions_and_the_recorded_version_on_postgresql(pg_url: str) -> None:
    with create_project(pg_url, "guidelines") as project:
        form = load_template("quality_harm")
        assert form_editing.save_form(project, form).version == 1
        ingest(project, located([case("a"), output("a", "m1", "Give 10 mg.")]), source="t",
               importer="t")
        g1, _ = form_editing.save_guideline(project, form.key, "# v1", "lead")
        g2, _ = form_editing.save_guideline(project, form.key, "# v2", "lead")
        assert (g1.version, g2.version) == (1, 2)
        rater = add_rater(project, "Dr A")
        out_id = grading.load_queue(project, rater.id)[0].output_id
        grading.save_revision(project, rater.id, out_id, JudgmentDraft(answers={"quality": 4}),
                              guideline_version=g2.version)
        assert form_editing.load_active(project, FormKind.RUBRIC).in_use
        edited = dataclasses.replace(form, name="Quality and harm (v2)")
        saved = form_editing.save_form(project, edited)
        assert (saved.version, saved.new_version) == (2, True)
        audit = judgment_history(project)
        assert [(r["form_version"], r["guideline_version"]) for r in audit] == [(1, 2)]
        assert [g.version for g in form_editing.guideline_history(project, form.key)] == [2, 1]
