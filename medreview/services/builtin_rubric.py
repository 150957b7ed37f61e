"""The built-in rubric a benchmark's ground truth is stored on (MEDEC, MedVAL-Bench).

Ratings are stored under the project's active rubric, so before such an import the rubric must
be the benchmark's: a project without any rubric gets the template added (and made active); a
project that grades with another rubric is refused with the command that adds it, since
switching the form physicians grade with is the study lead's decision. The template is added in
its own transaction before the records are written; ``undo`` removes it again when that import
fails, so a refused file still leaves the project exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from medreview.errors import ImportFailed
from medreview.rubrics.templates import load_template
from medreview.storage.forms import active_form_rows, register_form
from medreview.storage.models import FormRow
from medreview.storage.project import Project


def ensure_rubric(project: Project, key: str, source: str) -> Callable[[], None] | None:
    """Make the built-in rubric ``key`` the active one; return how to undo it, if it was added."""
    with project.transaction() as s:
        active, _ = active_form_rows(s)
        if active is not None and active.key == key:
            return None
        known = s.scalar(select(FormRow.id).where(FormRow.key == key).limit(1))
        if active is not None or known is not None:
            grading = f"grades with rubric {active.key!r}" if active else f"has an inactive {key!r}"
            raise ImportFailed(
                f"this project {grading}; the benchmark's ground truth is stored on the built-in "
                f"{key!r} rubric: add it first with `medreview import PROJECT --rubric {key} "
                "FILE` (it becomes the rubric physicians grade with) or import into a new project",
                source=source,
            )
        form_id = register_form(s, load_template(key)).id

    def undo() -> None:
        with project.transaction() as s:
            row = s.get(FormRow, form_id)
            if row is not None:
                s.delete(row)

    return undo
