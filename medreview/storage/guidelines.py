"""Grading guidelines per form key: append-only Markdown versions (schema 0006).

Saving text that differs from the newest version adds version n+1; the same text adds nothing.
Rows are never updated or deleted, so the version a judgment revision records stays readable.
A rubric and an error taxonomy are both forms, so each has its own guidelines under its key.

A judgment revision records the versions shown in one integer (``domain.guideline_versions``),
which is why no form's guidelines may pass ``MAX_GUIDELINE_VERSION``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.domain.guideline_versions import MAX_GUIDELINE_VERSION
from medreview.errors import MedreviewError
from medreview.storage.models import GuidelineRow
from medreview.storage.project import Project

# Guidelines are prose for people; a megabyte is far beyond any real one and bounds what a
# pasted file (or a hostile package) can make every grading screen load and render.
MAX_GUIDELINE_CHARS = 200_000


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def latest_guideline(session: Session, form_key: str) -> GuidelineRow | None:
    return session.scalars(
        select(GuidelineRow)
        .where(GuidelineRow.form_key == form_key)
        .order_by(GuidelineRow.version.desc())
    ).first()


def guideline_at(session: Session, form_key: str, version: int) -> GuidelineRow | None:
    return session.scalars(
        select(GuidelineRow).where(GuidelineRow.form_key == form_key,
                                   GuidelineRow.version == version)
    ).first()


def guideline_versions(session: Session, form_key: str) -> list[GuidelineRow]:
    """Every version of ``form_key``'s guidelines, newest first."""
    return list(session.scalars(
        select(GuidelineRow)
        .where(GuidelineRow.form_key == form_key)
        .order_by(GuidelineRow.version.desc())
    ))


def save_guideline(session: Session, form_key: str, text: str, author: str
                   ) -> tuple[GuidelineRow, bool]:
    """Store ``text`` as the newest version; returns (the row now newest, whether it is new).

    Call inside a write transaction: the version is numbered from ``max(version)`` read under
    the write lock, so two editors cannot both write version n+1.
    """
    latest = latest_guideline(session, form_key)
    sha = text_sha(text)
    if latest is not None and latest.sha256 == sha:
        return latest, False
    last = session.scalar(
        select(func.max(GuidelineRow.version)).where(GuidelineRow.form_key == form_key))
    version = int(last or 0) + 1
    if version > MAX_GUIDELINE_VERSION:  # a revision could no longer record it
        raise MedreviewError(f"the guidelines already have {version - 1:,} versions, the most "
                             "a project keeps", item=f"guidelines of {form_key}")
    row = GuidelineRow(form_key=form_key, version=version, text=text, sha256=sha,
                       author=author)
    session.add(row)
    session.flush()
    return row, True


# --- for code outside storage: plain values, one transaction each ---------------------------


@dataclass(frozen=True)
class GuidelineView:
    form_key: str
    version: int
    text: str
    author: str
    created_at: dt.datetime


def _view(row: GuidelineRow) -> GuidelineView:
    return GuidelineView(row.form_key, row.version, row.text, row.author, row.created_at)


def current_guideline(project: Project, form_key: str) -> GuidelineView | None:
    with project.read() as s:
        row = latest_guideline(s, form_key)
        return _view(row) if row is not None else None


def guideline_history(project: Project, form_key: str) -> list[GuidelineView]:
    with project.read() as s:
        return [_view(r) for r in guideline_versions(s, form_key)]


def guideline_version(project: Project, form_key: str, version: int) -> GuidelineView | None:
    with project.read() as s:
        row = guideline_at(s, form_key, version)
        return _view(row) if row is not None else None


def store_guideline(project: Project, form_key: str, text: str, author: str
                    ) -> tuple[GuidelineView, bool]:
    with project.transaction() as s:
        row, added = save_guideline(s, form_key, text, author)
        return _view(row), added


def current_guidelines(project: Project, form_keys: tuple[str, ...]
                       ) -> dict[str, GuidelineView]:
    """The newest guidelines of each of ``form_keys`` that has any, in one read."""
    with project.read() as s:
        found = {k: latest_guideline(s, k) for k in dict.fromkeys(form_keys) if k}
        return {k: _view(row) for k, row in found.items() if row is not None}
