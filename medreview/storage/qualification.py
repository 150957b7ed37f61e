"""The qualification round (issue #18): gold items a physician grades before their real queue
opens, scored against the gold labels per question.

The round is ``study_item`` rows of kind ``qualification`` (migration 0010) plus the project
setting ``settings["qualification"] = {"pass_mark": 0.8, "waived": [names]}``. A rater's
score is the share of gold questions, over all their qualification items, they answered as
the gold (``domain.consensus.same_answer`` on ``rating_value``, the rule of adjudication and
the gold export). They pass once every item is done and the score reaches the pass mark; a
waived rater's queue is open whatever the score.

Qualification judgments are ordinary judgments (they enter the statistics like any other
rating of those outputs): the round only decides which items the queue serves.

On PostgreSQL a rater login reads gold only for their own finished qualification items
(row-level security of 0010): a rater's own status reads exactly the gold it needs, since an
unfinished item has no score yet.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medreview.domain.consensus import blind_label, rating_value, same_answer
from medreview.domain.rubric import Question, case_criterion_question
from medreview.errors import InputError
from medreview.storage.check_items import not_attention
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    AssignmentRow,
    CaseCriterionRow,
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    StudyItemRow,
)
from medreview.storage.project import Project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.rating_columns import SCORE_QUESTION_ID
from medreview.storage.revisions import RETEST_SOURCE

KIND = "qualification"
SETTINGS_KEY = "qualification"
DEFAULT_PASS_MARK = 0.8
MAX_ITEMS = 1000  # qualification items per round: a round, not a study
MAX_WAIVED = 10_000
HIDDEN_KINDS = ("check", "attention")  # hidden gold and attention items (never drawn here)


@dataclass(frozen=True)
class QualificationSettings:
    pass_mark: float = DEFAULT_PASS_MARK
    waived: frozenset[str] = frozenset()


@dataclass(frozen=True)
class QuestionScore:
    question_id: str
    matched: int
    total: int


@dataclass(frozen=True)
class QualificationStatus:
    """One rater's round: items, how many done, and the score over the done items."""

    rater: str
    rater_id: int
    items: tuple[int, ...]  # output ids, in the order served
    done: int
    matched: int  # gold questions answered as the gold, over the done items
    total: int  # gold questions of the done items
    per_question: tuple[QuestionScore, ...]
    pass_mark: float
    waived: bool

    @property
    def score(self) -> float | None:
        return self.matched / self.total if self.total else None

    @property
    def complete(self) -> bool:
        return self.done >= len(self.items)

    @property
    def passed(self) -> bool:
        score = self.score
        return self.complete and score is not None and score >= self.pass_mark - 1e-12

    @property
    def is_open(self) -> bool:
        """Whether the rater's real queue is open."""
        return self.waived or self.passed

    @property
    def state(self) -> str:
        if self.waived:
            return "waived"
        if self.passed:
            return "passed"
        return "failed" if self.complete else "in progress"

    def line(self) -> str:
        """The one line the grading screen shows while the queue is closed."""
        score = self.score
        if not self.complete:
            return (f"Qualification: {self.done} of {len(self.items)} items done; your real "
                    "queue opens when you pass")
        shown = "no gold questions" if score is None else f"{_pct(score)} %"
        return (f"Qualification: {shown} of {_pct(self.pass_mark)} % needed — ask the study "
                "lead")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def settings_from(raw: Any) -> QualificationSettings:
    """Read hostile settings JSON: a pass mark out of [0, 1] falls back to the default."""
    if not isinstance(raw, dict):
        return QualificationSettings()
    mark = raw.get("pass_mark")
    ok = (isinstance(mark, int | float) and not isinstance(mark, bool) and math.isfinite(mark)
          and 0.0 <= mark <= 1.0)
    waived = raw.get("waived")
    names = (frozenset(str(n) for n in waived[:MAX_WAIVED] if isinstance(n, str))
             if isinstance(waived, list) else frozenset())
    return QualificationSettings(float(mark) if ok else DEFAULT_PASS_MARK, names)  # type: ignore[arg-type]


def settings_in(s: Session) -> QualificationSettings:
    raw = s.scalar(select(ProjectRow.settings))
    return settings_from(raw.get(SETTINGS_KEY) if isinstance(raw, dict) else None)


def check_pass_mark(mark: float) -> None:
    if not (math.isfinite(mark) and 0.0 <= mark <= 1.0):
        raise InputError("the pass mark is a fraction between 0 and 1", item=str(mark))


