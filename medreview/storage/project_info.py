"""The project as a whole: what it holds (counts, models, raters, forms) and its settings
(consent that data may leave, model names shown or blinded). Plain values out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from medreview.domain.rubric import Form
from medreview.storage import schema
from medreview.storage.base import utcnow
from medreview.storage.forms import register_form
from medreview.storage.media import UnavailableMediaStore
from medreview.storage.media_location import describe
from medreview.storage.models import (
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GoldLabelRow,
    JudgeRunRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    SeriesRow,
)
from medreview.storage.pending_media import waiting_in
from medreview.storage.project import Project
from medreview.storage.raters import rater_view
from medreview.storage.read_models import ProjectInfo

__all__ = [
    "add_form",
    "media_location",
    "media_problem",
    "output_overview",
    "project_info",
    "project_settings",
    "set_consent",
    "set_reveal_models",
]


def add_form(project: Project, form: Form, *, activate: bool = True) -> tuple[str, int]:
    """Register a rubric or taxonomy in one transaction; returns (key, version) stored."""
    with project.transaction() as s:
        row = register_form(s, form, activate=activate)
        return row.key, row.version


def set_consent(project: Project, allowed: bool, by: str) -> None:
    """Record (or withdraw) consent that case data may be sent off this machine."""
    with project.transaction() as s:
        row = s.scalars(select(ProjectRow)).one()
        row.data_may_leave = allowed
        row.consent_by = by if allowed else None
        row.consent_at = utcnow() if allowed else None


def set_reveal_models(project: Project, reveal: bool) -> None:
    with project.transaction() as s:
        s.scalars(select(ProjectRow)).one().reveal_models = reveal


def project_settings(project: Project) -> dict[str, Any]:
    """A copy of the project's settings JSON (designs applied so far, ...)."""
    with project.read() as s:
        return dict(s.scalars(select(ProjectRow)).one().settings or {})


def media_location(project: Project) -> str:
    """Where the project's media are, as one line (``storage/media_location.describe``)."""
    return describe(project.media)


def media_problem(project: Project) -> str | None:
    """The one-line reason the media cannot be reached here (a shared folder), or None."""
    media = project.media
    return media.problem if isinstance(media, UnavailableMediaStore) else None


def output_overview(project: Project) -> tuple[int, int, dict[str, int]]:
    """(outputs, cases that have outputs, outputs per model sorted by model)."""
    with project.read() as s:
        outputs = int(s.scalar(select(func.count()).select_from(OutputRow)) or 0)
        cases = int(s.scalar(select(func.count(func.distinct(OutputRow.case_id)))) or 0)
        models = {
            str(m): int(n)
            for m, n in s.execute(
                select(OutputRow.model, func.count())
                .group_by(OutputRow.model)
                .order_by(OutputRow.model)
            )
        }
    return outputs, cases, models


def project_info(project: Project) -> ProjectInfo:
    with project.read() as s:

        def count(model: type, *where: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        def distinct_forms(kind: str) -> int:
            return int(
                s.scalar(select(func.count(func.distinct(FormRow.key))).where(FormRow.kind == kind))
                or 0
            )

        prow = s.scalars(select(ProjectRow)).one()
        waiting = waiting_in(s)
        counts = {
            "cases": count(CaseRow),
            "outputs": count(OutputRow),
            "attachments": count(AttachmentRow),
            "dicom_series": count(SeriesRow, SeriesRow.modality.is_not(None)),
            "raters": count(RaterRow),
            "physicians": count(RaterRow, RaterRow.kind == "physician"),
            "judges": count(RaterRow, RaterRow.kind == "judge"),
            "judgments": count(JudgmentRow),
            "judgments_done": count(JudgmentRow, JudgmentRow.status == "done"),
            "judgment_revisions": count(JudgmentRevisionRow),
            "rubrics": distinct_forms("rubric"),
            "taxonomies": distinct_forms("taxonomy"),
            "rubric_criteria": count(CaseCriterionRow),
            "gold_labels": count(GoldLabelRow),
            "judge_runs": count(JudgeRunRow),
            # media imported before their cases (storage.pending_media)
            "series_waiting_for_cases": waiting.series,
            "files_waiting_for_cases": waiting.files,
        }
        models = {
            m: int(n)
            for m, n in s.execute(
                select(OutputRow.model, func.count())
                .group_by(OutputRow.model)
                .order_by(OutputRow.model)
            )
        }
        raters = tuple(rater_view(r) for r in s.scalars(select(RaterRow).order_by(RaterRow.id)))
        forms = tuple(
            {
                "key": f.key,
                "version": f.version,
                "kind": f.kind,
                "name": f.name,
                "active": f.active,
                "questions": len(f.definition.get("questions", [])),
            }
            for f in s.scalars(select(FormRow).order_by(FormRow.key, FormRow.version))
        )
        return ProjectInfo(
            path=project.location,
            name=prow.name,
            uid=prow.uid,
            schema_revision=schema.current_revision(project.engine),
            counts=counts,
            models=models,
            raters=raters,
            forms=forms,
            data_may_leave=prow.data_may_leave,
        )
