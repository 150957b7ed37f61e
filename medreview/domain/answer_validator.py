"""``invalid_answers_by_id`` compiled once per set of questions, for checking many judgments.

A merge checks every new revision of a package against its form and its case's criteria:
100,000 answer dicts against a few hundred distinct question sets. Each question becomes a
small rule (its kind, whether "not applicable" answers it, its allowed strings and numbers,
its range) so that the common answers (a scale point, a choice, true/false, a number in range,
a text) are decided by a type test and a set lookup.

Only acceptance is decided here. Any value the rule does not accept outright (a list, a
wrong type, an unknown choice, a bound passed) goes to ``validation.check_answer``, which
gives the verdict and its message: a refusal and its wording are always that function's.
Pure and stdlib only; ``tests/domain/test_answer_validator.py`` compares it with
``invalid_answers_by_id`` on hundreds of hostile answer dicts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from medreview.domain.not_assessed import (
    CANNOT_ASSESS_KEY,
    NOT_APPLICABLE,
    check_cannot_assess,
    na_allowed,
)
from medreview.domain.rubric import Question, QuestionKind
from medreview.domain.validation import PAIRWISE_VALUES, check_answer

NO_SUCH_QUESTION: Final = "no such question in this form or case"

# Rule codes: what a rule can accept without asking check_answer.
_CRITERION, _CHOICE, _NUMBER, _TEXT, _PAIRWISE, _SLOW = range(6)

# (code, "_n/a" accepted, allowed strings, allowed numbers, minimum, maximum)
_Rule = tuple[int, bool, frozenset[str], frozenset[int | float], float | None, float | None]
_EMPTY_S: frozenset[str] = frozenset()
_EMPTY_N: frozenset[int | float] = frozenset()

# Rules by question, keyed by the question's id() and holding the question itself (so it is
# not freed and its id reused while kept): a merge builds one validator per case, each with
# the same rubric questions and a few criteria of its own.
RuleMemo = dict[int, tuple[Question, _Rule]]


def _rule(q: Question) -> _Rule:
    na = na_allowed(q)
    kind = q.kind
    if kind is QuestionKind.CRITERION:
        return (_CRITERION, na, _strings((), na), _EMPTY_N, None, None)
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        values = [o.value for o in q.options]
        # An option value is a string or a number (never a bool: the schema refuses them);
        # anything else leaves the question to check_answer.
        if not all(type(v) in (str, int, float) for v in values):
            return (_SLOW, na, _EMPTY_S, _EMPTY_N, None, None)
        return (_CHOICE, na, _strings(values, na),
                frozenset(v for v in values if not isinstance(v, str)), None, None)
    if kind is QuestionKind.NUMBER:
        return (_NUMBER, na, _strings((), na), _EMPTY_N, q.minimum, q.maximum)
    if kind is QuestionKind.TEXT:
        return (_TEXT, na, _EMPTY_S, _EMPTY_N, None, None)
    if kind is QuestionKind.PAIRWISE:
        allowed = [o.value for o in q.options] or list(PAIRWISE_VALUES)
        return (_PAIRWISE, na, _strings(allowed, na), _EMPTY_N, None, None)
    return (_SLOW, na, _EMPTY_S, _EMPTY_N, None, None)  # multi-choice and error lists


def _strings(values: Sequence[object], na: bool) -> frozenset[str]:
    """The strings a question accepts: its string options, and "_n/a" exactly when N/A is
    allowed (check_answer tests N/A before the options, so an option spelt "_n/a" counts
    only then)."""
    found = {v for v in values if isinstance(v, str)} - {NOT_APPLICABLE}
    return frozenset(found | {NOT_APPLICABLE} if na else found)


def _memo_rule(q: Question, memo: RuleMemo | None) -> _Rule:
    if memo is None:
        return _rule(q)
    hit = memo.get(id(q))
    if hit is None or hit[0] is not q:
        hit = memo[id(q)] = (q, _rule(q))
    return hit[1]


def _accepts_number(rule: _Rule, value: int | float) -> bool:
    # math.isfinite where check_answer calls it (numeric options, number questions): an int
    # past a float's range raises OverflowError there, and raises it here too.
    code = rule[0]
    if code == _CHOICE and rule[3]:
        return math.isfinite(value) and value in rule[3]
    if code == _NUMBER:
        lo, hi = rule[4], rule[5]
        return math.isfinite(value) and (lo is None or not value < lo) and (
            hi is None or not value > hi)
    return False


class AnswerValidator:
    """The answers check for one set of questions (``validation.questions_by_id``)."""

    __slots__ = ("_questions", "_rules")

    def __init__(self, by_id: Mapping[str, Question], memo: RuleMemo | None = None) -> None:
        self._questions = dict(by_id)
        # The cannot-assess key is checked by its own rule, whatever the questions are.
        self._rules = {qid: _memo_rule(q, memo) for qid, q in by_id.items()
                       if qid != CANNOT_ASSESS_KEY}

    def extended(self, more: Sequence[Question], memo: RuleMemo | None = None
                 ) -> AnswerValidator:
        """This check with ``more`` questions after these (a case's criteria after its
        form's): ``questions_by_id(form, [*these, *more])``, without compiling these again."""
        new = AnswerValidator.__new__(AnswerValidator)
        new._questions = {**self._questions, **{q.id: q for q in more}}
        new._rules = {**self._rules, **{q.id: _memo_rule(q, memo) for q in more
                                        if q.id != CANNOT_ASSESS_KEY}}
        return new

    def _reason(self, qid: Any, value: Any) -> str | None:
        if qid == CANNOT_ASSESS_KEY:
            return check_cannot_assess(value)
        question = self._questions.get(qid)
        if question is None:
            return NO_SUCH_QUESTION
        return check_answer(question, value)

    def problems(self, answers: Mapping[str, Any]) -> dict[str, str]:
        """Exactly ``invalid_answers_by_id(by_id, answers)``."""
        out: dict[str, str] = {}
        rules = self._rules
        for qid, value in answers.items():
            rule = rules.get(qid)
            # Accepted outright only where check_answer returns None; anything else is left
            # to check_answer (via _reason), which gives the verdict and the message.
            if rule is not None:
                t = type(value)
                if t is str:
                    if (rule[1] or value != NOT_APPLICABLE) if rule[0] == _TEXT else (
                            value in rule[2]):
                        continue
                elif value is None:  # unanswered: always valid
                    continue
                elif t is int or t is float:
                    if _accepts_number(rule, value):
                        continue
                elif t is bool and rule[0] == _CRITERION:
                    continue
            reason = self._reason(qid, value)
            if reason:
                out[qid] = reason
        return out

    def first_problem(self, answers: Mapping[str, Any]) -> tuple[str, str] | None:
        """The first entry of ``problems``: every answer is still checked, so an answer
        further on that makes the check raise raises here too."""
        return next(iter(self.problems(answers).items()), None)
