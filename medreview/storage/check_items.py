"""Hidden gold and attention items as stored (issue #18): which outputs they are, the state a
mixing plan needs, the one transaction that mixes them into queues, and what accuracy reads.

* A **check** item is an output with a gold label, assigned to a physician who had not rated
  it; a ``study_item`` row of kind ``check`` says so. It is a real study case: its answers stay
  in every statistic.
* An **attention** item is an output whose expected answer the lead wrote as a gold-label
  revision with provenance ``attention`` (``write_attention_gold``). Such outputs are not study
  cases: ``attention_output_ids`` is the one reader every statistic, export, judge run,
  adjudication and ordinary assignment asks to leave them out.

Nothing that tells these items apart is readable by a rater: the marks live in ``study_item``
(check / attention rows, hidden from rater logins by migration 0010) and ``gold_label`` (hidden
too), never in ``project.settings`` (which raters may read) nor in the assignment rows, which
look like any other: mixing re-writes the rater's untouched assignments together with the new
ones, so ids, ``created_at``, seed and positions carry no mark (``write_checks``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from medreview.domain.not_assessed import assessed_answers
from medreview.errors import InputError
from medreview.storage.base import utcnow
from medreview.storage.models import (
    AssignmentRow,
    CaseRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project

ATTENTION_PROVENANCE = "attention"
CHECK = "check"
ATTENTION = "attention"
HIDDEN_KINDS = (CHECK, ATTENTION)
SETTINGS_KEY = "checks"


def _may_read_gold(s: Session) -> bool:
    """False for a PostgreSQL login without SELECT on gold_label (a judge login): it cannot
    know the attention items (and the lead's statistics leave its answers out anyway)."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    return bool(s.execute(text("SELECT has_table_privilege('gold_label', 'SELECT')")).scalar())


def attention_output_ids(s: Session) -> frozenset[int]:
    """The outputs that are attention items (an ``attention`` gold label in any revision).

    The one place that says which outputs are not study cases; a rater login reads none."""
    if not _may_read_gold(s):
        return frozenset()
    return frozenset(int(o) for o in s.scalars(
        select(GoldLabelRow.output_id).where(GoldLabelRow.provenance == ATTENTION_PROVENANCE)
        .distinct()))


def not_attention(s: Session, column: ColumnElement[int] | InstrumentedAttribute[int]
                  ) -> ColumnElement[bool]:
    """A WHERE clause leaving attention items' rows out (``attention_output_ids`` as SQL)."""
    if not _may_read_gold(s):
        return true()
    return column.not_in(select(GoldLabelRow.output_id)
                         .where(GoldLabelRow.provenance == ATTENTION_PROVENANCE))


def project_attention_ids(project: Project) -> frozenset[int]:
    with project.read() as s:
        return attention_output_ids(s)


def write_attention_gold(project: Project, output_ids: Sequence[int],
                         labels: Sequence[tuple[str, Any]]) -> int:
    """Record ``labels`` ((question, expected value), validated by the caller) as each output's
    expected answer: gold-label revisions with provenance ``attention``, all in one
    transaction (an unknown output refuses the lot). Returns how many were written."""
    with project.transaction() as s:
        for output_id in output_ids:
            if s.get(OutputRow, output_id) is None:
                raise InputError("no such output in this project", item=str(output_id))
        for output_id, (qid, value) in ((o, lab) for o in output_ids for lab in labels):
            n = s.scalar(select(func.max(GoldLabelRow.revision_no)).where(
                GoldLabelRow.output_id == output_id, GoldLabelRow.question_id == qid)) or 0
            s.add(GoldLabelRow(uid=uuid.uuid4().hex, output_id=output_id, question_id=qid,
                               value=value, provenance=ATTENTION_PROVENANCE,
                               rationale="expected answer of an attention item",
                               adjudicator_id=None, revision_no=n + 1))
            s.flush()
        return len(output_ids) * len(labels)


# --- mixing into queues --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSlot:
    """One assignment of a rater as it stands."""

    output_id: int
    position: int
    blind_label: str
    seed: int | None
    pending: bool  # the rater has not touched it (no judgment): it may be re-placed


@dataclass(frozen=True)
class RaterQueue:
    name: str
    rater_id: int
    slots: tuple[QueueSlot, ...]  # by position
    hidden: dict[int, str]  # output -> "check" / "attention" study item of this rater


@dataclass(frozen=True)
class CheckState:
    """What a mixing plan needs, read in the writing transaction."""

    queues: tuple[RaterQueue, ...]
    case_of: dict[int, int]  # every output -> its case
    gold_outputs: frozenset[int]  # outputs with gold that are not attention items
    attention_outputs: frozenset[int]
    judged: dict[int, frozenset[int]]  # rater id -> outputs judged or in their study items


@dataclass(frozen=True)
class MixedQueue:
    """A rater's new untouched items in order (old and new together) and the new marks."""

    rater_id: int
    order: tuple[tuple[int, str, int | None], ...]  # (output, blind label, seed) in order
    added: dict[int, str]  # new output -> kind


def _queues(s: Session, raters: Iterable[RaterRow]
            ) -> tuple[list[RaterQueue], dict[int, frozenset[int]]]:
    queues: list[RaterQueue] = []
    judged: dict[int, frozenset[int]] = {}
    for r in raters:
        mine = frozenset(int(o) for o in s.scalars(
            select(JudgmentRow.output_id).where(JudgmentRow.rater_id == r.id)))
        # Never a check of theirs: what they judged, and their qualification, retest or
        # escalation items (a qualification item's gold is shown to them once done).
        judged[r.id] = mine | frozenset(int(o) for o in s.scalars(
            select(StudyItemRow.output_id).where(StudyItemRow.rater_id == r.id)))
        slots = tuple(QueueSlot(int(a.output_id), int(a.position), str(a.blind_label),
                                a.seed, int(a.output_id) not in mine)
                      for a in s.scalars(select(AssignmentRow).where(
                          AssignmentRow.rater_id == r.id)
                          .order_by(AssignmentRow.position, AssignmentRow.id)))
        hidden = {int(o): str(k) for o, k in s.execute(
            select(StudyItemRow.output_id, StudyItemRow.kind).where(
                StudyItemRow.rater_id == r.id, StudyItemRow.kind.in_(HIDDEN_KINDS)))}
        queues.append(RaterQueue(r.name, r.id, slots, hidden))
    return queues, judged


def _check_state(s: Session, names: Sequence[str]) -> CheckState:
    raters = []
    for n in names:
        row = s.scalars(select(RaterRow).where(RaterRow.name == n,
                                               RaterRow.kind == "physician")).first()
        if row is None:
            raise InputError("no physician with this name in the project", item=n)
        raters.append(row)
    queues, judged = _queues(s, raters)
    attention = attention_output_ids(s)
    gold = frozenset(int(o) for o in s.scalars(select(GoldLabelRow.output_id).distinct()))
    case_of = {int(o): int(c) for o, c in s.execute(select(OutputRow.id, OutputRow.case_id))}
    return CheckState(tuple(queues), case_of, gold - attention, attention, judged)


def physician_names(project: Project) -> list[str]:
    """Every physician with at least one assignment (the default raters of a mixing run)."""
    with project.read() as s:
        return [str(n) for n in s.scalars(
            select(RaterRow.name).where(RaterRow.kind == "physician",
                                        RaterRow.id.in_(select(AssignmentRow.rater_id)))
            .order_by(RaterRow.name))]


def _free_positions(taken: set[int], start: int, n: int) -> list[int]:
    out: list[int] = []
    p = start
    while len(out) < n:
        if p not in taken:
            out.append(p)
        p += 1
    return out


def write_checks(project: Project, raters: Sequence[str],
                 plan: Callable[[CheckState], Sequence[MixedQueue]], *,
                 created_by: str, settings_record: dict[str, Any]) -> list[MixedQueue]:
    """In one transaction: plan on the state read here, then per planned rater delete their
    untouched assignment rows and insert the planned order (old and new items alike, same
    ``created_at``, ids in queue order), add the ``study_item`` marks and record
    ``settings_record`` under ``project.settings["checks"]``."""
    names = [n.strip() for n in raters]
    with project.transaction() as s:
        state = _check_state(s, names)
        mixed = [m for m in plan(state) if m.added]
        by_id = {q.rater_id: q for q in state.queues}
        now = utcnow()
        for m in mixed:
            q = by_id[m.rater_id]
            pending = [sl for sl in q.slots if sl.pending]
            kept = {sl.position for sl in q.slots if not sl.pending}
            start = min((sl.position for sl in pending),
                        default=max(kept, default=-1) + 1)
            positions = _free_positions(kept, start, len(m.order))
            # The untouched rows: no judgment of the rater (no id list: a queue may be 100k).
            s.execute(delete(AssignmentRow).where(
                AssignmentRow.rater_id == m.rater_id,
                AssignmentRow.output_id.not_in(select(JudgmentRow.output_id).where(
                    JudgmentRow.rater_id == m.rater_id))))
            s.flush()
            for pos, (oid, label, seed) in zip(positions, m.order, strict=True):
                s.add(AssignmentRow(rater_id=m.rater_id, output_id=oid, position=pos,
                                    blind_label=label, seed=seed, created_at=now))
            for oid, kind in sorted(m.added.items()):
                s.add(StudyItemRow(rater_id=m.rater_id, output_id=oid, kind=kind,
                                   reason=str(settings_record.get("reason", "")),
                                   created_by=created_by, created_at=now))
            s.flush()
        row = s.scalars(select(ProjectRow)).one()
        settings = dict(row.settings or {})
        record = dict(settings.get(SETTINGS_KEY) or {})
        record.update({k: v for k, v in settings_record.items() if k != "runs"})
        record["runs"] = [*record.get("runs", []), settings_record]
        settings[SETTINGS_KEY] = record
        row.settings = settings
        return mixed


def record_hidden_items(project: Project, rater: str, output_ids: Sequence[int], kind: str, *,
                        created_by: str = "", reason: str = "") -> int:
    """Mark outputs the physician ``rater`` was given outside ``write_checks`` (a round run
    before, an import) as their check or attention items; ones already marked are kept."""
    if kind not in HIDDEN_KINDS:
        raise InputError(f"a hidden item is one of {', '.join(HIDDEN_KINDS)}", item=kind)
    with project.transaction() as s:
        rid = s.scalar(select(RaterRow.id).where(RaterRow.name == rater.strip(),
                                                 RaterRow.kind == "physician"))
        if rid is None:
            raise InputError("no physician with this name in the project", item=rater)
        have = set(s.scalars(select(StudyItemRow.output_id).where(
            StudyItemRow.rater_id == rid, StudyItemRow.kind == kind)))
        new = [o for o in dict.fromkeys(output_ids) if o not in have]
        for o in new:
            if s.get(OutputRow, o) is None:
                raise InputError("no such output in this project", item=str(o))
            s.add(StudyItemRow(rater_id=rid, output_id=o, kind=kind, created_by=created_by,
                               reason=reason))
        return len(new)


# --- what accuracy reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class HiddenAnswer:
    """A physician's finished answer to one of their check or attention items, with gold."""

    rater: str
    kind: str  # check | attention
    output_id: int
    case_external_id: str
    answers: dict[str, Any]
    annotations: list[Any]
    gold: dict[str, Any]  # question -> newest gold value


@dataclass(frozen=True)
class HiddenItems:
    answers: tuple[HiddenAnswer, ...]
    assigned: dict[tuple[str, str], int]  # (rater, kind) -> hidden items assigned


def hidden_items(project: Project) -> HiddenItems:
    """Every physician's finished check and attention items with the gold they are scored
    against (one read snapshot; for the lead)."""
    with project.read() as s:
        rows = s.execute(
            select(RaterRow.name, StudyItemRow.kind, StudyItemRow.output_id)
            .join(RaterRow, RaterRow.id == StudyItemRow.rater_id)
            .where(StudyItemRow.kind.in_(HIDDEN_KINDS), RaterRow.kind == "physician")
            .order_by(RaterRow.name, StudyItemRow.output_id)).all()
        assigned: dict[tuple[str, str], int] = {}
        for name, kind, _oid in rows:
            assigned[(str(name), str(kind))] = assigned.get((str(name), str(kind)), 0) + 1
        # Subqueries, not id lists: 5 % of a 100k-item study is more than SQLite's variables.
        outputs = (select(StudyItemRow.output_id)
                   .where(StudyItemRow.kind.in_(HIDDEN_KINDS)).scalar_subquery())
        gold: dict[int, dict[str, Any]] = {}
        for g in s.scalars(select(GoldLabelRow).where(GoldLabelRow.output_id.in_(outputs))
                           .order_by(GoldLabelRow.revision_no)):
            gold.setdefault(int(g.output_id), {})[str(g.question_id)] = g.value
        cases = {int(o): str(e) for o, e in s.execute(
            select(OutputRow.id, CaseRow.external_id).join(CaseRow, CaseRow.id == OutputRow.case_id)
            .where(OutputRow.id.in_(outputs)))}
        finals: dict[tuple[str, int], JudgmentRevisionRow] = {
            (str(n), int(o)): rev for n, o, rev in s.execute(
                select(RaterRow.name, JudgmentRow.output_id, JudgmentRevisionRow)
                .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                      & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
                .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
                .join(StudyItemRow, (StudyItemRow.rater_id == JudgmentRow.rater_id)
                      & (StudyItemRow.output_id == JudgmentRow.output_id))
                .where(JudgmentRow.status == "done", StudyItemRow.kind.in_(HIDDEN_KINDS)))}
        out = []
        for name, kind, oid in rows:
            rev = finals.get((str(name), int(oid)))
            if rev is None:
                continue
            out.append(HiddenAnswer(
                str(name), str(kind), int(oid), cases.get(int(oid), ""),
                # N/A and cannot-assess are no answers here either (as in every statistic)
                assessed_answers(dict(rev.answers)) if isinstance(rev.answers, dict) else {},
                list(rev.annotations) if isinstance(rev.annotations, list) else [],
                dict(gold.get(int(oid), {}))))
        return HiddenItems(tuple(out), assigned)