def _write_settings(s: Session, pass_mark: float | None = None,
                    waive: str | None = None) -> QualificationSettings:
    row = s.scalars(select(ProjectRow)).one()
    settings = dict(row.settings or {})
    current = settings_from(settings.get(SETTINGS_KEY))
    waived = set(current.waived) | ({waive} if waive else set())
    new = {"pass_mark": current.pass_mark if pass_mark is None else pass_mark,
           "waived": sorted(waived)}
    settings[SETTINGS_KEY] = new
    row.settings = settings
    return settings_from(new)


def gold_outputs(s: Session) -> list[int]:
    """Outputs that have a gold label, in id order (the candidates of a round); never an
    attention item (its expected answer is gold too, and feedback would show it)."""
    return sorted(int(o) for o in s.scalars(select(GoldLabelRow.output_id).where(
        GoldLabelRow.question_id != SCORE_QUESTION_ID,
        not_attention(s, GoldLabelRow.output_id)).distinct()))


def gold_output_count(project: Project) -> int:
    with project.read() as s:
        return len(gold_outputs(s))


def choose_gold(project: Project, n: int, seed: int) -> list[int]:
    """``n`` gold outputs drawn with ``seed`` (sorted by id: the draw decides which, not the
    order); never a hidden check or attention item."""
    with project.read() as s:
        hidden = set(s.scalars(select(StudyItemRow.output_id).where(
            StudyItemRow.kind.in_(HIDDEN_KINDS))))
        pool = [o for o in gold_outputs(s) if o not in hidden]  # feedback would reveal them
    if n < 1:
        raise InputError("a qualification round needs at least one gold item")
    if n > len(pool):
        raise InputError(f"the project has {len(pool)} outputs with gold labels, "
                         f"fewer than {n}")
    return sorted(random.Random(seed).sample(pool, n))


@dataclass(frozen=True)
class RoundWritten:
    added: int
    created_raters: tuple[str, ...]
    settings: QualificationSettings


def set_round(project: Project, raters: Sequence[str], output_ids: Sequence[int], *,
              pass_mark: float | None, by: str = "") -> RoundWritten:
    """Give each rater the qualification items ``output_ids`` (kept if they have them
    already) and set the pass mark; missing physicians are created (as ``assign`` does)."""
    names = [n.strip() for n in raters if n.strip()]
    if not names:
        raise InputError("name at least one rater (--raters A,B)")
    if len(set(names)) != len(names):
        raise InputError("a rater is named twice", item=", ".join(names))
    ids = list(dict.fromkeys(int(o) for o in output_ids))
    if len(ids) > MAX_ITEMS:
        raise InputError(f"a qualification round holds at most {MAX_ITEMS} items")
    if pass_mark is not None:
        check_pass_mark(pass_mark)
    with project.transaction() as s:
        gold = set(gold_outputs(s))
        for oid in ids:
            if s.get(OutputRow, oid) is None:
                raise InputError("no such output in this project", item=str(oid))
            if oid not in gold:
                raise InputError("this output has no gold label: it cannot be a "
                                 "qualification item", item=str(oid))
        known = set(s.scalars(select(RaterRow.name)))
        added = 0
        for name in names:
            rater = get_or_create_rater(s, name, "physician")
            have = set(s.scalars(select(StudyItemRow.output_id).where(
                StudyItemRow.rater_id == rater.id, StudyItemRow.kind == KIND)))
            for oid in ids:
                if oid not in have:
                    s.add(StudyItemRow(rater_id=rater.id, output_id=oid, kind=KIND,
                                       reason="qualification round", created_by=by))
                    added += 1
            if s.get_bind().dialect.name == "postgresql":
                _assign_on_server(s, rater.id, ids)
        settings = _write_settings(s, pass_mark=pass_mark)
        return RoundWritten(added, tuple(n for n in names if n not in known), settings)


def _assign_on_server(s: Session, rater_id: int, ids: Sequence[int]) -> None:
    """A server's row-level security shows a rater only the outputs assigned to them
    (migration 0008): there the qualification items are assigned too, after the rest. A
    folder project keeps them out of the assignments, so a rater without assignments still
    grades every output once they pass."""
    have = set(s.scalars(select(AssignmentRow.output_id).where(
        AssignmentRow.rater_id == rater_id)))
    last = s.scalar(select(func.max(AssignmentRow.position)).where(
        AssignmentRow.rater_id == rater_id))
    labels = {i.output_id: i.blind_label for i in _items_with_labels(s, [o for o in ids
                                                                          if o not in have])}
    pos = -1 if last is None else int(last)
    for oid in ids:
        if oid not in have and oid in labels:
            pos += 1
            s.add(AssignmentRow(rater_id=rater_id, output_id=oid, position=pos,
                                blind_label=labels[oid], seed=None))


def waive(project: Project, rater: str) -> QualificationSettings:
    """Open ``rater``'s queue whatever their qualification score (the lead's decision)."""
    with project.transaction() as s:
        if s.scalar(select(RaterRow.id).where(RaterRow.name == rater,
                                              RaterRow.kind == "physician")) is None:
            raise InputError("no such physician in this project", item=rater)
        return _write_settings(s, waive=rater)


