"""The escalation rules' plan read for the rules: the rows they need and nothing else.

``escalations._state`` reads every current finished physician revision of the items with its
answers parsed, every criterion of their cases as a question, and who holds each item, for any
planner. A merge's hook runs the saved rules on every merged item; this reading gives the same
plan (``domain.escalation_check``) while reading less:

* the revision rows through the driver on SQLite (plain tuples), the answers' and annotations'
  JSON parsed by the column's own reader (``storage.sqlite_values``) and only for the rows a
  rule can read: an item with two or more rows under a disagreement rule, otherwise a row
  whose stored text can hold what the severe rule looks for (``RuleCheck.may_be_severe``);
* the case criteria as their question ids only (``SELECT DISTINCT key``: a criterion is a
  criterion question whatever its wording);
* who rated, holds or was given an item, for the items a rule met only.

On PostgreSQL the rows come through Core as ``_state`` reads them (the driver parses JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.escalation import (
    EscalationRules,
    PlannedEscalation,
    Trigger,
    give_seniors,
)
from medreview.domain.escalation_check import RuleCheck
from medreview.domain.rubric import CASE_CRITERION_PREFIX
from medreview.storage.check_items import attention_output_ids
from medreview.storage.escalation_items import KIND, TRAINING
from medreview.storage.escalation_items import form_questions as _form_questions
from medreview.storage.escalation_items import in_chunks as _in_chunks
from medreview.storage.escalation_items import kind_pairs as _kind_pairs
from medreview.storage.escalation_items import open_counts as _open_counts
from medreview.storage.models import (
    CaseCriterionRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.revisions import driver
from medreview.storage.sqlite_values import result_processor

# output id, rater id, case id, answers, annotations (stored text on SQLite)
_Row = tuple[int, int, int, Any, Any]

# On SQLite the rows are not ordered (SQLite's sort cost a fifth of the read: they are sorted
# by output in Python; the order of an item's rows changes nothing in its triggers), raters'
# kinds and outputs' cases are looked up in Python (the joins cost more than the rows), and
# an empty annotation list comes as NULL (read as [] like the text, with no string made).
# Most of the outputs (a whole study's merge): every current revision in table order, kept
# if wanted; otherwise by output id through the index, in chunks.
_SQLITE_ALL = (
    "SELECT j.output_id, j.rater_id, v.answers, NULLIF(v.annotations, '[]') "
    "FROM judgment_revision v CROSS JOIN judgment j "
    "ON j.id = v.judgment_id AND v.revision_no = j.current_revision_no WHERE j.status = 'done'")
_SQLITE_SOME = (
    "SELECT j.output_id, j.rater_id, o.case_id, v.answers, NULLIF(v.annotations, '[]') "
    "FROM judgment j "
    "JOIN judgment_revision v ON v.judgment_id = j.id AND v.revision_no = j.current_revision_no "
    "JOIN output o ON o.id = j.output_id WHERE j.status = 'done' AND j.output_id IN ({marks})")


def rule_plan(s: Session, rules: EscalationRules, output_ids: Collection[int] | None, *,
              light: bool = False) -> list[PlannedEscalation]:
    """``domain.escalation.plan(escalations._state(s, output_ids, light=light), rules)``."""
    if not rules.active:
        return []
    # every escalated output (a few per study): no IN list of the items
    escalated = {int(o) for o in s.scalars(
        select(StudyItemRow.output_id).where(StudyItemRow.kind == KIND))}
    parts: list[list[int]] | None = None
    if output_ids is not None:
        if escalated >= set(output_ids):
            return []
        parts = _in_chunks(output_ids)
    not_study = attention_output_ids(s)
    training = _kind_pairs(s, TRAINING)
    rows = [r for r in _rows(s, parts) if r[0] not in escalated and r[0] not in not_study
            and (r[1], r[0]) not in training]
    criteria = _criterion_ids(s, None if output_ids is None else {r[2] for r in rows})
    check = RuleCheck(rules, _form_questions(s), criteria)
    fired = _fired(check, rows, *_readers(s))
    if light:
        return give_seniors(fired, rules, {}, {})
    return give_seniors(fired, rules, _involved(s, [oid for oid, _ in fired]), _open_counts(s))


def _rows(s: Session, parts: list[list[int]] | None) -> list[_Row]:
    """The current finished physician revisions of the items (all with ``parts`` None), in
    output order."""
    conn = s.connection()
    out: list[_Row] = []
    if conn.dialect.name == "sqlite":
        physicians = {r for (r,) in _driver_rows(
            s, "SELECT id FROM rater WHERE kind = 'physician'", ())}
        wanted = None if parts is None else {o for part in parts for o in part}
        top = _driver_rows(s, "SELECT max(id) FROM output", ())[0][0] or 0
        if wanted is None or 3 * len(wanted) >= 2 * top:
            case_of = dict(_driver_rows(s, "SELECT id, case_id FROM output", ()))
            out = [(o, r, case_of[o], a, n) for o, r, a, n in _driver_rows(s, _SQLITE_ALL, ())
                   if r in physicians and (wanted is None or o in wanted)]
        else:
            for part in parts or ():
                out += [row for row in _driver_rows(
                    s, _SQLITE_SOME.format(marks=",".join("?" * len(part))), part)
                    if row[1] in physicians]
        out.sort(key=itemgetter(0))
        return out
    q = (select(JudgmentRow.output_id, JudgmentRow.rater_id, OutputRow.case_id,
                JudgmentRevisionRow.answers, JudgmentRevisionRow.annotations)
         .join(JudgmentRevisionRow,
               (JudgmentRow.id == JudgmentRevisionRow.judgment_id)
               & (JudgmentRow.current_revision_no == JudgmentRevisionRow.revision_no))
         .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
         .join(OutputRow, OutputRow.id == JudgmentRow.output_id)
         .where(JudgmentRow.status == "done", RaterRow.kind == "physician")
         .order_by(JudgmentRow.output_id, RaterRow.id))
    for ids in [None] if parts is None else parts:
        out += [tuple(r) for r in s.execute(
            q if ids is None else q.where(JudgmentRow.output_id.in_(ids)))]
    return out


def _readers(s: Session) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The answers' and annotations' column readers (none: the driver's value is the one)."""
    dialect = s.get_bind().dialect
    if dialect.name != "sqlite":
        return _same, _same
    t = JudgmentRevisionRow.__table__.c
    return (result_processor(t.answers, dialect) or _same,
            result_processor(t.annotations, dialect) or _same)


