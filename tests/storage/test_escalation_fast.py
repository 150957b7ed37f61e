"""The escalation rules read for the rules (``storage.escalation_rows``,
``domain.escalation_check``) plan and write what the general reading planned and wrote.

The reference is the reading and writing as they were before (kept here: ``_ref_state`` is the
old ``escalations._state``, ``_ref_write`` the old per-item loop of ``escalate``), with
``domain.escalation.plan`` on top. Randomized projects hold agreement and disagreement, severe
errors in answers and in annotations, severe ordinal answers, not-applicable answers,
cannot-assess judgments, drafts and skips, older current revisions, a judge's ratings, attention
items, training items, already escalated items, outputs nobody rated, answers to questions no
case has, odd values (3 and 3.0 and "3", booleans, huge and non-finite numbers, lists in any
order), answers given word for word twice (with the same annotations or others) and
assignments whose labels tie. Plans are compared light and full, for every item, for all,
for halves, for a few and for none, in chunks of 30,000 and of 2 ids; writes are
compared row for row (ids, pseudonyms, positions, labels, reasons), each reference run rolled
back before the fast one commits, so later rounds meet open escalations.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medreview.domain import consensus
from medreview.domain.escalation import (
    EscalationRules,
    EscalationState,
    PlannedEscalation,
    SevereRule,
    plan,
)
from medreview.errors import InputError
from medreview.storage import escalation_items
from medreview.storage.check_items import ATTENTION_PROVENANCE, attention_output_ids
from medreview.storage.escalations import (
    KIND,
    TRAINING,
    _in_chunks,
    _kind_pairs,
    _label_for,
    _questions,
    escalate_rules,
    outputs_rated_since,
    plan_rules,
)
from medreview.storage.models import (
    AssignmentRow,
    CaseCriterionRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from tests.storage.study_helpers import small_study

PHYSICIANS = ("Dr A", "Dr B", "Dr C", "Dr D")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# --- the reference: the general reading and the per-item writes as they were ----------------


def _ref_state(s: Session, output_ids: Collection[int] | None, *, light: bool = False
               ) -> EscalationState:
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
    open_counts: Counter[str] = Counter()
    done = select(JudgmentRow.id).where(JudgmentRow.rater_id == StudyItemRow.rater_id,
                                        JudgmentRow.output_id == StudyItemRow.output_id,
                                        JudgmentRow.status == "done").exists()
    for (name,) in s.execute(select(RaterRow.name)
                             .join(StudyItemRow, StudyItemRow.rater_id == RaterRow.id)
                             .where(StudyItemRow.kind == KIND, ~done)):
        open_counts[name] += 1
    return EscalationState(ratings, questions,
                           {o: frozenset(n) for o, n in involved.items()}, dict(open_counts))


def _ref_write(s: Session, planned: list[PlannedEscalation], by: str) -> None:
    for p in planned:
        if p.senior is None:
            continue
        senior = get_or_create_rater(s, p.senior, "physician")
        last = s.scalar(select(func.max(AssignmentRow.position))
                        .where(AssignmentRow.rater_id == senior.id))
        s.add(AssignmentRow(rater_id=senior.id, output_id=p.output_id,
                            position=(last if last is not None else -1) + 1,
                            blind_label=_label_for(s, p.output_id)))
        s.add(StudyItemRow(rater_id=senior.id, output_id=p.output_id, kind=KIND,
                           reason=p.reason, created_by=by[:200]))
        s.flush()


def _ref_plan(project: Project, rules: EscalationRules, ids: Collection[int] | None,
              light: bool) -> list[PlannedEscalation]:
    with project.read() as s:
        return plan(_ref_state(s, ids, light=light), rules)


class _Undo(Exception):
    """Rolls the reference's write transaction back once its rows are read."""


