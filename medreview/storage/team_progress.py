"""Progress per rater for the lead: outputs assigned, finished, in draft, open right now.

One read snapshot, a handful of grouped counts (no per-row work): cheap enough to re-run on
every change hint. On a server the counts cover what the reader may see — the lead all raters,
a rater only themselves (row-level security).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.storage.leases import live_leases, settings_in
from medreview.storage.models import AssignmentRow, JudgmentRow, OutputRow, RaterRow
from medreview.storage.project import Project


@dataclass(frozen=True)
class RaterProgress:
    rater_id: int
    name: str
    assigned: int  # outputs assigned to them (0: they grade from the whole project)
    done: int  # finished judgments (of assigned outputs, when they have assignments)
    drafts: int  # judgments started, not finished
    open_now: int  # live leases: items open in their grading screen right now


@dataclass(frozen=True)
class TeamProgress:
    raters: tuple[RaterProgress, ...]
    outputs: int
    needed: int | None  # the pool's ratings per output (None: no pool)
    complete: int  # outputs with at least ``needed`` finished ratings (pool only, else 0)


def _counts(session: Session, status: str | None) -> dict[int, int]:
    """Rater id -> judgments with ``status`` (on assigned outputs for raters that have any)."""
    assigned = (select(AssignmentRow.id)
                .where(AssignmentRow.rater_id == JudgmentRow.rater_id,
                       AssignmentRow.output_id == JudgmentRow.output_id))
    has_any = select(AssignmentRow.id).where(AssignmentRow.rater_id == JudgmentRow.rater_id)
    q = select(JudgmentRow.rater_id, func.count()).where(assigned.exists() | ~has_any.exists())
    q = q.where(JudgmentRow.status == status) if status else q.where(
        JudgmentRow.status.notin_(("done", "skipped")))
    return {int(r): int(n) for r, n in session.execute(q.group_by(JudgmentRow.rater_id))}


def team_progress_in(session: Session) -> TeamProgress:
    raters = session.execute(select(RaterRow.id, RaterRow.name)
                             .where(RaterRow.kind == "physician").order_by(RaterRow.name)).all()
    assigned = {int(r): int(n) for r, n in session.execute(
        select(AssignmentRow.rater_id, func.count()).group_by(AssignmentRow.rater_id))}
    done, drafts = _counts(session, "done"), _counts(session, None)
    leased = live_leases(session)
    rules = settings_in(session)
    outputs = int(session.scalar(select(func.count()).select_from(OutputRow)) or 0)
    complete = 0
    if rules.needed is not None:
        per_output = (select(JudgmentRow.output_id)
                      .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
                      .where(JudgmentRow.status == "done", RaterRow.kind == "physician")
                      .group_by(JudgmentRow.output_id)
                      .having(func.count() >= rules.needed)).subquery()
        complete = int(session.scalar(select(func.count()).select_from(per_output)) or 0)
    rows = tuple(RaterProgress(int(i), str(n), assigned.get(i, 0), done.get(i, 0),
                               drafts.get(i, 0), leased.get(i, 0)) for i, n in raters)
    return TeamProgress(rows, outputs, rules.needed, complete)


def team_progress(project: Project) -> TeamProgress:
    with project.read() as s:
        return team_progress_in(s)
