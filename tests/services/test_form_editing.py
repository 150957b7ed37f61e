"""The editor's core: validation in the loader's words, versions that never change graded work,
YAML export that loads back equal, and versioned grading guidelines (schema 0006)."""

from __future__ import annotations

import dataclasses
import io
import sqlite3
from pathlib import Path

import pytest
import yaml
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine, inspect, select

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import Form, FormKind, Option, Question, QuestionKind
from medreview.errors import MedreviewError, RubricError
from medreview.rubrics.load import load_form
from medreview.rubrics.templates import load_template
from medreview.services import form_editing, grading
from medreview.services.projects import add_form, add_rater
from medreview.storage import schema
from medreview.storage.audit import judgment_history
from medreview.storage.ingest import ingest
from medreview.storage.models import FormRow, IssuedPackageRow, JudgmentRevisionRow
from medreview.storage.project import Project, create_project, open_project
from tests.storage.helpers import case, located, output


def _rubric(version: int = 1, points: float = 3) -> Form:
    return Form(
        key="ds", version=version, name="Discharge review", kind=FormKind.RUBRIC,
        scoring="sum",
        questions=(
            Question("follow_up", QuestionKind.CRITERION, "States the follow-up", points=points,
                     required=True),
            Question("quality", QuestionKind.ORDINAL, "Overall quality",
                     options=(Option(1, "Poor"), Option(2, "Good"))),
        ),
    )


@pytest.fixture
def proj(empty_project: Project) -> Project:
    ingest(empty_project, located([case("a"), output("a", "m1", "Give 10 mg.")]),
           source="t", importer="t")
    return empty_project


def _grade(project: Project, answers: dict[str, object]) -> tuple[int, int]:
    rater = add_rater(project, "Dr A")
    out_id = grading.load_queue(project, rater.id)[0].output_id
    grading.save_revision(project, rater.id, out_id, JudgmentDraft(answers=answers))
    return rater.id, out_id


# --- validation: the loader's own message -----------------------------------------------------