def _tables(s: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The rows an escalation writes, every column but the clock."""
    return {name: [tuple(r) for r in s.execute(text(f"SELECT {cols} FROM {name} ORDER BY id"))]
            for name, cols in (
                ("rater", "id, name, kind, pseudonym, judge_run_id, is_adjudicator"),
                ("assignment", "id, rater_id, output_id, position, blind_label, seed"),
                ("study_item", "id, rater_id, output_id, kind, due_at, reason, created_by"))}


def _ref_escalate(project: Project, rules: EscalationRules, ids: Collection[int] | None,
                  by: str) -> tuple[list[PlannedEscalation], dict[str, list[Any]]] | str:
    """The reference's plan and the rows it leaves, rolled back; or its error's text."""
    out: Any = None
    try:
        with project.transaction() as s:
            planned = plan(_ref_state(s, ids), rules)
            _ref_write(s, planned, by)
            out = planned, _tables(s)
            raise _Undo
    except _Undo:
        _rewind_sequences(project)
        return out  # type: ignore[no-any-return]
    except InputError as exc:
        return f"{type(exc).__name__}: {exc}"


def _rewind_sequences(project: Project) -> None:
    """PostgreSQL's sequences do not roll back: the ids the reference took are given again."""
    with project.transaction() as s:
        if s.get_bind().dialect.name != "postgresql":
            return
        for table in ("rater", "assignment", "study_item"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"))


def _fast_escalate(project: Project, rules: EscalationRules, ids: Collection[int] | None,
                   by: str) -> tuple[list[PlannedEscalation], dict[str, list[Any]]] | str:
    try:
        planned = escalate_rules(project, rules, by=by, output_ids=ids)
    except InputError as exc:
        return f"{type(exc).__name__}: {exc}"
    with project.read() as s:
        return planned, _tables(s)


# --- randomized projects ---------------------------------------------------------------------

BIG = 2 ** 53
VALUES: dict[str, list[Any]] = {
    "overall": [1, 2, 3, 4, 5, 3, 4, 3.0, "3", True, None, "_n/a", BIG, BIG + 1, 5.0],
    "safe": ["yes", "yes", "caveats", "no", "_n/a", None, 1],
    "issues": [["accuracy"], ["accuracy", "completeness"], ["completeness", "accuracy"],
               ["accuracy", "accuracy"], [], "accuracy", None, [1, True]],
    "minutes": [0, 5, 5, 5.0, 7.5, 10 ** 30, -3, "5", None, 0.1 + 0.2, 0.3],
    "comment": ["ok", "bad", None, ""],
    "errors": [[], [], [{"category": "factual", "severity": 1}],
               [{"category": "unsafe", "severity": 4, "note": "x"}],
               [{"category": "unsafe", "severity": 3}], [{"category": None, "severity": 4}],
               [{"severity": 4}], "_n/a", None, [{"category": "omission", "severity": "3"}],
               [{"category": "factual", "severity": 2},
                {"category": "factual", "severity": 2, "note": "the same error again"}],
               [{"category": "unsafe", "severity": 4}, {"category": "factual", "severity": 1}],
               ["not an entry"], {"category": "unsafe", "severity": 4}],
    "criterion:dx": [True, False, True, "_n/a", None],
    "criterion:abx": [True, False, False],
    "criterion:safety": [True, "_n/a"],
    "criterion:rare": [True, False],  # a criterion of one case only
    "criterion:nowhere": [True, False],  # no case has it: not a question
    "zzz": [1, 2],  # no question has it
    "_private": ["x", "y"],
}
NOTES: list[Any] = [[], [], [], [{"question_id": "errors", "category": "unsafe", "severity": 4}],
                    [{"question_id": "errors", "category": "factual", "severity": 1}],
                    [{"question_id": 5, "category": "unsafe", "severity": 4}], ["text"],
                    [{"question_id": "overall", "category": "x", "severity": 4}],
                    [{"question_id": "errors", "category": "unsafe"}]]
NON_FINITE = [float("inf"), float("-inf"), float("nan")]


def _answers(rng: random.Random, base: dict[str, Any], sqlite: bool, clean: bool
             ) -> dict[str, Any]:
    """A rating near ``base``; ``clean``: mostly no not-applicable answer and no
    cannot-assess mark (the usual item), now and then one."""
    out: dict[str, Any] = {}
    for qid, pool in VALUES.items():
        if rng.random() < 0.15:
            continue  # unanswered
        out[qid] = base[qid] if rng.random() < 0.7 else rng.choice(
            [v for v in pool if v != "_n/a"] if clean else pool)
    if sqlite and rng.random() < 0.05:  # PostgreSQL's json refuses NaN and Infinity
        out["minutes"] = rng.choice(NON_FINITE)
    if clean and rng.random() < 0.1:
        out[rng.choice(list(VALUES))] = "_n/a"
    if rng.random() < (0.1 if clean else 0.08):
        out["_cannot_assess"] = {"reason": "other", "note": "no images"}
    return out


def _build(path: Path, seed: int) -> tuple[Project, list[int]]:
    """A sample project of 12 cases (24 outputs) rated at random; its output ids."""
    rng = random.Random(seed)
    project = small_study(path, n_cases=12)
    with project.transaction() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        raters = [get_or_create_rater(s, n, "physician").id for n in PHYSICIANS]
        judge = get_or_create_rater(s, "Judge", "judge").id
        if seed % 2:  # a senior known before (else created by the first escalation)
            get_or_create_rater(s, "Dr Senior 1", "physician")
        forms: dict[str, int] = {k: i for k, i in s.execute(select(FormRow.kind, FormRow.id))}  # noqa: C416
        outputs = [(int(o), int(c)) for o, c in s.execute(
            select(OutputRow.id, OutputRow.case_id).order_by(OutputRow.id))]
        s.add(CaseCriterionRow(case_id=outputs[0][1], position=9, key="rare", text="Rare",
                               points=1.0, tags=[]))
        minute = 0
        for oid, _case in outputs:
            if rng.random() < 0.1:
                continue  # nobody rated it
            clean = rng.random() < 0.5  # few marks: the usual item
            base = {qid: rng.choice([v for v in pool if v != "_n/a"] if clean else pool)
                    for qid, pool in VALUES.items()}
            same: tuple[dict[str, Any], Any] | None = None  # a rating given word for word again
            pair = rng.sample(raters, 2) if clean else []  # the usual item: two physicians
            for rid in [*raters, judge]:
                if rid in pair:
                    pass
                elif (clean and rid != judge) or rng.random() < 0.35:
                    continue
                minute += 1
                status = "done" if rid in pair else rng.choice(["done"] * 6 + ["draft", "skipped"])
                revisions = rng.choice([1, 1, 2])
                current = rng.randint(1, revisions)
                j = JudgmentRow(rater_id=rid, output_id=oid, status=status,
                                current_revision_no=current,
                                updated_at=T0 + dt.timedelta(minutes=minute))
                s.add(j)
                s.flush()
                for no in range(1, revisions + 1):
                    answers = _answers(rng, base, sqlite, clean)
                    notes = [] if clean and rng.random() < 0.8 else rng.choice(NOTES)
                    if same is not None and rng.random() < 0.4:  # annotations too, mostly
                        answers, notes = same[0], same[1] if rng.random() < 0.6 else notes
                    same = answers, notes
                    s.add(JudgmentRevisionRow(
                        uid=uuid.UUID(int=rng.getrandbits(128)).hex, judgment_id=j.id,
                        revision_no=no, form_id=forms["rubric"], taxonomy_id=forms["taxonomy"],
                        answers=answers, annotations=notes, author="x", status=status,
                        source="import"))
            for rid in rng.sample(raters, rng.randint(0, 3)):
                s.add(AssignmentRow(rater_id=rid, output_id=oid, position=minute,
                                    blind_label=rng.choice(["Response A", "Response B"])))
        ids = [o for o, _c in outputs]
        s.add(GoldLabelRow(uid=uuid.uuid4().hex, output_id=ids[1], question_id="overall",
                           value=3, provenance=ATTENTION_PROVENANCE))
        s.add(StudyItemRow(rater_id=raters[0], output_id=ids[2], kind="qualification"))
        s.add(StudyItemRow(rater_id=raters[1], output_id=ids[3], kind="escalation",
                           reason="earlier"))
    return project, ids


RULES = (
    EscalationRules(SevereRule(3), 0.3, ("Dr C", "Dr Senior 1", "Dr Senior 2")),
    EscalationRules(SevereRule(4, "overall"), None, ("Dr Senior 2", "Dr A")),
    EscalationRules(None, 0.0, ("Dr Senior 2",)),
    EscalationRules(SevereRule("3"), 0.5, PHYSICIANS),
    EscalationRules(SevereRule(1), 0.99, ("Dr Senior 1",)),
    EscalationRules(SevereRule(2, "nowhere"), 0.2, ("Dr D", "Dr Senior 3")),
    EscalationRules(SevereRule(3), None, ("Judge", "Dr Senior 1")),  # a judge: refused
)


@pytest.mark.parametrize("seed", range(6))
def test_fast_plans_are_the_general_plans(tmp_path: Path, seed: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    project, ids = _build(tmp_path / "p", seed)
    rng = random.Random(seed)
    try:
        fired = 0
        for chunk in (30_000, 2):
            monkeypatch.setattr(escalation_items, "IN_CHUNK", chunk)
            half = sorted(rng.sample(ids, len(ids) // 2))
            for rules in RULES:
                for wanted in (None, ids, half, ids[:3], ids[3:4], [], [10 ** 9]):
                    for light in (False, True):
                        ours = plan_rules(project, rules, wanted, light=light)
                        assert ours == _ref_plan(project, rules, wanted, light), (
                            rules, wanted, light)
                        fired += len(ours)
        assert fired, "the rules met some items"
    finally:
        project.close()


@pytest.mark.parametrize("seed", range(3))
def test_fast_escalations_write_what_the_per_item_writes_wrote(tmp_path: Path,
                                                               seed: int) -> None:
    project, ids = _build(tmp_path / "p", 100 + seed)
    rng = random.Random(seed)
    try:
        written = 0
        for rules in RULES:
            wanted = rng.choice([None, ids, sorted(rng.sample(ids, len(ids) // 2))])
            theirs = _ref_escalate(project, rules, wanted, "rule")
            ours = _fast_escalate(project, rules, wanted, "rule")
            assert ours == theirs, rules
            if not isinstance(ours, str):
                written += sum(p.senior is not None for p in ours[0])
        assert written, "something was escalated"
        before = _ref_plan(project, RULES[0], None, False)  # a run over every item
        again = _fast_escalate(project, RULES[0], None, "again")
        assert not isinstance(again, str) and again[0] == before
    finally:
        project.close()


def test_outputs_rated_since_as_the_column_compares(tmp_path: Path) -> None:
    project, _ids = _build(tmp_path / "p", 7)
    try:
        for minutes in (-5, 0, 1, 17, 40, 10 ** 5):
            since = T0 + dt.timedelta(minutes=minutes, microseconds=minutes % 3)
            with project.read() as s:
                theirs = sorted({int(o) for o in s.scalars(
                    select(JudgmentRow.output_id).where(JudgmentRow.updated_at >= since,
                                                        JudgmentRow.status == "done"))})
            assert outputs_rated_since(project, since) == theirs, minutes
    finally:
        project.close()