def _same(value: Any) -> Any:
    return value


def _fired(check: RuleCheck, rows: Sequence[_Row], answers_of: Callable[[Any], Any],
           notes_of: Callable[[Any], Any]) -> list[tuple[int, list[Trigger]]]:
    """The items (in output order) that meet a rule, with what they meet."""
    out: list[tuple[int, list[Trigger]]] = []
    compare, may_be_severe, triggers = check.compare, check.may_be_severe, check.triggers
    for oid, rows_of in groupby(rows, itemgetter(0)):
        group = list(rows_of)
        if not (compare and len(group) > 1) or _same_texts(group):
            # only the severe rule can read these rows: one row has no share, and rows of
            # the same stored text agree on every question (a share of 0 exceeds no threshold)
            group = [r for r in group if may_be_severe(r[3], r[4])]
            if not group:
                continue
        found = triggers([(r[1], answers_of(r[3]), None if r[4] is None else notes_of(r[4]))
                          for r in group])  # NULL (no annotations): read as [] as it is
        if found:
            out.append((oid, found))
    return out


def _same_texts(group: Sequence[_Row]) -> bool:
    """Whether every row holds the same stored answers and annotations text (SQLite)."""
    answers, notes = group[0][3], group[0][4]
    return answers.__class__ is str and all(r[3] == answers and r[4] == notes for r in group)


def _criterion_ids(s: Session, case_ids: Collection[int] | None) -> set[str]:
    """The question ids of the criteria of ``case_ids`` (None: of every case)."""

    keys: set[str] = set()
    sqlite = s.get_bind().dialect.name == "sqlite"
    c = CaseCriterionRow
    q = select(c.key).distinct()
    for part in [None] if case_ids is None else _in_chunks(case_ids):
        if sqlite:  # the driver: Core's compiling of 30,000 bound ids cost more than SQLite's
            keys.update(k for (k,) in _driver_rows(
                s, "SELECT DISTINCT key FROM case_criterion" + _in_ids("case_id", part, "WHERE"),
                part or ()))
        else:
            keys.update(s.scalars(q if part is None else q.where(c.case_id.in_(part))))
    return {f"{CASE_CRITERION_PREFIX}{k}" for k in keys}


def _involved(s: Session, output_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Output -> the raters who rated, hold or were given it (``_state``'s, for these)."""
    from medreview.storage.models import AssignmentRow

    sqlite = s.get_bind().dialect.name == "sqlite"
    involved: dict[int, set[str]] = {}
    for wanted in _in_chunks(output_ids):
        for table in (JudgmentRow, AssignmentRow):
            if sqlite:
                found = _driver_rows(
                    s, f"SELECT t.output_id, r.name FROM {table.__tablename__} t "
                    "JOIN rater r ON r.id = t.rater_id" + _in_ids("t.output_id", wanted, "WHERE"),
                    wanted)
            else:
                found = list(s.execute(select(table.output_id, RaterRow.name)
                                       .join(RaterRow, RaterRow.id == table.rater_id)
                                       .where(table.output_id.in_(wanted))))
            for oid, name in found:
                involved.setdefault(int(oid), set()).add(name)
    return {o: frozenset(n) for o, n in involved.items()}


def _in_ids(column: str, ids: Sequence[int] | None, word: str = "AND") -> str:
    """`` AND column IN (?, ...)`` for ``ids`` (nothing for None)."""
    return "" if ids is None else f" {word} {column} IN ({','.join('?' * len(ids))})"


def _driver_rows(s: Session, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of one SQLite statement as the driver gives them, in the session's
    transaction."""
    cursor = driver(s.connection()).cursor()
    try:
        rows: list[Any] = cursor.execute(sql, tuple(params)).fetchall()
    finally:
        cursor.close()
    return rows
