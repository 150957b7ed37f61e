"""Raters: physicians and judges, each with a stable pseudonym for exports."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.models import AssignmentRow, JudgmentRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.read_models import RaterLoad, RaterView

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


def rater_view(row: RaterRow) -> RaterView:
    return RaterView(row.id, row.name, row.kind, row.pseudonym, row.is_adjudicator)


def add_rater(project: Project, name: str, kind: str = "physician") -> RaterView:
    """The rater called ``name`` (created, with the next pseudonym, if new)."""
    with project.transaction() as s:
        return rater_view(get_or_create_rater(s, name, kind))


def list_raters(project: Project, kind: str | None = None) -> list[RaterView]:
    """Raters, physicians first then judges, by name; only ``kind`` if given."""
    with project.read() as s:
        q = select(RaterRow).order_by(RaterRow.kind.desc(), RaterRow.name)
        if kind:
            q = q.where(RaterRow.kind == kind)
        return [rater_view(r) for r in s.scalars(q)]


def may_add_raters(project: Project) -> bool:
    """Whether this login may add raters: always on SQLite; on a PostgreSQL server only a login
    with INSERT on ``rater`` (a lead or a judge, not a physician's rater login: schema 0008)."""
    with project.read() as s:
        if s.get_bind().dialect.name != "postgresql":
            return True
        return bool(s.scalar(text("SELECT has_table_privilege(current_user, 'rater', 'INSERT')")))


def physician_loads(project: Project) -> tuple[RaterLoad, ...]:
    """Every physician by name with their assignments and finished judgments."""
    with project.read() as s:
        assigned = dict(
            s.execute(
                select(AssignmentRow.rater_id, func.count()).group_by(AssignmentRow.rater_id)
            ).all()
        )
        done = dict(
            s.execute(
                select(JudgmentRow.rater_id, func.count())
                .where(JudgmentRow.status == "done")
                .group_by(JudgmentRow.rater_id)
            ).all()
        )
        return tuple(
            RaterLoad(
                r.name,
                r.pseudonym,
                int(assigned.get(r.id, 0)),
                int(done.get(r.id, 0)),
                r.is_adjudicator,
            )
            for r in s.scalars(
                select(RaterRow).where(RaterRow.kind == "physician").order_by(RaterRow.name)
            )
        )
