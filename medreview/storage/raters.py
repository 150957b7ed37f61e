"""Raters: physicians and judges, each with a stable pseudonym for exports."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.models import RaterRow

RATER_KINDS = ("physician", "judge")


def get_or_create_rater(
    session: Session, name: str, kind: str = "physician", *, judge_run_id: int | None = None
) -> RaterRow:
    name = name.strip()
    if not name:
        raise InputError("a rater needs a name")
    if kind not in RATER_KINDS:
        raise InputError(f"rater kind must be one of {', '.join(RATER_KINDS)}", item=name)
    row = session.scalars(select(RaterRow).where(RaterRow.name == name)).first()
    if row is not None:
        if row.kind != kind:
            raise InputError(f"rater already exists as a {row.kind}, not a {kind}", item=name)
        return row
    n = session.scalar(select(func.count()).select_from(RaterRow).where(RaterRow.kind == kind)) or 0
    prefix = "P" if kind == "physician" else "J"
    pseudonym = f"{prefix}{n + 1:02d}"
    while session.scalar(select(RaterRow.id).where(RaterRow.pseudonym == pseudonym)) is not None:
        n += 1
        pseudonym = f"{prefix}{n + 1:02d}"
    row = RaterRow(name=name, kind=kind, pseudonym=pseudonym, judge_run_id=judge_run_id)
    session.add(row)
    session.flush()
    return row
