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

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medreview.errors import ImportFailed, InputError
from medreview.storage.base import utcnow
from medreview.storage.forms import active_form_rows
from medreview.storage.models import (
    AssignmentRow,
    CaseRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project
from medreview.storage.revisions import (
    RETEST_SOURCE,
    RevisionContent,
    append_revision,
    content_of,
)

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
    """Write retest items for a seeded fraction of each physician's items (only ``raters`` if
    given): their assigned items, or, for a physician without assignments (who grades every
    output), the items they finished. Rater -> retest items added."""
    check_design(fraction, delay_days)
    with project.transaction() as s:
        items: dict[str, list[int]] = {}
        ids: dict[str, int] = {}
        assigned = (select(RaterRow.name, RaterRow.id, AssignmentRow.output_id)
                    .join(AssignmentRow, AssignmentRow.rater_id == RaterRow.id))
        finished = (select(RaterRow.name, RaterRow.id, JudgmentRow.output_id)
                    .join(JudgmentRow, JudgmentRow.rater_id == RaterRow.id)
                    .where(JudgmentRow.status == "done"))
        for q in (assigned, finished):
            q = q.where(RaterRow.kind == "physician")
            if raters is not None:
                q = q.where(RaterRow.name.in_(list(raters)))
            found: dict[str, list[int]] = {}
            for name, rid, oid in s.execute(q):
                if str(name) not in items:  # assignments, when a rater has any, decide
                    found.setdefault(str(name), []).append(int(oid))
                    ids[str(name)] = int(rid)
            items.update(found)
        if raters is not None:
            missing = [r for r in raters if r not in items]
            if missing:
                raise InputError("no assigned or finished items for this rater",
                                 item=", ".join(missing))
        chosen: dict[str, set[int]] = {}
        other: dict[str, set[int]] = {}
        for name, oid, kind in s.execute(
                select(RaterRow.name, StudyItemRow.output_id, StudyItemRow.kind)
                .join(RaterRow, RaterRow.id == StudyItemRow.rater_id)):
            # A hidden check or a qualification item is never retested.
            (chosen if kind == KIND else other).setdefault(str(name), set()).add(int(oid))
        items = {n: [o for o in oids if o not in other.get(n, set())]
                 for n, oids in items.items()}
        plan = plan_retests(items, chosen, fraction, seed)
        for name, oids in plan.items():
            for oid in oids:
                s.add(StudyItemRow(rater_id=ids[name], output_id=oid, kind=KIND,
                                   reason=f"delay_days={delay_days:g}", created_by=by))
        return {name: len(oids) for name, oids in plan.items()}


def retest_outputs(project: Project, rater_id: int) -> set[int]:
    """The outputs chosen for the rater's retest (a merge accepts retest answers of these)."""
    with project.read() as s:
        return {int(o) for o in s.scalars(select(StudyItemRow.output_id).where(
            StudyItemRow.rater_id == rater_id, StudyItemRow.kind == KIND))}


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


# Whether the connected login may insert a revision with source 'retest' (PostgreSQL): it may
# unless row-level security applies to it and no INSERT policy that applies allows it. The
# rater policy of schema 0008 allows only 'ui' and 'undo'.
_RETEST_BLOCKED = text(
    "SELECT NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) "
    "AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = 'judgment_revision' "
    "AND p.schemaname = (SELECT n.nspname FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE c.oid = to_regclass('judgment_revision')) "
    "AND p.cmd IN ('INSERT', 'ALL') "
    "AND EXISTS (SELECT 1 FROM unnest(p.roles) r(name) WHERE r.name = 'public' "
    "OR pg_has_role(current_user, r.name, 'MEMBER')) "
    "AND (COALESCE(p.with_check, p.qual, 'true') = 'true' "
    "OR COALESCE(p.with_check, p.qual) LIKE '%retest%'))")


def retests_saveable(s: Session) -> bool:
    """Whether a retest answer would be accepted here: always on SQLite; on a server, for a
    login whose policies allow source 'retest' (a retest that cannot be saved is not served:
    the rater would lose the answer)."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    cached = s.info.get("medreview.retests_saveable")
    if cached is None:
        cached = not bool(s.execute(_RETEST_BLOCKED).scalar())
        s.info["medreview.retests_saveable"] = cached
    return bool(cached)


def answered_retest_last(project: Project, rater_id: int, output_id: int) -> bool:
    """Whether the rater's newest revision of the output is a finished retest (the screen
    then shows the study answer again, never the retest's as something to edit)."""
    with project.read() as s:
        row = s.execute(
            select(JudgmentRevisionRow.source, JudgmentRevisionRow.status)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id == output_id)
            .order_by(JudgmentRevisionRow.revision_no.desc()).limit(1)).first()
    return row is not None and row[0] == RETEST_SOURCE and row[1] in ("done", "skipped")


