"""The rubric/taxonomy editor's use-cases: load the active form, validate a draft, save it as a
version, export it, and keep the grading guidelines of each form.

Validation is the file loader's own (``rubrics.load.parse_form``) run on the mapping the editor
holds, so a mistake reads the same in the editor as in a YAML file (the field path and reason;
the editor has no file name or line to add). Saving goes through ``storage.forms.register_form``:
a form that is in use (judgments, a judge run, an issued rater package) gets a new version and
the graded one is never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from medreview.domain.changes import Changes
from medreview.domain.rubric import Form, FormKind
from medreview.errors import MedreviewError, RubricError
from medreview.rubrics.load import dump_form, parse_form
from medreview.storage import guidelines as guideline_store
from medreview.storage.forms import FormSnapshot as FormSnapshot  # part of this API
from medreview.storage.forms import StoredVersion, active_form, store_form
from medreview.storage.guidelines import GuidelineView as GuidelineView  # part of this API
from medreview.storage.project import Project

# What the editor names as the "file" of its messages: nothing, so that a message is exactly the
# loader's field path and reason (``questions[2].points: points must not be 0 ...``).
EDITOR_SOURCE = ""


@dataclass(frozen=True)
class SavedForm(StoredVersion):
    """The stored version of a save, and what the screens refresh."""

    changes: Changes


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
    return active_form(project, kind)


def save_form(project: Project, form: Form) -> SavedForm:
    """Store ``form`` as the active form of its kind (a new version if the stored one is used)."""
    parse_form(form.to_dict(), EDITOR_SOURCE)  # never store what would not load back
    stored = store_form(project, form)
    return SavedForm(stored.key, stored.version, stored.new_version, stored.unchanged,
                     changes=Changes(rubrics=True))


def export_form(form: Form, path: str | os.PathLike[str]) -> None:
    """Write ``form`` as a YAML or JSON file that ``load_form`` reads back equal."""
    dump_form(form, path)


# --- guidelines ------------------------------------------------------------------------------


def current_guideline(project: Project, form_key: str) -> GuidelineView | None:
    """The newest guidelines of ``form_key`` (what the grading screen shows), or None."""
    return guideline_store.current_guideline(project, form_key)


def guideline_history(project: Project, form_key: str) -> list[GuidelineView]:
    """Every saved version, newest first (old versions are kept, never edited)."""
    return guideline_store.guideline_history(project, form_key)


def guideline_version(project: Project, form_key: str, version: int) -> GuidelineView | None:
    return guideline_store.guideline_version(project, form_key, version)


def save_guideline(project: Project, form_key: str, text: str, author: str
                   ) -> tuple[GuidelineView, bool]:
    """Save ``text`` as a new version of ``form_key``'s guidelines (nothing if unchanged).

    Returns the newest version and whether this call added it.
    """
    if len(text) > guideline_store.MAX_GUIDELINE_CHARS:
        raise MedreviewError(
            f"guidelines are {len(text):,} characters; the limit is "
            f"{guideline_store.MAX_GUIDELINE_CHARS:,}", item=f"guidelines of {form_key}")
    return guideline_store.store_guideline(project, form_key, text, author)
