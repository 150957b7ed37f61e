"""Project-level use-cases: create, open, describe, register forms and raters, consent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from medreview.domain.changes import Changes
from medreview.domain.rubric import Form
from medreview.services.views import ProjectInfo, RaterView
from medreview.storage import schema
from medreview.storage.base import utcnow
from medreview.storage.forms import register_form
from medreview.storage.ingest import incomplete_imports
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
from medreview.storage.project import Project, create_project, is_project, open_project
from medreview.storage.raters import get_or_create_rater

__all__ = [
    "Project",
    "add_form",
    "add_rater",
    "create_project",
    "incomplete_imports",
    "is_project",
    "list_raters",
    "open_project",
    "project_info",
    "set_consent",
    "set_reveal_models",
    "unfinished_imports",
]

FINISH_IMPORT_HINT = "import the same file again to finish it"


def add_form(project: Project, form: Form, *, activate: bool = True) -> tuple[str, int]:
    """Register a rubric or taxonomy; returns (key, version) actually stored."""
    with project.transaction() as s:
        row = register_form(s, form, activate=activate)
        return row.key, row.version


def rubric_templates() -> list[tuple[str, str]]:
    """The built-in rubric and taxonomy templates as (key, name)."""
    from medreview.rubrics.templates import list_templates

    return [(t.key, t.name) for t in list_templates()]


def form_from(value: str) -> Form:
    """A rubric or taxonomy given as a built-in template key or a file path."""
    from medreview.errors import InputError
    from medreview.rubrics.load import load_form
    from medreview.rubrics.templates import list_templates, load_template

    path = Path(value)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        return load_form(path)
    keys = [t.key for t in list_templates()]
    if value in keys:
        return load_template(value)
    raise InputError(
        f"not a file and not a built-in template; templates are: {', '.join(keys)}", item=value
    )


def add_form_from(project: Project, value: str) -> tuple[str, int]:
    """``add_form`` of a template key or rubric file; returns (key, version) stored."""
    return add_form(project, form_from(value))


def add_rater(project: Project, name: str, kind: str = "physician") -> RaterView:
    with project.transaction() as s:
        row = get_or_create_rater(s, name, kind)
        return RaterView(row.id, row.name, row.kind, row.pseudonym, row.is_adjudicator)


def list_raters(project: Project, kind: str | None = None) -> list[RaterView]:
    with project.read() as s:
        q = select(RaterRow).order_by(RaterRow.kind.desc(), RaterRow.name)
        if kind:
            q = q.where(RaterRow.kind == kind)
        return [
            RaterView(r.id, r.name, r.kind, r.pseudonym, r.is_adjudicator) for r in s.scalars(q)
        ]


def set_consent(project: Project, allowed: bool, by: str) -> Changes:
    """Record (or withdraw) consent that case data may be sent off this machine."""
    with project.transaction() as s:
        row = s.scalars(select(ProjectRow)).one()
        row.data_may_leave = allowed
        row.consent_by = by if allowed else None
        row.consent_at = utcnow() if allowed else None
    return Changes(project=True)


def set_reveal_models(project: Project, reveal: bool) -> Changes:
    with project.transaction() as s:
        s.scalars(select(ProjectRow)).one().reveal_models = reveal
    return Changes(project=True)


def project_info(project: Project) -> ProjectInfo:
    with project.read() as s:

        def count(model: type) -> int:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

        prow = s.scalars(select(ProjectRow)).one()
        counts = {
            "cases": count(CaseRow),
            "outputs": count(OutputRow),
            "attachments": count(AttachmentRow),
            "dicom_series": int(
                s.scalar(
                    select(func.count())
                    .select_from(SeriesRow)
                    .where(SeriesRow.modality.is_not(None))
                )
                or 0
            ),
            "raters": count(RaterRow),
            "physicians": int(
                s.scalar(
                    select(func.count()).select_from(RaterRow).where(RaterRow.kind == "physician")
                )
                or 0
            ),
            "judges": int(
                s.scalar(select(func.count()).select_from(RaterRow).where(RaterRow.kind == "judge"))
                or 0
            ),
            "judgments": count(JudgmentRow),
            "judgments_done": int(
                s.scalar(
                    select(func.count())
                    .select_from(JudgmentRow)
                    .where(JudgmentRow.status == "done")
                )
                or 0
            ),
            "judgment_revisions": count(JudgmentRevisionRow),
            "rubrics": int(
                s.scalar(
                    select(func.count(func.distinct(FormRow.key))).where(FormRow.kind == "rubric")
                )
                or 0
            ),
            "taxonomies": int(
                s.scalar(
                    select(func.count(func.distinct(FormRow.key))).where(FormRow.kind == "taxonomy")
                )
                or 0
            ),
            "rubric_criteria": count(CaseCriterionRow),
            "gold_labels": count(GoldLabelRow),
            "judge_runs": count(JudgeRunRow),
        }
        models = {
            m: int(n)
            for m, n in s.execute(
                select(OutputRow.model, func.count())
                .group_by(OutputRow.model)
                .order_by(OutputRow.model)
            )
        }
        raters = tuple(
            RaterView(r.id, r.name, r.kind, r.pseudonym, r.is_adjudicator)
            for r in s.scalars(select(RaterRow).order_by(RaterRow.id))
        )
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
            path=str(project.path),
            name=prow.name,
            uid=prow.uid,
            schema_revision=schema.current_revision(project.engine),
            counts=counts,
            models=models,
            raters=raters,
            forms=forms,
            data_may_leave=prow.data_may_leave,
        )


def unfinished_imports(project: Project) -> list[dict[str, str]]:
    """Imports killed part-way (their finished batches are saved, the rest is not): each as
    ``{"source", "started", "hint"}``; importing the same file again completes it."""
    return [{"source": source, "started": started, "hint": FINISH_IMPORT_HINT}
            for source, started in incomplete_imports(project)]


def open_or_create(path: Path, name: str | None = None) -> Project:
    return open_project(path) if is_project(path) else create_project(path, name)
