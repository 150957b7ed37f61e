"""Escalations as stored: the lead's rules (``settings["escalation"]``), the state the planner
reads, and the one transaction that gives escalated items to senior raters.

An escalation is an assignment of the output to the senior plus a ``study_item`` of kind
``escalation`` whose ``reason`` is the one line the senior sees. The planner
(``domain.escalation.plan``) runs inside the write transaction on the state read there, so two
writers escalating at once cannot give one item twice (SQLite ``BEGIN IMMEDIATE``, the advisory
lock on PostgreSQL); an output with any escalation row is never escalated again.

``plan_rules``/``escalate_rules`` plan for the saved rules reading only what they need
(``storage.escalation_rows``: the hook after a merge reads every merged item);
``plan_escalations``/``escalate`` take any planner on the general state (``_state``). Both
write with ``_write``: the rows the per-item writes gave, in two executemany.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Text, cast, func, insert, select, text, true
from sqlalchemy.orm import Session

from medreview.domain import consensus
from medreview.domain.consensus import blind_label
from medreview.domain.escalation import (
    SETTINGS_KEY,
    EscalationRules,
    EscalationState,
    PlannedEscalation,
)
from medreview.domain.rubric import Question, case_criterion_question
from medreview.storage.base import utcnow
from medreview.storage.check_items import attention_output_ids
from medreview.storage.escalation_items import (
    KIND,
    TRAINING,
)
from medreview.storage.escalation_items import form_questions as _form_questions
from medreview.storage.escalation_items import in_chunks as _in_chunks
from medreview.storage.escalation_items import kind_pairs as _kind_pairs
from medreview.storage.escalation_items import open_counts as _open_counts
from medreview.storage.models import (
    AssignmentRow,
    CaseCriterionRow,
    CaseRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import gc_paused
from medreview.storage.sqlite_values import insert_columns

Planner = Callable[[EscalationState], Sequence[PlannedEscalation]]


@dataclass(frozen=True)
class EscalationView:
    """One escalated item, as the dashboard and ``medreview escalate`` list it."""

    output_id: int
    case_external_id: str
    model: str
    senior: str
    reason: str
    status: str  # the senior's judgment: todo | draft | done | skipped
    created_at: dt.datetime
    created_by: str


def _settings(s: Session) -> dict[str, Any]:
    raw = s.scalars(select(ProjectRow.settings)).one()
    return raw if isinstance(raw, dict) else {}


def read_rules(project: Project) -> Any:
    """The stored rules (raw JSON: ``domain.escalation.rules_from_settings`` checks them)."""
    with project.read() as s:
        return _settings(s).get(SETTINGS_KEY)


def write_rules(project: Project, rules: dict[str, Any]) -> None:
    with project.transaction() as s:
        row = s.scalars(select(ProjectRow)).one()
        settings = dict(row.settings or {})
        settings[SETTINGS_KEY] = rules
        row.settings = settings


def may_escalate(project: Project) -> bool:
    """Whether this login may write escalations: always on SQLite; on a PostgreSQL server a
    lead's login (a physician's rater login reads its own rows only: schema 0010)."""
    if project.read_only:
        return False
    with project.read() as s:
        if s.get_bind().dialect.name != "postgresql":
            return True
        return bool(s.scalar(text(
            "SELECT has_table_privilege(current_user, 'study_item', 'INSERT') AND "
            "has_table_privilege(current_user, 'assignment', 'INSERT')")))


def _questions(s: Session, case_ids: Collection[int] | None) -> dict[str, Question]:
    out = _form_questions(s)
    c = CaseCriterionRow
    # Plain rows, one question per distinct row (a merge's cases mostly repeat the same few
    # criteria; ORM objects for each cost ~30 us a merged revision). Later rows still win.
    conn = s.connection()
    sqlite = conn.dialect.name == "sqlite"
    crit = select(c.id, c.key, c.text, c.points, cast(c.tags, Text) if sqlite else c.tags)
    rows: list[Any] = []
    for part in [None] if case_ids is None else _in_chunks(case_ids):
        rows += conn.execute(crit if part is None else crit.where(c.case_id.in_(part))).all()
    rows.sort(key=itemgetter(0))  # by id, across the chunks
    seen: dict[tuple[Any, ...], Question] = {}
    for _id, key, txt, points, tags in rows:
        k = (key, txt, points, tags if sqlite else repr(tags))
        found = seen.get(k)
        if found is None:  # the JSON text parsed as the column's type would
            found = seen[k] = case_criterion_question(
                key, txt, points, tuple(json.loads(tags) if sqlite else tags))
        out[found.id] = found
    return out




def _state(s: Session, output_ids: Collection[int] | None, *, light: bool = False
           ) -> EscalationState:
    """``light``: the ratings and questions only (whether a rule fires), not who may take an
    item: the grading hook's first look, a few indexed reads."""
    escalated_q = select(StudyItemRow.output_id).where(StudyItemRow.kind == KIND)
    parts: list[list[int]] | None = None
    if output_ids is not None:
        parts = _in_chunks(output_ids)
        escalated = {int(o) for part in parts for o in s.scalars(
            escalated_q.where(StudyItemRow.output_id.in_(part)))}
        if escalated >= set(output_ids):
            return EscalationState({}, {}, {}, {})
    else:
        escalated = {int(o) for o in s.scalars(escalated_q)}
    not_study = attention_output_ids(s)
    training = _kind_pairs(s, TRAINING)
    q = (select(JudgmentRevisionRow.answers, JudgmentRevisionRow.annotations, JudgmentRow.rater_id,
                JudgmentRow.output_id, RaterRow.name, OutputRow.case_id)
         .join(JudgmentRow, (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
               & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
         .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
         .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
         .where(JudgmentRow.status == "done", RaterRow.kind == "physician")
         .order_by(JudgmentRow.output_id, RaterRow.id))
    revisions: list[dict[str, Any]] = []
    cases: set[int] = set()
    # In chunks of ascending ids: the rows in the one query's order.
    for answers, notes, rater_id, oid, name, case_id in (
            row for part in ([None] if parts is None else parts) for row in s.execute(
                q if part is None else q.where(JudgmentRow.output_id.in_(part)))):
        if oid in escalated or oid in not_study or (rater_id, oid) in training:
            continue
        cases.add(case_id)
        revisions.append({"rater_kind": "physician", "rater": name, "output_id": oid,
                          "answers": answers or {}, "annotations": notes or []})
    questions = _questions(s, cases if output_ids is not None else None)
    by_item = consensus.physician_ratings(revisions, questions)
    ratings: dict[int, dict[str, dict[str, Any]]] = {}
    for (oid, qid), by_rater in by_item.items():
        ratings.setdefault(oid, {})[qid] = by_rater
    involved: dict[int, set[str]] = {}
    if light:
        return EscalationState(ratings, questions, {}, {})
    for wanted in _in_chunks(ratings):
        for oid, name in s.execute(
                select(JudgmentRow.output_id, RaterRow.name)
                .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
                .where(JudgmentRow.output_id.in_(wanted))):
            involved.setdefault(int(oid), set()).add(name)
        for oid, name in s.execute(
                select(AssignmentRow.output_id, RaterRow.name)
                .join(RaterRow, RaterRow.id == AssignmentRow.rater_id)
                .where(AssignmentRow.output_id.in_(wanted))):
            involved.setdefault(int(oid), set()).add(name)
    return EscalationState(ratings, questions,
                           {o: frozenset(n) for o, n in involved.items()}, _open_counts(s))


def plan_escalations(project: Project, planner: Planner,
                     output_ids: Collection[int] | None = None, *, light: bool = False
                     ) -> list[PlannedEscalation]:
    """What ``escalate`` would write now, without writing (a preview). ``light`` is the
    grading hook's first look: whether any rule fires, with every senior taken as free (most
    saves escalate nothing and then take no write lock; ``escalate`` plans again in full)."""
    with project.read() as s:
        return list(planner(_state(s, output_ids, light=light)))


def plan_rules(project: Project, rules: EscalationRules,
               output_ids: Collection[int] | None = None, *, light: bool = False
               ) -> list[PlannedEscalation]:
    """``plan_escalations`` with ``domain.escalation.plan`` under ``rules`` as the planner,
    reading only what the rules need (``storage.escalation_rows``)."""
    from medreview.storage.escalation_rows import rule_plan

    with project.read() as s, gc_paused():
        return rule_plan(s, rules, output_ids, light=light)


def _label_for(s: Session, output_id: int) -> str:
    labels = Counter(s.scalars(select(AssignmentRow.blind_label)
                               .where(AssignmentRow.output_id == output_id)))
    if labels:
        return labels.most_common(1)[0][0]
    case_id = s.scalar(select(OutputRow.case_id).where(OutputRow.id == output_id))
    ids = list(s.scalars(select(OutputRow.id).where(OutputRow.case_id == case_id)
                         .order_by(OutputRow.id)))
    return blind_label(ids.index(output_id))


def escalate(project: Project, planner: Planner, *, by: str = "",
             output_ids: Collection[int] | None = None) -> list[PlannedEscalation]:
    """In one transaction: plan on the state read there, create missing senior physicians,
    and write an assignment (after the senior's last one) and an ``escalation`` study item per
    planned item that has a senior. Running it again writes nothing."""
    with project.transaction() as s:
        planned = list(planner(_state(s, output_ids)))
        _write(s, planned, by)
        return planned


def escalate_rules(project: Project, rules: EscalationRules, *, by: str = "",
                   output_ids: Collection[int] | None = None) -> list[PlannedEscalation]:
    """``escalate`` with ``domain.escalation.plan`` under ``rules`` as the planner, planned in
    the transaction on what it reads there, reading only what the rules need."""
    from medreview.storage.escalation_rows import rule_plan

    # the collector paused: every row read stays alive until the plan is made
    with project.transaction() as s, gc_paused():
        planned = rule_plan(s, rules, output_ids)
        _write(s, planned, by)
        return planned


def _write(s: Session, planned: Sequence[PlannedEscalation], by: str) -> None:
    """Per planned item with a senior, in plan order: the senior (created at their first
    item), an assignment after the senior's last one under the item's usual blind label, and
    the ``escalation`` study item; the rows and ids the per-item writes gave, in two
    executemany."""
    todo = [(p, p.senior) for p in planned if p.senior is not None]
    if not todo:
        return
    senior_id: dict[str, int] = {}
    for _p, name in todo:  # created as they are first needed; a judge's name refuses it all
        if name not in senior_id:
            senior_id[name] = get_or_create_rater(s, name, "physician").id
    after = {int(r): last for r, last in s.execute(
        select(AssignmentRow.rater_id, func.max(AssignmentRow.position))
        .where(AssignmentRow.rater_id.in_(list(senior_id.values())))
        .group_by(AssignmentRow.rater_id))}
    labels = _labels(s, [p.output_id for p, _name in todo])
    position = {rid: (after[rid] if after.get(rid) is not None else -1)
                for rid in senior_id.values()}
    raters = [senior_id[name] for _p, name in todo]
    outputs = [p.output_id for p, _name in todo]
    places: list[int] = []
    for rid in raters:
        position[rid] += 1
        places.append(position[rid])
    now = utcnow()  # one time for the run's rows (one transaction)
    n = len(todo)
    a = AssignmentRow.__table__.c
    i = StudyItemRow.__table__.c
    _insert(s, AssignmentRow.__table__, {
        a.rater_id: raters, a.output_id: outputs, a.position: places,
        a.blind_label: [labels[o] for o in outputs], a.seed: [None] * n, a.created_at: [now] * n})
    _insert(s, StudyItemRow.__table__, {
        i.rater_id: raters, i.output_id: outputs, i.kind: [KIND] * n, i.due_at: [None] * n,
        i.reason: [p.reason for p, _name in todo], i.created_by: [by[:200]] * n,
        i.created_at: [now] * n})


def _insert(s: Session, table: Any, columns: dict[Any, list[Any]]) -> None:
    """One executemany of rows given column by column (SQLite: the driver, each column through
    its processor once; others: Core)."""
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        insert_columns(conn, table, tuple(c.key for c in columns), list(columns.values()))
    else:
        keys = [c.key for c in columns]
        conn.execute(insert(table), [dict(zip(keys, row, strict=True))
                                     for row in zip(*columns.values(), strict=True)])


def _labels(s: Session, output_ids: Sequence[int]) -> dict[int, str]:
    """Output -> ``_label_for`` of it, read for all before any is written: the label most of
    its assignments carry (ties: the first by id)."""
    from medreview.storage.escalation_rows import _driver_rows, _in_ids

    given: dict[int, list[str]] = {}
    sqlite = s.get_bind().dialect.name == "sqlite"
    q = select(AssignmentRow.output_id, AssignmentRow.blind_label)
    for part in _in_chunks(output_ids):
        found = _driver_rows(s, "SELECT output_id, blind_label FROM assignment"
                             + _in_ids("output_id", part, "WHERE") + " ORDER BY output_id, id",
                             part) if sqlite else s.execute(
            q.where(AssignmentRow.output_id.in_(part))
            .order_by(AssignmentRow.output_id, AssignmentRow.id))
        for oid, label in found:
            given.setdefault(int(oid), []).append(label)
    return {oid: Counter(given[oid]).most_common(1)[0][0] if oid in given
            else _label_for(s, oid) for oid in output_ids}


def outputs_rated_since(project: Project, since: dt.datetime) -> list[int]:
    """Outputs with a finished judgment written at or after ``since`` (a merge's or an
    import's, so that only they are looked at again)."""
    from medreview.storage.escalation_rows import _driver_rows
    from medreview.storage.sqlite_values import bind_processor

    with project.read() as s:
        dialect = s.get_bind().dialect
        if dialect.name == "sqlite":  # the driver, the time as the column writes it (a scan)
            stamp = bind_processor(JudgmentRow.__table__.c.updated_at, dialect)
            return sorted({int(o) for (o,) in _driver_rows(  # the table in its order: no index
                s, "SELECT output_id FROM judgment WHERE updated_at >= ? AND status = 'done'",
                (stamp(since) if stamp is not None else since,))})
        return sorted({int(o) for o in s.scalars(
            select(JudgmentRow.output_id).where(JudgmentRow.updated_at >= since,
                                                JudgmentRow.status == "done"))})


def escalation_reason(project: Project, rater_id: int, output_id: int) -> str:
    """The reason ``rater_id`` was given ``output_id`` by an escalation rule ('' if not)."""
    with project.read() as s:
        return reason_in(s, rater_id, output_id)


def reason_in(s: Session, rater_id: int, output_id: int) -> str:
    return s.scalar(select(StudyItemRow.reason).where(
        StudyItemRow.rater_id == rater_id, StudyItemRow.output_id == output_id,
        StudyItemRow.kind == KIND)) or ""


def escalations(project: Project, output_id: int | None = None) -> list[EscalationView]:
    """Every escalated item (of ``output_id`` only, if given), newest first."""
    with project.read() as s:
        status = (select(JudgmentRow.status)
                  .where(JudgmentRow.rater_id == StudyItemRow.rater_id,
                         JudgmentRow.output_id == StudyItemRow.output_id)
                  .scalar_subquery())
        rows = s.execute(
            select(StudyItemRow.output_id, CaseRow.external_id, OutputRow.model, RaterRow.name,
                   StudyItemRow.reason, status, StudyItemRow.created_at, StudyItemRow.created_by)
            .join(OutputRow, OutputRow.id == StudyItemRow.output_id)
            .join(CaseRow, CaseRow.id == OutputRow.case_id)
            .join(RaterRow, RaterRow.id == StudyItemRow.rater_id)
            .where(StudyItemRow.kind == KIND,
                   true() if output_id is None else StudyItemRow.output_id == output_id)
            .order_by(StudyItemRow.created_at.desc(), StudyItemRow.id.desc())).all()
    return [EscalationView(int(r[0]), r[1], r[2], r[3], r[4], r[5] or "todo", r[6], r[7])
            for r in rows]
