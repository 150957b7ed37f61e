"""Storage queries the study modules share (read-only helpers over the lead's tables)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.models import CaseRow, OutputRow, RaterRow


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

