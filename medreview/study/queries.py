"""Storage queries the study modules share (read-only helpers over the lead's tables)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Question, case_criterion_question
from medreview.errors import InputError
from medreview.storage.forms import form_from_row
from medreview.storage.models import CaseCriterionRow, CaseRow, FormRow, OutputRow, RaterRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class OutputInfo:
    """What assignment needs to know about an output: its case, model and case tags."""

    output_id: int
    case_id: int
    case_external_id: str
    model: str
    tags: tuple[str, ...]


def outputs_info(session: Session) -> list[OutputInfo]:
    rows = session.execute(
        select(OutputRow.id, OutputRow.case_id, CaseRow.external_id, OutputRow.model, CaseRow.tags)
        .join(CaseRow, CaseRow.id == OutputRow.case_id)
        .order_by(OutputRow.id)
    ).all()
    return [OutputInfo(r[0], r[1], r[2], r[3], tuple(str(t) for t in (r[4] or ()))) for r in rows]


def rater_by_name(session: Session, name: str) -> RaterRow:
    row = session.scalars(select(RaterRow).where(RaterRow.name == name.strip())).first()
    if row is None:
        raise InputError("no rater with this name in the project", item=name)
    return row


def rater_names(session: Session) -> dict[int, RaterRow]:
    return {r.id: r for r in session.scalars(select(RaterRow))}


def project_questions(project: Project) -> dict[str, Question]:
    """Question id -> question: every form version (newest wins) and every case criterion.

    The same reading as ``medreview.services.questions`` (which this layer may not import).
    """
    out: dict[str, Question] = {}
    with project.read() as s:
        for row in s.scalars(select(FormRow).order_by(FormRow.active, FormRow.version)):
            for q in form_from_row(row).questions:
                out[q.id] = q
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.id)):
            q = case_criterion_question(c.key, c.text, c.points, tuple(c.tags))
            out[q.id] = q
    return out
