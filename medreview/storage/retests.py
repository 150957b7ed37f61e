"""Retests served in queues (issue #18): a seeded fraction of each physician's items comes
back to them, blank, some days after they finished it.

A retest is a ``study_item`` of kind ``retest`` (migration 0010). ``due_at`` NULL (what
``choose_retests`` writes) means "``delay_days`` after the rater first finished the item",
the delay kept in ``reason`` as ``delay_days=D``; a set ``due_at`` is used as it is (once the
item is finished). While a retest is open the queue shows the item as todo, the grading
screen a blank form and the history only the retest's own revisions; saving writes
revisions with source ``retest`` (``storage/rater_quality`` pairs them with the earlier
answer). A retest revision never becomes the judgment's current answer
(``revisions.append_revision`` leaves the judgment's mirror where it was), so statistics,
exports, gold and consensus keep reading the rater's ordinary answer.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.errors import InputError
from medreview.storage.base import utcnow
from medreview.storage.models import (
    AssignmentRow,
    JudgmentRevisionRow,
    JudgmentRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project
from medreview.storage.revisions import RETEST_SOURCE

KIND = "retest"
MAX_DELAY_DAYS = 3650
_IN_CHUNK = 500
_DELAY = re.compile(r"delay_days=([0-9]+(?:\.[0-9]+)?)")


def check_design(fraction: float, delay_days: float) -> None:
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise InputError("the retest fraction is between 0 (exclusive) and 1", item=str(fraction))
    if not (math.isfinite(delay_days) and 0.0 <= delay_days <= MAX_DELAY_DAYS):
        raise InputError(f"the retest delay is 0 to {MAX_DELAY_DAYS} days", item=str(delay_days))


def delay_of(reason: str) -> float | None:
    """The delay recorded in a retest item's reason (hostile text: bounded, else None)."""
    m = _DELAY.search(reason[:200])
    if m is None:
        return None
    days = float(m.group(1))
    return days if days <= MAX_DELAY_DAYS else None


def _count(fraction: float, n: int) -> int:
    return 0 if n == 0 else max(1, min(n, int(fraction * n + 0.5)))


def plan_retests(items: dict[str, list[int]], chosen: dict[str, set[int]], fraction: float,
                 seed: int) -> dict[str, list[int]]:
    """Rater -> new retest outputs: ``fraction`` of each rater's items (rounded, at least one)
    minus those chosen before, drawn with ``seed`` per rater (pure)."""
    out: dict[str, list[int]] = {}
    for rater in sorted(items):
        pool = sorted(set(items[rater]))
        have = chosen.get(rater, set()) & set(pool)
        need = _count(fraction, len(pool)) - len(have)
        rest = [o for o in pool if o not in have]
        if need > 0 and rest:
            out[rater] = sorted(random.Random(f"{seed}:{rater}").sample(rest, min(need, len(rest))))
    return out


def choose_retests(project: Project, *, fraction: float, delay_days: float, seed: int = 0,
                   raters: Sequence[str] | None = None, by: str = "") -> dict[str, int]:
    """Write retest items for a seeded fraction of each physician's assigned items (only
    ``raters`` if given); rater -> retest items added."""
    check_design(fraction, delay_days)
    with project.transaction() as s:
        q = (select(RaterRow.name, RaterRow.id, AssignmentRow.output_id)
             .join(AssignmentRow, AssignmentRow.rater_id == RaterRow.id)
             .where(RaterRow.kind == "physician"))
        if raters is not None:
            q = q.where(RaterRow.name.in_(list(raters)))
        items: dict[str, list[int]] = {}
        ids: dict[str, int] = {}
        for name, rid, oid in s.execute(q):
            items.setdefault(str(name), []).append(int(oid))
            ids[str(name)] = int(rid)
        if raters is not None:
            missing = [r for r in raters if r not in items]
            if missing:
                raise InputError("no assigned items for this rater", item=", ".join(missing))
        chosen: dict[str, set[int]] = {}
        for name, oid in s.execute(
                select(RaterRow.name, StudyItemRow.output_id)
                .join(RaterRow, RaterRow.id == StudyItemRow.rater_id)
                .where(StudyItemRow.kind == KIND)):
            chosen.setdefault(str(name), set()).add(int(oid))
        plan = plan_retests(items, chosen, fraction, seed)
        for name, oids in plan.items():
            for oid in oids:
                s.add(StudyItemRow(rater_id=ids[name], output_id=oid, kind=KIND,
                                   reason=f"delay_days={delay_days:g}", created_by=by))
        return {name: len(oids) for name, oids in plan.items()}


