"""storage.form_lookup: the active forms as plain values, and the form changes imports make
(add a built-in rubric, extend the active one) with their undo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.domain.rubric import Form, FormKind
from medreview.errors import ImportFailed
from medreview.rubrics.templates import load_template
from medreview.storage.form_lookup import (
    StoredForm,
    active_forms,
    change_active_rubric,
    delete_form,
    ensure_active_rubric,
    restore_forms,
)
from medreview.storage.forms import register_form
from medreview.storage.models import FormRow
from medreview.storage.project import Project, create_project
from tests.storage.study_helpers import assert_plain


def _forms(project: Project) -> list[tuple[str, int, bool, str]]:
    with project.read() as s:
        return [(r.key, r.version, r.active, r.sha256)
                for r in s.scalars(select(FormRow).order_by(FormRow.id))]


def _add(project: Project, key: str) -> None:
    with project.transaction() as s:
        register_form(s, load_template(key))


def test_active_forms_are_plain_and_follow_activation(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        assert active_forms(project) == (None, None)
        _add(project, "healthbench")
        _add(project, "medval_errors")
        rubric, taxonomy = active_forms(project)
        assert_plain((rubric, taxonomy))
        assert isinstance(rubric, StoredForm) and isinstance(taxonomy, StoredForm)
        assert (rubric.key, rubric.version, rubric.form.kind) == ("healthbench", 1,
                                                                  FormKind.RUBRIC)
        assert taxonomy.form.kind is FormKind.TAXONOMY
        assert rubric.form == load_template("healthbench")
        _add(project, "medval")  # one active rubric: the newest registered
        now, _tax = active_forms(project)
        assert now is not None and now.key == "medval" and now.id != rubric.id


def test_ensure_active_rubric_adds_only_into_a_project_without_one(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        made: list[str] = []

        def make() -> Form:
            made.append("medec")
            return load_template("medec")

        first = ensure_active_rubric(project, "medec", make)
        assert first.added and first.form is not None and first.form.key == "medec"
        again = ensure_active_rubric(project, "medec", make)
        assert (again.added, again.form) == (False, first.form)
        assert made == ["medec"]  # the template is built only when it is stored
        refused = ensure_active_rubric(project, "medval", make)
        assert (refused.form, refused.added, refused.active_key) == (None, False, "medec")
        assert [f[0] for f in _forms(project)] == ["medec"]  # nothing written by a refusal
        delete_form(project, first.form.id)
        assert _forms(project) == []


def test_an_inactive_version_of_the_key_is_refused_too(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        with project.transaction() as s:
            register_form(s, load_template("medval"), activate=False)
        refused = ensure_active_rubric(project, "medval", lambda: load_template("medval"))
        assert (refused.form, refused.active_key) == (None, None)


def test_change_active_rubric_and_restore(tmp_path: Path) -> None:
    with create_project(tmp_path / "p") as project:
        _add(project, "healthbench")
        before_rows = _forms(project)
        assert change_active_rubric(project, lambda current: None) is None
        assert _forms(project) == before_rows

        with pytest.raises(ImportFailed):
            change_active_rubric(project, lambda current: (_ for _ in ()).throw(
                ImportFailed("refused")))
        assert _forms(project) == before_rows

        seen: list[Form | None] = []

        def extend(current: Form | None) -> Form | None:
            seen.append(current)
            assert current is not None
            extra = replace(load_template("medval").questions[0], id="extra_q")
            return replace(current, questions=(*current.questions, extra))

        state = change_active_rubric(project, extend)
        assert state is not None
        assert_plain(state)
        assert seen == [load_template("healthbench")]
        rubric, _ = active_forms(project)
        assert rubric is not None and rubric.form.questions[-1].id == "extra_q"
        assert _forms(project) != before_rows  # replaced in place: no judgments use it
        restore_forms(project, state)
        assert _forms(project) == before_rows
        rubric, _ = active_forms(project)
        assert rubric is not None and rubric.form == load_template("healthbench")