def test_editor_problem_is_the_loaders_message_for_the_same_mistake(tmp_path: Path) -> None:
    data = _rubric().to_dict()
    data["questions"][0]["points"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(RubricError) as file_error:
        load_form(path)
    shown = form_editing.problem(data)
    assert shown == f"{file_error.value.item}: {file_error.value.reason}"
    assert shown == "questions[0].points: points must not be 0 (negative points mark a penalty)"
    assert form_editing.problem(_rubric().to_dict()) is None


# --- versions ---------------------------------------------------------------------------------


def test_unused_form_is_replaced_in_place(proj: Project) -> None:
    first = form_editing.save_form(proj, _rubric())
    assert (first.version, first.new_version) == (1, False)
    again = form_editing.save_form(proj, _rubric(points=4))
    assert (again.version, again.new_version, again.unchanged) == (1, False, False)
    same = form_editing.save_form(proj, _rubric(points=4))
    assert same.unchanged
    with proj.read() as s:
        assert s.scalar(select(FormRow.definition))["questions"][0]["points"] == 4
        assert len(s.scalars(select(FormRow)).all()) == 1


def test_saving_a_judged_form_adds_a_version_and_never_changes_graded_work(
        proj: Project) -> None:
    form_editing.save_form(proj, _rubric())
    rater_id, out_id = _grade(proj, {"follow_up": True, "quality": 2})
    snap = form_editing.load_active(proj, FormKind.RUBRIC)
    assert snap.in_use and snap.judgments == 1
    with proj.read() as s:
        v1 = s.scalars(select(FormRow)).one()
        v1_definition, v1_sha = dict(v1.definition), v1.sha256
        scored = s.scalars(select(JudgmentRevisionRow)).one().overall_score
    saved = form_editing.save_form(proj, _rubric(points=-5))
    assert (saved.version, saved.new_version) == (2, True)
    with proj.read() as s:
        rows = {r.version: r for r in s.scalars(select(FormRow))}
        assert rows[1].definition == v1_definition and rows[1].sha256 == v1_sha
        assert not rows[1].active and rows[2].active
        rev = s.scalars(select(JudgmentRevisionRow)).one()
        assert rev.form_id == rows[1].id and rev.overall_score == scored == 5.0
    # The grading screen now uses v2; the history still names v1 for the first revision.
    assert grading.load_item(proj, rater_id, out_id).form == dataclasses.replace(
        _rubric(points=-5), version=2)
    assert [h.form_version for h in grading.history(proj, rater_id, out_id)] == [1]


def test_a_form_in_an_issued_package_is_not_changed_in_place(proj: Project) -> None:
    form_editing.save_form(proj, _rubric())
    rater = add_rater(proj, "Dr B")
    with proj.transaction() as s:
        s.add(IssuedPackageRow(uid="p1", rater_id=rater.id, secret="0" * 64))
    assert form_editing.load_active(proj, FormKind.RUBRIC).in_use
    saved = form_editing.save_form(proj, _rubric(points=2))
    assert (saved.version, saved.new_version) == (2, True)


def test_export_writes_yaml_that_loads_back_equal(tmp_path: Path) -> None:
    for form in (_rubric(), load_template("medval"), load_template("healthbench")):
        path = tmp_path / f"{form.key}.yaml"
        form_editing.export_form(form, path)
        assert load_form(path) == form


# --- guidelines -------------------------------------------------------------------------------


def test_each_guideline_save_is_a_new_version_and_old_ones_are_kept(proj: Project) -> None:
    assert form_editing.current_guideline(proj, "ds") is None
    v1, added = form_editing.save_guideline(proj, "ds", "# Rules\nBe strict.", "lead")
    assert (v1.version, added) == (1, True)
    same, added = form_editing.save_guideline(proj, "ds", "# Rules\nBe strict.", "lead")
    assert (same.version, added) == (1, False)
    v2, _ = form_editing.save_guideline(proj, "ds", "# Rules\nBe fair.", "lead")
    assert v2.version == 2
    assert [g.version for g in form_editing.guideline_history(proj, "ds")] == [2, 1]
    old = form_editing.guideline_version(proj, "ds", 1)
    assert old is not None and old.text == "# Rules\nBe strict."
    assert form_editing.current_guideline(proj, "other") is None
    with pytest.raises(MedreviewError, match="limit"):
        form_editing.save_guideline(proj, "ds", "x" * 200_001, "lead")


def test_the_guideline_version_is_stored_with_the_revision_and_in_the_audit(
        proj: Project) -> None:
    form_editing.save_form(proj, _rubric())
    g, _ = form_editing.save_guideline(proj, "ds", "Count only explicit follow-up.", "lead")
    rater = add_rater(proj, "Dr A")
    out_id = grading.load_queue(proj, rater.id)[0].output_id
    grading.save_revision(proj, rater.id, out_id, JudgmentDraft(answers={"follow_up": True}),
                          guideline_version=g.version)
    grading.save_revision(proj, rater.id, out_id, JudgmentDraft(answers={"follow_up": False}))
    audit = judgment_history(proj)
    assert [(r["form_key"], r["guideline_version"]) for r in audit] == [("ds", 1), ("ds", None)]


# --- migration 0006 ---------------------------------------------------------------------------


@pytest.mark.sqlite_only(reason="opening a folder migrates it; a server is never migrated so")
def test_migration_0006_upgrades_an_old_project_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old"
    project = create_project(path, "old")
    add_form(project, _rubric())
    ingest(project, located([case("a"), output("a", "m1", "x")]), source="t", importer="t")
    _grade(project, {"follow_up": True})
    project.close()
    # Back to 0005 as an older medreview left it (every later revision's own downgrade).
    engine = create_engine(f"sqlite:///{path / 'project.sqlite'}")
    cfg = schema.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    engine.dispose()
    with sqlite3.connect(path / "project.sqlite") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0005",)
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'guideline'"
                                ).fetchall()
        assert "guideline_version" not in {
            r[1] for r in conn.execute("PRAGMA table_info(judgment_revision)")}
    conn.close()
    project = open_project(path)
    try:
        assert schema.current_revision(project.engine) == schema.head_revision()
        insp = inspect(project.engine)
        assert "guideline" in insp.get_table_names()
        assert "guideline_version" in {c["name"] for c in insp.get_columns("judgment_revision")}
        history = judgment_history(project)
        assert [(r["answers"], r["guideline_version"]) for r in history] == [
            ({"follow_up": True}, None)]
        v, _ = form_editing.save_guideline(project, "ds", "text", "lead")
        assert v.version == 1
    finally:
        project.close()
    assert list(path.glob("project.schema-0005.*.bak.sqlite"))


def test_migration_0006_is_plain_ddl_on_postgresql() -> None:
    """Rendered for PostgreSQL (offline): CREATE TABLE and ADD COLUMN, no SQLite table copy."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "m0006", schema.MIGRATIONS_DIR / "versions" / "0006_guidelines.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    buf = io.StringIO()
    ctx = MigrationContext.configure(dialect_name="postgresql",
                                     opts={"as_sql": True, "output_buffer": buf})
    with Operations.context(ctx):
        module.upgrade()
        module.downgrade()
    sql = buf.getvalue()
    assert "CREATE TABLE guideline" in sql
    assert "created_at TIMESTAMP WITH TIME ZONE NOT NULL" in sql
    assert "ALTER TABLE judgment_revision ADD COLUMN guideline_version INTEGER" in sql
    assert "ALTER TABLE judgment_revision DROP COLUMN guideline_version" in sql
    assert "_alembic_tmp" not in sql and "PRAGMA" not in sql