@dataclass(frozen=True)
class RetestState:
    output_id: int
    due_at: dt.datetime | None  # None: the rater has not finished the item yet
    closed: bool  # a finished (done or skipped) retest revision exists
    newest_retest_no: int | None  # the newest retest revision (a draft in progress)
    newest_retest_status: str | None

    def is_open(self, now: dt.datetime) -> bool:
        return not self.closed and self.due_at is not None and self.due_at <= now


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i:i + _IN_CHUNK]) for i in range(0, len(ids), _IN_CHUNK)]


def retest_states(s: Session, rater_id: int, output_ids: Sequence[int] | None = None
                  ) -> dict[int, RetestState]:
    """Output -> its retest state, for the rater's retest items (among ``output_ids``)."""
    q = select(StudyItemRow.output_id, StudyItemRow.due_at, StudyItemRow.reason).where(
        StudyItemRow.rater_id == rater_id, StudyItemRow.kind == KIND)
    if output_ids is not None:
        if not output_ids:
            return {}
        q = q.where(StudyItemRow.output_id.in_(list(output_ids)))
    items = {int(o): (due, str(reason or "")) for o, due, reason in s.execute(q)}
    if not items:
        return {}
    first_done: dict[int, dt.datetime] = {}
    retests: dict[int, list[tuple[int, str]]] = {}
    for chunk in _chunks(sorted(items)):
        for oid, at in s.execute(
                select(JudgmentRow.output_id, func.min(JudgmentRevisionRow.created_at))
                .join(JudgmentRevisionRow, JudgmentRevisionRow.judgment_id == JudgmentRow.id)
                .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id.in_(chunk),
                       JudgmentRevisionRow.status == "done",
                       JudgmentRevisionRow.source != RETEST_SOURCE)
                .group_by(JudgmentRow.output_id)):
            if at is not None:
                first_done[int(oid)] = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        for oid, no, status in s.execute(
                select(JudgmentRow.output_id, JudgmentRevisionRow.revision_no,
                       JudgmentRevisionRow.status)
                .join(JudgmentRevisionRow, JudgmentRevisionRow.judgment_id == JudgmentRow.id)
                .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id.in_(chunk),
                       JudgmentRevisionRow.source == RETEST_SOURCE)
                .order_by(JudgmentRevisionRow.revision_no)):
            retests.setdefault(int(oid), []).append((int(no), str(status)))
    out: dict[int, RetestState] = {}
    for oid, (due, reason) in items.items():
        done_at = first_done.get(oid)
        due_at: dt.datetime | None = None
        if done_at is not None:
            if due is not None:
                due_at = max(due, done_at)
            else:
                due_at = done_at + dt.timedelta(days=delay_of(reason) or 0.0)
        revs = retests.get(oid, [])
        closed = any(st in ("done", "skipped") for _, st in revs)
        newest = revs[-1] if revs else None
        out[oid] = RetestState(oid, due_at, closed, newest[0] if newest else None,
                               newest[1] if newest else None)
    return out


def open_retests(s: Session, rater_id: int, output_ids: Sequence[int] | None = None,
                 now: dt.datetime | None = None) -> dict[int, RetestState]:
    """The rater's retests that are due and not finished."""
    now = now or utcnow()
    return {o: st for o, st in retest_states(s, rater_id, output_ids).items() if st.is_open(now)}


def is_open(s: Session, rater_id: int, output_id: int) -> RetestState | None:
    return open_retests(s, rater_id, [output_id]).get(output_id)


@dataclass(frozen=True)
class RetestOverview:
    rater: str
    items: int
    waiting: int  # not finished yet, or not due
    open: int
    done: int


def retest_overview(project: Project) -> list[RetestOverview]:
    """Per physician with retest items: how many wait, are open, are done."""
    now = utcnow()
    with project.read() as s:
        raters = s.execute(select(RaterRow.id, RaterRow.name).join(
            StudyItemRow, StudyItemRow.rater_id == RaterRow.id)
            .where(StudyItemRow.kind == KIND).distinct()).all()
        out = []
        for rid, name in raters:
            states = retest_states(s, int(rid)).values()
            n_open = sum(1 for st in states if st.is_open(now))
            n_done = sum(1 for st in states if st.closed)
            out.append(RetestOverview(str(name), len(states), len(states) - n_open - n_done,
                                      n_open, n_done))
    return sorted(out, key=lambda r: r.rater)