def qualification_items(s: Session, rater_id: int) -> list[int]:
    return [int(o) for o in s.scalars(
        select(StudyItemRow.output_id).where(StudyItemRow.rater_id == rater_id,
                                             StudyItemRow.kind == KIND)
        .order_by(StudyItemRow.id))]


# Form id and sha256 -> its questions: the queue reads the round on every load, and loading a
# form row parses its whole definition (a form row's content never changes under its hash).
_FORM_QUESTIONS: dict[tuple[int, str], tuple[Question, ...]] = {}
_FORM_QUESTIONS_MAX = 32


def _form_questions(s: Session, form_id: int) -> tuple[Question, ...]:
    sha = s.scalar(select(FormRow.sha256).where(FormRow.id == form_id))
    if sha is None:
        return ()
    key = (form_id, str(sha))
    found = _FORM_QUESTIONS.get(key)
    if found is None:
        row = s.get(FormRow, form_id)
        found = tuple(form_from_row(row).questions) if row is not None else ()
        if len(_FORM_QUESTIONS) >= _FORM_QUESTIONS_MAX:
            _FORM_QUESTIONS.clear()
        _FORM_QUESTIONS[key] = found
    return found


class _Questions:
    """The questions of each finished item (its forms, its case's criteria), read with a few
    queries for all the items of a round."""

    def __init__(self, s: Session, output_ids: Sequence[int]) -> None:
        self.s = s
        self.forms: dict[int, tuple[Question, ...]] = {}
        self.cases: dict[int, list[Question]] = {}
        if output_ids:
            c = CaseCriterionRow
            for oid, key, text, points, tags in s.execute(
                    select(OutputRow.id, c.key, c.text, c.points, c.tags)
                    .join(c, c.case_id == OutputRow.case_id)
                    .where(OutputRow.id.in_(list(output_ids))).order_by(OutputRow.id,
                                                                         c.position)):
                self.cases.setdefault(int(oid), []).append(
                    case_criterion_question(key, text, points, tuple(tags or ())))

    def of(self, form_ids: Iterable[int | None], output_id: int) -> dict[str, Question]:
        out: dict[str, Question] = {}
        for fid in form_ids:
            if fid is not None:
                if fid not in self.forms:
                    self.forms[fid] = _form_questions(self.s, fid)
                out.update((q.id, q) for q in self.forms[fid])
        out.update((q.id, q) for q in self.cases.get(output_id, ()))
        return out


@dataclass(frozen=True)
class Compared:
    """One gold question of a finished qualification item: the rater's answer and the gold."""

    question_id: str
    question_text: str
    answer: Any
    gold: Any
    same: bool
    gold_rationale: str
    question: Question | None = None  # to show answers in the form's words


def _done_revisions(s: Session, rater_id: int, output_ids: Sequence[int]
                    ) -> dict[int, JudgmentRevisionRow]:
    """Output -> the rater's *first* finished revision, for the judgments among
    ``output_ids`` that are finished now. The first: the answer given before the feedback
    showed the gold (an edit made after seeing it would otherwise raise the score)."""
    if not output_ids:
        return {}
    rows = s.execute(
        select(JudgmentRow.output_id, JudgmentRevisionRow)
        .join(JudgmentRevisionRow, JudgmentRevisionRow.judgment_id == JudgmentRow.id)
        .where(JudgmentRow.rater_id == rater_id, JudgmentRow.status == "done",
               JudgmentRow.output_id.in_(list(output_ids)),
               JudgmentRevisionRow.status == "done",
               JudgmentRevisionRow.source != RETEST_SOURCE)
        .order_by(JudgmentRevisionRow.revision_no.desc())).all()
    return {int(o): rev for o, rev in rows}  # the lowest revision number is written last


def _gold_of(s: Session, output_ids: Sequence[int]) -> dict[int, dict[str, GoldLabelRow]]:
    out: dict[int, dict[str, GoldLabelRow]] = {}
    if not output_ids:
        return out
    for g in s.scalars(select(GoldLabelRow).where(GoldLabelRow.output_id.in_(list(output_ids)))
                       .order_by(GoldLabelRow.revision_no)):
        if g.question_id != SCORE_QUESTION_ID:
            out.setdefault(g.output_id, {})[g.question_id] = g
    return out


