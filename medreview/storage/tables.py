"""Read-only project tables as pandas DataFrames (exports, statistics, dashboards).

Judgments are flattened to one row per output x question x rater from each judgment's newest
revision; values keep their native type (bool, number, str, list) in the ``value`` column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from medreview.domain.not_assessed import NotAssessedTally
from medreview.storage.check_items import not_attention
from medreview.storage.models import (
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
    SeriesRow,
)
from medreview.storage.project import Project
from medreview.storage.ratings_read import read_ratings_coded, read_ratings_long
from medreview.storage.revisions import gc_paused
from medreview.storage.table_read import column_rows

if TYPE_CHECKING:
    import pandas as pd

    from medreview.stats.answer_codes import AnswerCodes


def cases_table(project: Project) -> pd.DataFrame:
    import pandas as pd

    with project.read() as s:
        n_crit: dict[int, int] = {}
        for (cid,) in s.execute(select(CaseCriterionRow.case_id)):
            n_crit[cid] = n_crit.get(cid, 0) + 1
        rows = [
            {
                "case_id": c.id,
                "case_external_id": c.external_id,
                "title": c.title,
                "messages": c.messages,
                "context": c.context,
                "tags": c.tags,
                "reference_answer": c.reference_answer,
                "n_criteria": n_crit.get(c.id, 0),
                "metadata": c.meta,
                "source": c.source,
            }
            for c in s.scalars(select(CaseRow).order_by(CaseRow.id))
        ]
    return pd.DataFrame(
        rows,
        columns=[
            "case_id",
            "case_external_id",
            "title",
            "messages",
            "context",
            "tags",
            "reference_answer",
            "n_criteria",
            "metadata",
            "source",
        ],
    )


def criteria_table(project: Project) -> pd.DataFrame:
    import pandas as pd

    with project.read() as s:
        rows = [
            {
                "case_id": cid,
                "case_external_id": ext,
                "question_id": f"criterion:{c.key}",
                "criterion": c.text,
                "points": c.points,
                "tags": c.tags,
                "position": c.position,
            }
            for c, cid, ext in s.execute(
                select(CaseCriterionRow, CaseRow.id, CaseRow.external_id)
                .join(CaseRow, CaseRow.id == CaseCriterionRow.case_id)
                .order_by(CaseRow.id, CaseCriterionRow.position)
            )
        ]
    return pd.DataFrame(
        rows,
        columns=[
            "case_id",
            "case_external_id",
            "question_id",
            "criterion",
            "points",
            "tags",
            "position",
        ],
    )


def outputs_table(project: Project) -> pd.DataFrame:
    import pandas as pd

    with project.read() as s:
        rows = [
            {
                "output_id": o.id,
                "case_id": o.case_id,
                "case_external_id": ext,
                "output_external_id": o.external_id,
                "model": o.model,
                "text": o.text,
                "metadata": o.meta,
                "source": o.source,
            }
            for o, ext in s.execute(
                select(OutputRow, CaseRow.external_id)
                .join(CaseRow, CaseRow.id == OutputRow.case_id)
                .where(not_attention(s, OutputRow.id))  # attention items: not study outputs
                .order_by(OutputRow.id)
            )
        ]
    return pd.DataFrame(
        rows,
        columns=[
            "output_id",
            "case_id",
            "case_external_id",
            "output_external_id",
            "model",
            "text",
            "metadata",
            "source",
        ],
    )


def attachments_table(project: Project) -> pd.DataFrame:
    import pandas as pd

    with project.read() as s:
        rows = [
            {
                "attachment_id": a.id,
                "case_id": a.case_id,
                "kind": a.kind,
                "filename": a.filename,
                "sha256": a.sha256,
                "size": a.size,
                "series_uid": sr.series_uid if sr else None,
                "modality": sr.modality if sr else None,
                "sort_index": a.sort_index,
            }
            for a, sr in s.execute(
                select(AttachmentRow, SeriesRow)
                .outerjoin(SeriesRow, SeriesRow.id == AttachmentRow.series_id)
                .order_by(AttachmentRow.id)
            )
        ]
    return pd.DataFrame(
        rows,
        columns=[
            "attachment_id",
            "case_id",
            "kind",
            "filename",
            "sha256",
            "size",
            "series_uid",
            "modality",
            "sort_index",
        ],
    )


_REVISION_KEYS = ("output_id", "case_id", "case_external_id", "model", "rater",
                  "rater_pseudonym", "rater_kind", "answers", "annotations", "rationale",
                  "confidence", "overall_score", "time_on_task_s", "flagged", "status",
                  "revision_no", "form_key", "form_version", "created_at")


def current_revisions(project: Project, *, include_drafts: bool = False,
                      rater_kind: str | None = None, output_id: int | None = None,
                      min_raters: int = 1) -> list[dict[str, Any]]:
    """Each judgment's newest revision with its rater, output and form (plain dicts).

    The one query for "current answers": adjudication, the gold export and the adjudication
    window's single output (``output_id``) read physicians' (``rater_kind``) answers here.
    Columns, not ORM entities (``storage.table_read``): a third of the time at 100,000.
    ``min_raters`` keeps only outputs with at least that many of the selected judgments (the
    adjudication queue needs two: a single rating disagrees with nobody).
    """
    rev, j, rater, output = JudgmentRevisionRow, JudgmentRow, RaterRow, OutputRow
    # (gc paused: the collector scanned every dict made so far again and again, no cycles)
    with project.read() as s, gc_paused():
        q = (
            select(
                j.output_id, output.case_id, CaseRow.external_id, output.model, rater.name,
                rater.pseudonym, rater.kind, rev.answers, rev.annotations, rev.rationale,
                rev.confidence, rev.overall_score, rev.time_on_task_s, rev.flagged, j.status,
                rev.revision_no, FormRow.key, FormRow.version, rev.created_at,
            )
            .join(j, (j.id == rev.judgment_id) & (j.current_revision_no == rev.revision_no))
            .join(rater, rater.id == j.rater_id)
            .join(output, output.id == j.output_id)
            .join(CaseRow, CaseRow.id == output.case_id)
            .join(FormRow, FormRow.id == rev.form_id)
            .order_by(j.output_id, rater.id)
        )
        where = []
        if not include_drafts:
            where.append(j.status == "done")
        if rater_kind is not None:
            where.append(rater.kind == rater_kind)
        if output_id is not None:
            where.append(j.output_id == output_id)
        if min_raters > 1:
            where.append(j.output_id.in_(
                select(j.output_id).join(rater, rater.id == j.rater_id).where(*where)
                .group_by(j.output_id).having(func.count() >= min_raters)
                .correlate(None)))  # its own judgment table, not the outer row
        q = q.where(*where, not_attention(s, j.output_id))  # attention items: not cases
        keys = _REVISION_KEYS
        return [dict(zip(keys, row, strict=True)) for row in column_rows(s.connection(), q)]


def ratings_long(
    project: Project, *, pseudonymise: bool = False, include_drafts: bool = False,
    keep_not_assessed: bool = False, tally: NotAssessedTally | None = None,
) -> pd.DataFrame:
    """One row per output x question x rater: the input of ``medreview.stats.project_stats``.

    The judgment's rubric score, where it has one, is the row of question ``score``.

    ``confidence`` is the judge's per-question confidence where it recorded one, else the
    judgment's overall confidence. "Not applicable" answers and cannot-assess judgments have
    no row unless ``keep_not_assessed`` (``read_ratings_long``); ``tally`` counts them.
    """
    return read_ratings_long(project, pseudonymise=pseudonymise, include_drafts=include_drafts,
                             keep_not_assessed=keep_not_assessed, tally=tally)


def ratings_coded(project: Project, *, pseudonymise: bool = False,
                  tally: NotAssessedTally | None = None) -> tuple[pd.DataFrame, AnswerCodes]:
    """``ratings_long`` (finished judgments) and its answers' codes for ``project_stats``
    (``stats.answer_codes``: kept beside the frame, which exports write as it is)."""
    return read_ratings_coded(project, pseudonymise=pseudonymise, tally=tally)


def gold_table(project: Project) -> pd.DataFrame:
    """The newest gold label per output x question."""
    import pandas as pd

    with project.read() as s:
        latest: dict[tuple[int, str], GoldLabelRow] = {}
        for g in s.scalars(select(GoldLabelRow).order_by(GoldLabelRow.revision_no)
                           .where(not_attention(s, GoldLabelRow.output_id))):
            latest[(g.output_id, g.question_id)] = g
        rows = [
            {
                "output_id": g.output_id,
                "question_id": g.question_id,
                "value": g.value,
                "provenance": g.provenance,
                "rationale": g.rationale,
            }
            for g in latest.values()
        ]
    return pd.DataFrame(
        rows, columns=["output_id", "question_id", "value", "provenance", "rationale"]
    )
