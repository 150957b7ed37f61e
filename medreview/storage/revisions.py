"""Append-only judgment revisions: the one way a judgment's content changes.

``append_revision`` is also where a revision's overall score is decided: every writer
(grading, imports, the LLM judge, merged rater packages, undo) goes through it, and it scores
the answers with ``domain.scoring.judgment_score`` under the form the revision records, so a
caller's ``overall_score`` (a stale draft, a forged package) is never stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form, Question, case_criterion_question
from medreview.domain.scoring import judgment_score
from medreview.storage.base import utcnow
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    CaseCriterionRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
)


@dataclass(frozen=True)
class RevisionContent:
    answers: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    rationale: str = ""
    confidence: float | None = None
    overall_score: float | None = None
    time_on_task_s: float = 0.0
    flagged: bool = False
    skipped: bool = False
    status: str = "draft"  # draft | done | skipped

    def fingerprint(self) -> str:
        """What makes two revisions "the same judgment" (time on task excluded)."""
        payload = {
            "answers": self.answers,
            "annotations": self.annotations,
            "rationale": self.rationale,
            "confidence": self.confidence,
            "flagged": self.flagged,
            "skipped": self.skipped,
            "status": self.status,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def content_of(row: JudgmentRevisionRow) -> RevisionContent:
    return RevisionContent(
        answers=dict(row.answers),
        annotations=list(row.annotations),
        rationale=row.rationale,
        confidence=row.confidence,
        overall_score=row.overall_score,
        time_on_task_s=row.time_on_task_s,
        flagged=row.flagged,
        skipped=row.skipped,
        status=row.status,
    )


def latest_revision(session: Session, judgment_id: int) -> JudgmentRevisionRow | None:
    return session.scalars(
        select(JudgmentRevisionRow)
        .where(JudgmentRevisionRow.judgment_id == judgment_id)
        .order_by(JudgmentRevisionRow.revision_no.desc())
    ).first()


def get_or_create_judgment(session: Session, rater_id: int, output_id: int) -> JudgmentRow:
    row = session.scalars(
        select(JudgmentRow)
        .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id)
        .execution_options(populate_existing=True)  # a long-lived session may hold a stale copy
    ).first()
    if row is None:
        row = JudgmentRow(
            rater_id=rater_id, output_id=output_id, status="draft", current_revision_no=0
        )
        session.add(row)
        session.flush()
    return row


def _form(session: Session, form_id: int) -> Form | None:
    """The parsed form of ``form_id``, parsed once per session (imports write thousands)."""
    row = session.get(FormRow, form_id)
    if row is None:
        return None
    cache: dict[tuple[int, str], Form] = session.info.setdefault("medreview.forms", {})
    key = (row.id, row.sha256)  # a form without judgments may be replaced in place
    if key not in cache:
        cache[key] = form_from_row(row)
    return cache[key]


def case_questions_of(session: Session, output_id: int) -> tuple[Question, ...]:
    """The per-case criteria of the output's case, as questions, in their order."""
    rows = session.scalars(
        select(CaseCriterionRow)
        .join(OutputRow, OutputRow.case_id == CaseCriterionRow.case_id)
        .where(OutputRow.id == output_id)
        .order_by(CaseCriterionRow.position)
    )
    return tuple(case_criterion_question(c.key, c.text, c.points, tuple(c.tags)) for c in rows)


def score_of(
    session: Session, *, form_id: int, output_id: int, answers: Mapping[str, Any], status: str
) -> float | None:
    """The overall score of answers to ``output_id`` under form ``form_id`` (the core's rule)."""
    form = _form(session, form_id)
    if form is None or form.scoring is None:
        return None
    cases = case_questions_of(session, output_id) if form.per_case_criteria else ()
    return judgment_score(form, answers, cases, status=status)


def append_revision(
    session: Session,
    *,
    rater_id: int,
    output_id: int,
    content: RevisionContent,
    form_id: int,
    taxonomy_id: int | None,
    author: str,
    source: str,
    dedupe: bool = False,
    uid: str | None = None,
    guideline_version: int | None = None,
) -> JudgmentRevisionRow | None:
    """Add a revision; with ``dedupe`` an identical newest revision means nothing is added.

    The stored ``overall_score`` is computed here from the answers and the form (see the module
    docstring); ``content.overall_score`` is ignored.
    """
    judgment = get_or_create_judgment(session, rater_id, output_id)
    if (
        uid is not None
        and session.scalar(select(JudgmentRevisionRow.id).where(JudgmentRevisionRow.uid == uid))
        is not None
    ):
        return None
    if dedupe:
        latest = latest_revision(session, judgment.id)
        if latest is not None and content_of(latest).fingerprint() == content.fingerprint():
            return None
    # Numbered from the rows themselves, inside the write transaction (BEGIN IMMEDIATE, see
    # storage/engine.py): no other writer can add a revision between this read and the insert.
    last = session.scalar(
        select(func.max(JudgmentRevisionRow.revision_no)).where(
            JudgmentRevisionRow.judgment_id == judgment.id
        )
    )
    revision_no = max(int(last or 0), judgment.current_revision_no) + 1
    content = replace(content, overall_score=score_of(
        session, form_id=form_id, output_id=output_id, answers=content.answers,
        status=content.status))
    row = JudgmentRevisionRow(
        uid=uid or uuid.uuid4().hex,
        judgment_id=judgment.id,
        revision_no=revision_no,
        form_id=form_id,
        taxonomy_id=taxonomy_id,
        answers=content.answers,
        annotations=content.annotations,
        rationale=content.rationale,
        confidence=content.confidence,
        overall_score=content.overall_score,
        time_on_task_s=content.time_on_task_s,
        flagged=content.flagged,
        skipped=content.skipped,
        status=content.status,
        author=author,
        source=source,
        guideline_version=guideline_version,
    )
    session.add(row)
    judgment.current_revision_no = revision_no
    judgment.status = content.status
    judgment.flagged = content.flagged
    judgment.updated_at = utcnow()
    session.flush()
    return row
