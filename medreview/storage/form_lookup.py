"""The project's active forms as plain values, and the form changes imports make.

``storage/forms.py`` registers and versions forms; this module reads them for the use-cases
(the judge, imports, training exports) and holds the short transactions that imports need:
adding a built-in rubric, extending the active rubric by scorer questions, and undoing either
when the import that follows fails. Nothing here returns an ORM row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form
from medreview.storage.forms import active_form_rows, form_from_row, register_form
from medreview.storage.models import FormRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class StoredForm:
    """A form version as stored: its row id (what revisions point at) and its content."""

    id: int
    key: str
    version: int
    form: Form


def _stored(row: FormRow) -> StoredForm:
    return StoredForm(row.id, row.key, row.version, form_from_row(row))


def active_forms_in(session: Session) -> tuple[StoredForm | None, StoredForm | None]:
    """The active rubric and taxonomy, inside a storage-level unit of work."""
    rubric, taxonomy = active_form_rows(session)
    return (_stored(rubric) if rubric is not None else None,
            _stored(taxonomy) if taxonomy is not None else None)


def active_form_ids_in(session: Session) -> tuple[int | None, int | None]:
    """The row ids of the active rubric and taxonomy (no parsing: for hot write paths)."""
    rubric, taxonomy = active_form_rows(session)
    return (rubric.id if rubric is not None else None,
            taxonomy.id if taxonomy is not None else None)


def active_forms(project: Project) -> tuple[StoredForm | None, StoredForm | None]:
    """The project's active rubric and taxonomy (None where there is none)."""
    with project.read() as s:
        return active_forms_in(s)


@dataclass(frozen=True)
class EnsuredRubric:
    """What ``ensure_active_rubric`` found or did.

    ``form`` is None when the call was refused: the project grades with another rubric
    (``active_key``) or holds an inactive version of the one asked for (``active_key`` None).
    """

    form: StoredForm | None
    added: bool
    active_key: str | None = None


def ensure_active_rubric(project: Project, key: str, make: Callable[[], Form]) -> EnsuredRubric:
    """Make rubric ``key`` the active one if the project has no rubric at all.

    In one write transaction: the active rubric when it is ``key`` already; a refusal when
    another rubric is active or ``key`` is stored but inactive (switching the form physicians
    grade with is not an import's decision); otherwise ``make()`` is stored and activated.
    """
    with project.transaction() as s:
        active, _ = active_form_rows(s)
        if active is not None and active.key == key:
            return EnsuredRubric(_stored(active), added=False)
        known = s.scalar(select(FormRow.id).where(FormRow.key == key).limit(1))
        if active is not None or known is not None:
            return EnsuredRubric(None, added=False,
                                 active_key=active.key if active is not None else None)
        return EnsuredRubric(_stored(register_form(s, make())), added=True)


def delete_form(project: Project, form_id: int) -> None:
    """Remove one form version (one an import added, when that import fails)."""
    with project.transaction() as s:
        row = s.get(FormRow, form_id)
        if row is not None:
            s.delete(row)


@dataclass(frozen=True)
class FormState:
    """The mutable part of a stored form version, kept to put it back."""

    id: int
    active: bool
    definition: dict[str, Any]
    sha256: str
    name: str


def change_active_rubric(
    project: Project, change: Callable[[Form | None], Form | None]
) -> tuple[FormState, ...] | None:
    """Register ``change(active rubric)`` (None: nothing to change) in one transaction.

    ``change`` may raise to refuse; then nothing is written. Returns the state of every form
    version before the change, for ``restore_forms``, or None when nothing changed.
    ``register_form`` decides whether the change is a new version (judgments use the current
    one) or replaces it in place.
    """
    with project.transaction() as s:
        active, _ = active_form_rows(s)
        form = change(form_from_row(active) if active is not None else None)
        if form is None:
            return None
        before = tuple(FormState(r.id, r.active, dict(r.definition), r.sha256, r.name)
                       for r in s.scalars(select(FormRow)))
        register_form(s, form)
        return before


def restore_forms(project: Project, before: tuple[FormState, ...]) -> None:
    """Put the forms back as ``before`` (from ``change_active_rubric``): versions added since
    are removed, the others get their earlier content and active flag back."""
    with project.transaction() as s:
        kept = {b.id: b for b in before}
        for row in s.scalars(select(FormRow)):
            old = kept.get(row.id)
            if old is None:
                s.delete(row)
                continue
            row.active = old.active
            row.definition = old.definition
            row.sha256 = old.sha256
            row.name = old.name
