"""The audit trail as stored: every judgment revision and every gold label, as appended.

Nothing here writes: history is what the append-only tables already hold (revisions and gold
labels are never updated or deleted). Rows come back as plain dicts (one per revision), the
shape ``medreview.services.study.export_audit`` writes as tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from medreview.domain.guideline_versions import shown_versions
from medreview.storage.models import (
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project


def judgment_history(
    project: Project,
    *,
    output_id: int | None = None,
    rater: str | None = None,
    pseudonymise: bool = False,
) -> list[dict[str, Any]]:
    """Every judgment revision in order (output, rater, revision number)."""
    with project.read() as s:
        q = (
            select(JudgmentRevisionRow, JudgmentRow, RaterRow, OutputRow, CaseRow.external_id,
                   FormRow.key, FormRow.version)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .join(FormRow, FormRow.id == JudgmentRevisionRow.form_id)
            .order_by(JudgmentRow.output_id, RaterRow.id, JudgmentRevisionRow.revision_no)
        )
        if output_id is not None:
            q = q.where(JudgmentRow.output_id == output_id)
        if rater is not None:
            q = q.where(RaterRow.name == rater)
        out = []
        for rev, j, r, o, case_ext, form_key, form_version in s.execute(q):
            author = rev.author
            if pseudonymise and author == r.name:
                author = r.pseudonym
            out.append({
                "uid": rev.uid,
                "output_id": o.id,
                "case_external_id": case_ext,
                "model": o.model,
                "rater": r.pseudonym if pseudonymise else r.name,
                "revision_no": rev.revision_no,
                "is_current": rev.revision_no == j.current_revision_no,
                "created_at": rev.created_at,
                "author": author,
                "source": rev.source,
                "status": rev.status,
                "answers": rev.answers,
                "annotations": rev.annotations,
                "rationale": rev.rationale,
                "confidence": rev.confidence,
                "flagged": rev.flagged,
                "form_key": form_key,
                "form_version": form_version,
                # the grading guidelines shown when it was written, if any: the rubric's
                # (of form_key) and the error taxonomy's (one composite column, see
                # domain.guideline_versions)
                "guideline_version": shown_versions(rev.guideline_version)[0],
                "taxonomy_guideline_version": shown_versions(rev.guideline_version)[1],
            })
        return out


def gold_history(
    project: Project, *, output_id: int | None = None, pseudonymise: bool = False
) -> list[dict[str, Any]]:
    """Every gold label revision, oldest first per output x question."""
    with project.read() as s:
        raters = {r.id: r for r in s.scalars(select(RaterRow))}
        q = select(GoldLabelRow).order_by(
            GoldLabelRow.output_id, GoldLabelRow.question_id, GoldLabelRow.revision_no)
        if output_id is not None:
            q = q.where(GoldLabelRow.output_id == output_id)
        out = []
        for g in s.scalars(q):
            adj = raters.get(g.adjudicator_id) if g.adjudicator_id else None
            out.append({
                "uid": g.uid,
                "output_id": g.output_id,
                "question_id": g.question_id,
                "revision_no": g.revision_no,
                "value": g.value,
                "provenance": g.provenance,
                "rationale": g.rationale,
                "adjudicator": (adj.pseudonym if pseudonymise else adj.name) if adj else None,
                "created_at": g.created_at,
            })
        return out
