"""Scores computed from answers: the HealthBench rubric rule and the simple form rules.

Stdlib only. ``form.scoring`` names the rule:

* ``healthbench`` -- points of the criteria met (penalties included) over the sum of the
  positive points, over the form's criterion questions plus the case's criteria. A case's score
  is *not* clipped (it can be negative); only the mean over cases is clipped to [0, 1]
  (``clipped_mean``), as ``openai/simple-evals`` does.
* ``sum`` -- sum of the answered ordinal and number values plus the points of criteria met.
* ``mean`` -- mean of the answered ordinal values.
* no rule (``None``) -- the form has no score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from medreview.domain.not_assessed import (
    CANNOT_ASSESS_KEY,
    NOT_APPLICABLE,
    cannot_assess_of,
    is_not_applicable,
)
from medreview.domain.rubric import Form, Question, QuestionKind

SCORING_RULES: Final = ("healthbench", "sum", "mean")


def healthbench_score(criteria: Sequence[tuple[float, bool]]) -> float | None:
    """HealthBench score of one case from ``(points, met)`` pairs.

    ``achieved / possible`` where *possible* sums the positive points and *achieved* sums the
    points of every criterion met, negative ones included. ``None`` when there is no positive
    point (the reference code asserts this never happens on its data).
    """
    possible = math.fsum(points for points, _ in criteria if points > 0)
    if possible <= 0:
        return None
    achieved = math.fsum(points for points, met in criteria if met)
    return achieved / possible


def clipped_mean(scores: Iterable[float | None]) -> float | None:
    """Mean of the case scores, clipped to [0, 1]; ``None`` entries are skipped.

    HealthBench clips after averaging, never per case: a case at -0.3 pulls the mean down.
    ``None`` when no score is left.
    """
    values = [s for s in scores if s is not None]
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    return min(1.0, max(0.0, mean))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # tuple: faster than a union
        return None
    return float(value) if math.isfinite(value) else None


def form_score(
    form: Form,
    answers: Mapping[str, Any],
    case_questions: Sequence[Question] = (),
) -> float | None:
    """The score of one judgment under ``form.scoring``; ``None`` if the form has no rule.

    An unanswered criterion counts as not met (the live score during grading therefore only
    grows as criteria are ticked); completeness is checked separately by
    ``medreview.domain.validation``. Answers that are not numbers are ignored. A criterion
    answered "not applicable" is out of both the points achieved and the points possible; an
    item the rater cannot assess has no score (``domain.not_assessed``).
    """
    if cannot_assess_of(answers) is not None:
        return None
    questions = [*form.questions, *case_questions]
    rule = form.scoring
    if rule == "healthbench":
        criteria = [
            (float(q.points), answers.get(q.id) is True)
            for q in questions
            if q.kind is QuestionKind.CRITERION and q.points is not None
            and not is_not_applicable(answers.get(q.id))
        ]
        return healthbench_score(criteria)
    if rule == "sum":
        parts: list[float] = []
        for q in questions:
            value = answers.get(q.id)
            if q.kind is QuestionKind.CRITERION and q.points is not None:
                if isinstance(value, bool):  # not met scores 0 but is still an answer
                    parts.append(float(q.points) if value else 0.0)
            elif q.kind in (QuestionKind.ORDINAL, QuestionKind.NUMBER):
                number = _number(value)
                if number is not None:
                    parts.append(number)
        return math.fsum(parts) if parts else None
    if rule == "mean":
        values = [
            n
            for q in questions
            if q.kind is QuestionKind.ORDINAL
            and (n := _number(answers.get(q.id))) is not None
        ]
        return math.fsum(values) / len(values) if values else None
    return None


def judgment_score(
    form: Form | None,
    answers: Mapping[str, Any],
    case_questions: Sequence[Question] = (),
    *,
    status: str = "done",
) -> float | None:
    """The overall score stored with every judgment revision, whoever wrote it.

    The one rule behind ``overall_score``: grading, imports, the LLM judge, merged rater
    packages and undo all store this value (``storage.revisions.append_revision`` calls it), so
    the same answers under the same form always carry the same score. A skipped judgment has no
    score (it rates nothing); a score that is not a finite number (answers summing past the
    float range) is ``None`` rather than an error, since answers may come from hostile files.
    """
    if form is None or status == "skipped" or not isinstance(answers, Mapping):
        return None
    try:
        score = form_score(form, answers, case_questions)
    except OverflowError:  # math.fsum on values whose sum leaves the float range
        return None
    return score if score is not None and math.isfinite(score) else None


# --- the same rule, prepared once per (form, case criteria) -----------------------------------

Score = Callable[[Any, str], float | None]  # (answers, status) -> judgment_score's value

_CRITERION, _NUMBER = 0, 1  # what a "sum" term reads: a criterion's points, or a number


def prepared_score(form: Form | None, case_questions: Sequence[Question] = ()) -> Score:
    """``judgment_score(form, answers, case_questions, status=status)`` as a function of
    ``(answers, status)``: the questions that count are picked once, not per judgment.

    A merge scores hundreds of thousands of judgments under a few forms; going through every
    question of the form and its kind per judgment was most of the time. The value is the
    same to the last bit: the same values are summed in the same order by ``math.fsum``
    (tests/domain/test_prepared_score.py checks it against ``judgment_score``)."""
    return score_preparer(form)(case_questions)


def score_preparer(form: Form | None) -> Callable[[Sequence[Question]], Score]:
    """``prepared_score(form, case_questions)`` for many cases' criteria: the form's own
    questions are picked once, each case adds its criteria."""
    rule = None if form is None else form.scoring
    if form is None or rule is None or rule not in SCORING_RULES:
        return lambda case_questions: _no_score
    make = _MAKERS[rule]

    def judgment_score_of(case_questions: Sequence[Question]) -> Score:
        # points past the float range: judgment_score's own path decides
        return lambda answers, status: judgment_score(form, answers, case_questions,
                                                      status=status)
    try:
        base = _terms(rule, form.questions)
    except OverflowError:
        return judgment_score_of
    alone = make(base)

    def prepare(case_questions: Sequence[Question]) -> Score:
        if not case_questions:
            return alone
        try:
            return make(base + _terms(rule, case_questions))
        except OverflowError:
            return judgment_score_of(case_questions)
    return prepare


def _terms(rule: str, questions: Sequence[Question]) -> tuple[Any, ...]:
    """What each rule reads of ``questions``, in their order (``form_score``'s filters)."""
    if rule == "healthbench":
        return tuple((q.id, float(q.points)) for q in questions
                     if q.kind is QuestionKind.CRITERION and q.points is not None)
    if rule == "sum":
        terms: list[tuple[str, int, float]] = []
        for q in questions:
            if q.kind is QuestionKind.CRITERION and q.points is not None:
                terms.append((q.id, _CRITERION, float(q.points)))
            elif q.kind in (QuestionKind.ORDINAL, QuestionKind.NUMBER):
                terms.append((q.id, _NUMBER, 0.0))
        return tuple(terms)
    return tuple(q.id for q in questions if q.kind is QuestionKind.ORDINAL)


def _no_score(answers: Any, status: str) -> float | None:
    return None


def _assessed(answers: Any, status: str) -> bool:
    """What ``judgment_score`` and ``form_score`` ask before any rule (a plain dict first:
    an ABC ``isinstance`` costs more than the rest)."""
    if status == "skipped":
        return False
    if answers.__class__ is dict:
        return CANNOT_ASSESS_KEY not in answers
    return isinstance(answers, Mapping) and cannot_assess_of(answers) is None


def _finite(score: float | None) -> float | None:
    return score if score is not None and math.isfinite(score) else None


def _healthbench(criteria: tuple[tuple[str, float], ...]) -> Score:
    fsum = math.fsum

    def score(answers: Any, status: str) -> float | None:
        if not _assessed(answers, status):
            return None
        get = answers.get
        possible: list[float] = []
        achieved: list[float] = []
        for qid, points in criteria:
            value = get(qid)
            if isinstance(value, str) and value == NOT_APPLICABLE:
                continue  # out of both sums
            if points > 0:
                possible.append(points)
            if value is True:
                achieved.append(points)
        try:
            total = fsum(possible)
            return _finite(fsum(achieved) / total) if total > 0 else None
        except OverflowError:  # as judgment_score: a sum past the float range
            return None
    return score


def _sum(terms: tuple[tuple[str, int, float], ...]) -> Score:
    def score(answers: Any, status: str) -> float | None:
        if not _assessed(answers, status):
            return None
        get = answers.get
        parts: list[float] = []
        try:
            for qid, what, points in terms:
                value = get(qid)
                if what == _CRITERION:
                    if isinstance(value, bool):  # not met scores 0 but is still an answer
                        parts.append(points if value else 0.0)
                else:
                    number = _number(value)  # an int past the float range: OverflowError
                    if number is not None:
                        parts.append(number)
            return _finite(math.fsum(parts)) if parts else None
        except OverflowError:
            return None
    return score


def _mean(ids: tuple[str, ...]) -> Score:
    def score(answers: Any, status: str) -> float | None:
        if not _assessed(answers, status):
            return None
        get = answers.get
        try:
            values = [n for qid in ids if (n := _number(get(qid))) is not None]
            return _finite(math.fsum(values) / len(values)) if values else None
        except OverflowError:
            return None
    return score


_MAKERS: dict[str, Callable[[Any], Score]] = {
    "healthbench": _healthbench, "sum": _sum, "mean": _mean}