def _compare(questions_of: _Questions, output_id: int, rev: JudgmentRevisionRow,
             gold: dict[str, GoldLabelRow]) -> list[Compared]:
    questions = questions_of.of((rev.form_id, rev.taxonomy_id), output_id)
    answers = dict(rev.answers) if isinstance(rev.answers, dict) else {}
    annotations = list(rev.annotations) if isinstance(rev.annotations, list) else []
    out: list[Compared] = []
    order = {qid: i for i, qid in enumerate(questions)}
    for qid in sorted(gold, key=lambda k: (order.get(k, len(order)), k)):
        g = gold[qid]
        q = questions.get(qid)
        value = rating_value(q, answers, annotations) if q is not None else answers.get(qid)
        out.append(Compared(qid, q.prompt if q is not None else qid, value, g.value,
                            same_answer(q.kind if q is not None else None, value, g.value),
                            g.rationale or "", q))
    return out


def status_in(s: Session, rater_id: int, settings: QualificationSettings | None = None, *,
              gate_only: bool = False) -> QualificationStatus | None:
    """The rater's round, or None when they have no qualification items. ``gate_only``: the
    score only where it decides whether the queue is open (a complete round, not waived)."""
    items = qualification_items(s, rater_id)
    if not items:
        return None
    name = s.scalar(select(RaterRow.name).where(RaterRow.id == rater_id)) or str(rater_id)
    settings = settings or settings_in(s)
    revs = _done_revisions(s, rater_id, items)
    waived = name in settings.waived
    scored = not gate_only or (len(revs) >= len(items) and not waived)
    gold = _gold_of(s, sorted(revs)) if scored else {}
    questions = _Questions(s, sorted(revs) if scored else [])
    matched = total = 0
    per_q: dict[str, list[int]] = {}
    for oid, rev in revs.items() if scored else ():
        for c in _compare(questions, oid, rev, gold.get(oid, {})):
            counts = per_q.setdefault(c.question_id, [0, 0])
            counts[0] += int(c.same)
            counts[1] += 1
            matched += int(c.same)
            total += 1
    return QualificationStatus(
        name, rater_id, tuple(items), len(revs), matched, total,
        tuple(QuestionScore(q, m, t) for q, (m, t) in sorted(per_q.items())),
        settings.pass_mark, waived)


def rater_status(project: Project, rater_id: int) -> QualificationStatus | None:
    with project.read() as s:
        return status_in(s, rater_id, gate_only=True)


def round_status(project: Project) -> list[QualificationStatus]:
    """Every rater with qualification items, by name (the lead's view)."""
    with project.read() as s:
        settings = settings_in(s)
        ids = s.scalars(select(StudyItemRow.rater_id).where(StudyItemRow.kind == KIND)
                        .distinct()).all()
        out = [st for rid in ids if (st := status_in(s, int(rid), settings)) is not None]
    return sorted(out, key=lambda st: st.rater)


def feedback(project: Project, rater_id: int, output_id: int) -> list[Compared] | None:
    """The gold answers next to the rater's, for one of their finished qualification items;
    None for any other item (never gold of an unfinished or ordinary item)."""
    with project.read() as s:
        if output_id not in qualification_items(s, rater_id):
            return None
        rev = _done_revisions(s, rater_id, [output_id]).get(output_id)
        if rev is None:
            return None
        return _compare(_Questions(s, [output_id]), output_id, rev,
                        _gold_of(s, [output_id]).get(output_id, {}))


@dataclass(frozen=True)
class PackageItem:
    """An item a rater package serves (the fields of an assignment a package copies)."""

    output_id: int
    position: int
    blind_label: str


def package_items(s: Session, rater_id: int, assignments: Sequence[Any]) -> list[Any]:
    """What a rater's package holds: their assignments, or, until they have passed the
    qualification round, only their qualification items (no gold travels: the package gets
    no feedback, which needs the project)."""
    st = status_in(s, rater_id, gate_only=True)
    if st is None or st.is_open:
        return list(assignments)
    labels = {a.output_id: a.blind_label for a in assignments}
    return [PackageItem(i.output_id, n, labels.get(i.output_id) or i.blind_label)
            for n, i in enumerate(_items_with_labels(s, st.items))]


def _items_with_labels(s: Session, output_ids: Sequence[int]) -> list[PackageItem]:
    """The outputs (that exist) in the given order, each with its blind label in its case."""
    if not output_ids:
        return []
    case_of = dict(s.execute(select(OutputRow.id, OutputRow.case_id)
                             .where(OutputRow.id.in_(list(output_ids)))).all())
    siblings: dict[int, list[int]] = {}
    for cid, oid in s.execute(select(OutputRow.case_id, OutputRow.id).where(
            OutputRow.case_id.in_(sorted(set(case_of.values())))).order_by(OutputRow.id)):
        siblings.setdefault(int(cid), []).append(int(oid))
    return [PackageItem(oid, n, blind_label(siblings[case_of[oid]].index(oid)))
            for n, oid in enumerate(output_ids) if oid in case_of]