def retest_items(project: Project) -> dict[str, list[int]]:
    """Physician -> the outputs chosen for their retests, in id order."""
    with project.read() as s:
        out: dict[str, list[int]] = {}
        for name, oid in s.execute(
                select(RaterRow.name, StudyItemRow.output_id)
                .join(RaterRow, RaterRow.id == StudyItemRow.rater_id)
                .where(StudyItemRow.kind == KIND).order_by(RaterRow.name,
                                                           StudyItemRow.output_id)):
            out.setdefault(str(name), []).append(int(oid))
        return out


def open_retests(s: Session, rater_id: int, output_ids: Sequence[int] | None = None,
                 now: dt.datetime | None = None) -> dict[int, RetestState]:
    """The rater's retests that are due and not finished (none where they cannot be saved)."""
    states = retest_states(s, rater_id, output_ids)
    if not states or not retests_saveable(s):
        return {}
    now = now or utcnow()
    return {o: st for o, st in states.items() if st.is_open(now)}


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


@dataclass(frozen=True)
class RetestRow:
    """One imported retest: who re-rated which output, with what, and where it came from."""

    source: str
    line: int
    rater: str
    case_external_id: str
    model: str
    output_external_id: str | None
    content: RevisionContent
    at: dt.datetime | None


def parse_time(text: str | None, source: str, line: int) -> dt.datetime | None:
    """An ISO 8601 time of a retest (UTC unless it says otherwise), or ImportFailed."""
    if not text:
        return None
    try:
        at = dt.datetime.fromisoformat(str(text)[:64].strip())
    except ValueError:
        raise ImportFailed("created_at is not an ISO 8601 time", source=source, line=line,
                           item=str(text)[:40]) from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def import_retests(project: Project, rows: Sequence[RetestRow]) -> tuple[int, int]:
    """Write every row as a retest revision of the rater's finished judgment, in one
    transaction (a bad row refuses the whole file); (added, already there)."""
    added = skipped = 0
    with project.transaction() as s:
        rubric, taxonomy = active_form_rows(s)
        for r in rows:
            def fail(reason: str, r: RetestRow = r) -> ImportFailed:
                return ImportFailed(reason, source=r.source, line=r.line,
                                    item=r.case_external_id)

            if rubric is None:
                raise fail("the project has no rubric yet; add one before importing ratings")
            q = (select(OutputRow.id).join(CaseRow, CaseRow.id == OutputRow.case_id)
                 .where(CaseRow.external_id == r.case_external_id, OutputRow.model == r.model))
            if r.output_external_id:
                q = q.where(OutputRow.external_id == r.output_external_id)
            ids = s.scalars(q.limit(2)).all()
            if len(ids) != 1:
                raise fail(f"no output of model {r.model!r} for this case" if not ids else
                           f"case has several outputs of model {r.model!r}; give the output "
                           "id to say which one was rated")
            judgment = s.scalars(select(JudgmentRow).join(
                RaterRow, RaterRow.id == JudgmentRow.rater_id).where(
                RaterRow.name == r.rater, RaterRow.kind == "physician",
                JudgmentRow.output_id == ids[0])).first()
            if judgment is None or judgment.status != "done":
                raise fail(f"{r.rater!r} has no finished answer of this output to retest")
            earlier = s.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == judgment.id,
                JudgmentRevisionRow.source == RETEST_SOURCE)).all()
            mark = r.content.fingerprint()
            if any(content_of(e).fingerprint() == mark for e in earlier):
                skipped += 1
                continue
            new = append_revision(
                s, rater_id=judgment.rater_id, output_id=ids[0], content=r.content,
                form_id=rubric.id, taxonomy_id=taxonomy.id if taxonomy else None,
                author=r.rater, source=RETEST_SOURCE)
            if new is not None and r.at is not None:
                new.created_at = r.at
            added += 1
    return added, skipped
