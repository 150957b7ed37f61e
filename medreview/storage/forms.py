"""Rubric and taxonomy versions in the database.

Editing a form that is in use adds a new version; judgments keep pointing at the version they
were made under. In use means: a judgment revision names it (as rubric or taxonomy), a judge run
names it, or a rater package was issued since it was stored (packages carry every form, and a
returned package is merged only against the exact form it was graded with). A form that is in
none of these is replaced in place.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form, FormKind
from medreview.storage.models import (
    FormRow,
    IssuedPackageRow,
    JudgeRunRow,
    JudgmentRevisionRow,
)
from medreview.storage.project import Project

# Parsed forms by their exact stored text: the grading screen loads the active forms with every
# item, and parsing (validation included) was a third of that load. Keyed by the definition
# itself, not the stored sha256, so a row whose hash does not match its text (a forged
# package) can never be served another form's parse. Forms are frozen, so sharing is safe.
_PARSED: OrderedDict[tuple[str, int, str], Form] = OrderedDict()
_PARSED_MAX = 32
_PARSED_LOCK = threading.Lock()


def form_from_row(row: FormRow) -> Form:
    from medreview.rubrics.load import parse_form

    key = (row.key, row.version, json.dumps(row.definition, sort_keys=True, default=str))
    with _PARSED_LOCK:
        form = _PARSED.get(key)
        if form is not None:
            _PARSED.move_to_end(key)
            return form
    form = parse_form(row.definition, source=f"form {row.key} v{row.version}")
    with _PARSED_LOCK:
        _PARSED[key] = form
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return form


def register_form(session: Session, form: Form, *, activate: bool = True) -> FormRow:
    """Store ``form``; return the row of the version that now holds its content."""
    rows = session.scalars(
        select(FormRow).where(FormRow.key == form.key).order_by(FormRow.version.desc())
    ).all()
    if activate:
        # One active form per kind: grading uses the active rubric and the active taxonomy.
        for other in session.scalars(
            select(FormRow).where(FormRow.kind == form.kind.value, FormRow.key != form.key)
        ):
            other.active = False
    if rows:
        latest = rows[0]
        latest.active = activate or latest.active
        if latest.sha256 == form_sha(_with_version(form, latest.version)):
            return latest
        if not form_in_use(session, latest):
            latest.definition = _with_version(form, latest.version)
            latest.sha256 = form_sha(latest.definition)
            latest.name = form.name
            return latest
        version = latest.version + 1
        for r in rows:
            r.active = False
    else:
        version = form.version
    definition = _with_version(form, version)
    row = FormRow(
        key=form.key,
        version=version,
        kind=form.kind.value,
        name=form.name,
        definition=definition,
        sha256=form_sha(definition),
        active=activate,
    )
    session.add(row)
    session.flush()
    return row


def form_in_use(session: Session, row: FormRow) -> bool:
    """True if changing ``row`` in place would change graded (or handed-out) work."""
    if judgment_count(session, row):
        return True
    if session.scalar(select(func.count()).select_from(JudgeRunRow)
                      .where(JudgeRunRow.form_id == row.id)):
        return True
    issued = session.scalar(select(func.count()).select_from(IssuedPackageRow)
                            .where(IssuedPackageRow.issued_at >= row.created_at))
    return bool(issued)


def judgment_count(session: Session, row: FormRow) -> int:
    """How many judgment revisions were made under ``row`` (as rubric or taxonomy)."""
    rev = JudgmentRevisionRow
    return int(session.scalar(
        select(func.count()).select_from(rev)
        .where((rev.form_id == row.id) | (rev.taxonomy_id == row.id))
    ) or 0)


def _with_version(form: Form, version: int) -> dict[str, object]:
    d = form.to_dict()
    d["version"] = version
    return d


def form_sha(definition: dict[str, object]) -> str:
    import hashlib
    import json

    payload = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _active_row(session: Session, kind: FormKind) -> FormRow | None:
    return session.scalars(
        select(FormRow)
        .where(FormRow.kind == kind.value, FormRow.active.is_(True))
        .order_by(FormRow.id.desc())
    ).first()


def active_form_rows(session: Session) -> tuple[FormRow | None, FormRow | None]:
    """The active rubric and taxonomy (latest active version of each)."""
    return _active_row(session, FormKind.RUBRIC), _active_row(session, FormKind.TAXONOMY)


# --- for code outside storage: plain values, one transaction each ---------------------------


@dataclass(frozen=True)
class FormSnapshot:
    """The active form of one kind as the editor opens it."""

    kind: FormKind
    form: Form | None  # None: the project has no form of this kind yet
    in_use: bool  # saving a change makes a new version
    judgments: int  # revisions made under this version


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version: int
    new_version: bool  # False: the stored version was replaced in place (it was unused)
    unchanged: bool  # the content was already stored as this version


def active_form(project: Project, kind: FormKind) -> FormSnapshot:
    with project.read() as s:
        row = _active_row(s, kind)
        if row is None:
            return FormSnapshot(kind, None, False, 0)
        return FormSnapshot(kind, form_from_row(row), form_in_use(s, row), judgment_count(s, row))


def has_active_rubric(project: Project) -> bool:
    with project.read() as s:
        return _active_row(s, FormKind.RUBRIC) is not None


def store_form(project: Project, form: Form) -> StoredVersion:
    """Store ``form`` as the active form of its kind, in one write transaction."""
    with project.transaction() as s:
        rubric, taxonomy = active_form_rows(s)
        before = rubric if form.kind is FormKind.RUBRIC else taxonomy
        before_id = before.id if before is not None and before.key == form.key else None
        before_sha = before.sha256 if before is not None else None
        row = register_form(s, form, activate=True)
        return StoredVersion(key=row.key, version=row.version,
                             new_version=before_id is not None and row.id != before_id,
                             unchanged=row.id == before_id and row.sha256 == before_sha)
