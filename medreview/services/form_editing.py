"""The rubric/taxonomy editor's use-cases: load the active form, validate a draft, save it as a
version, export it, and keep the grading guidelines of each form.

Validation is the file loader's own (``rubrics.load.parse_form``) run on the mapping the editor
holds, so a mistake reads the same in the editor as in a YAML file (the field path and reason;
the editor has no file name or line to add). Saving goes through ``storage.forms.register_form``:
a form that is in use (judgments, a judge run, an issued rater package) gets a new version and
the graded one is never touched.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

from medreview.domain.changes import Changes
from medreview.domain.rubric import Form, FormKind
from medreview.errors import MedreviewError, RubricError
from medreview.rubrics.load import dump_form, parse_form
from medreview.storage import guidelines as guideline_store
from medreview.storage.forms import (
    active_form_rows,
    form_from_row,
    form_in_use,
    judgment_count,
    register_form,
)
from medreview.storage.models import GuidelineRow
from medreview.storage.project import Project

# What the editor names as the "file" of its messages: nothing, so that a message is exactly the
# loader's field path and reason (``questions[2].points: points must not be 0 ...``).
EDITOR_SOURCE = ""


@dataclass(frozen=True)
class FormSnapshot:
    """The active form of one kind as the editor opens it."""

    kind: FormKind
    form: Form | None  # None: the project has no form of this kind yet
    in_use: bool  # saving a change makes a new version
    judgments: int  # revisions made under this version


@dataclass(frozen=True)
class SavedForm:
    key: str
    version: int
    new_version: bool  # False: the stored version was replaced in place (it was unused)
    unchanged: bool  # the content was already stored as this version
    changes: Changes


@dataclass(frozen=True)
class GuidelineView:
    form_key: str
    version: int
    text: str
    author: str
    created_at: dt.datetime


def problem(data: Any) -> str | None:
    """Why ``data`` (a form mapping) would not load, in the loader's words; None if it loads."""
    try:
        parse_form(data, EDITOR_SOURCE)
    except RubricError as exc:
        return exc.message
    return None


def build(data: Any) -> Form:
    """The form of ``data``; raises ``RubricError`` with the loader's message."""
    return parse_form(data, EDITOR_SOURCE)


def load_active(project: Project, kind: FormKind) -> FormSnapshot:
    with project.read() as s:
        rubric, taxonomy = active_form_rows(s)
        row = rubric if kind is FormKind.RUBRIC else taxonomy
        if row is None:
            return FormSnapshot(kind, None, False, 0)
        return FormSnapshot(kind, form_from_row(row), form_in_use(s, row), judgment_count(s, row))


def save_form(project: Project, form: Form) -> SavedForm:
    """Store ``form`` as the active form of its kind (a new version if the stored one is used)."""
    parse_form(form.to_dict(), EDITOR_SOURCE)  # never store what would not load back
    with project.transaction() as s:
        rubric, taxonomy = active_form_rows(s)
        before = rubric if form.kind is FormKind.RUBRIC else taxonomy
        before_id = before.id if before is not None and before.key == form.key else None
        before_sha = before.sha256 if before is not None else None
        row = register_form(s, form, activate=True)
        return SavedForm(
            key=row.key,
            version=row.version,
            new_version=before_id is not None and row.id != before_id,
            unchanged=row.id == before_id and row.sha256 == before_sha,
            changes=Changes(rubrics=True),
        )


def export_form(form: Form, path: str | os.PathLike[str]) -> None:
    """Write ``form`` as a YAML or JSON file that ``load_form`` reads back equal."""
    dump_form(form, path)


# --- guidelines ------------------------------------------------------------------------------


def _view(row: GuidelineRow) -> GuidelineView:
    return GuidelineView(row.form_key, row.version, row.text, row.author, row.created_at)


def current_guideline(project: Project, form_key: str) -> GuidelineView | None:
    """The newest guidelines of ``form_key`` (what the grading screen shows), or None."""
    with project.read() as s:
        row = guideline_store.latest_guideline(s, form_key)
        return _view(row) if row is not None else None


def guideline_history(project: Project, form_key: str) -> list[GuidelineView]:
    """Every saved version, newest first (old versions are kept, never edited)."""
    with project.read() as s:
        return [_view(r) for r in guideline_store.guideline_versions(s, form_key)]


def guideline_version(project: Project, form_key: str, version: int) -> GuidelineView | None:
    with project.read() as s:
        row = guideline_store.guideline_at(s, form_key, version)
        return _view(row) if row is not None else None


def save_guideline(project: Project, form_key: str, text: str, author: str
                   ) -> tuple[GuidelineView, bool]:
    """Save ``text`` as a new version of ``form_key``'s guidelines (nothing if unchanged).

    Returns the newest version and whether this call added it.
    """
    if len(text) > guideline_store.MAX_GUIDELINE_CHARS:
        raise MedreviewError(
            f"guidelines are {len(text):,} characters; the limit is "
            f"{guideline_store.MAX_GUIDELINE_CHARS:,}", item=f"guidelines of {form_key}")
    with project.transaction() as s:
        row, added = guideline_store.save_guideline(s, form_key, text, author)
        return _view(row), added
