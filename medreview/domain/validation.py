"""Is an answer valid for its question, and is a judgment complete? (stdlib only)

The grading panel checks every edit with ``check_answer`` and lets an item count as done only
when ``is_complete`` holds; the save path re-checks against the rubric version the draft was
made under. Stored answer values per kind are listed in ``medreview.domain.rubric``.

``None`` always means "unanswered": it is a valid value (clearing an answer) and makes a
required question missing. A blank text also counts as unanswered; an empty list for a
multi-choice or error question is an answer ("none of these" / "no error found").
"Not applicable" answers a question where ``domain.not_assessed.na_allowed``; an item marked
"cannot assess" (with a valid reason) misses no required question.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from medreview.domain.judgment import Annotation, annotation_to_dict
from medreview.domain.not_assessed import (
    CANNOT_ASSESS_KEY,
    cannot_assess_of,
    check_cannot_assess,
    is_not_applicable,
    na_allowed,
)
from medreview.domain.rubric import Form, Option, Question, QuestionKind

# A pairwise answer is one of these; a form's options may relabel them or leave out the tie.
PAIRWISE_VALUES: Final = ("A", "B", "tie")
_NUMBER: Final = (int, float)

# Keys an entry of an error answer may carry.
ERROR_ENTRY_KEYS: Final = ("category", "severity", "span", "region", "note")


def _is_number(value: Any) -> bool:
    # bool is an int subclass; True must never pass for the scale point 1.
    # A tuple, not ``int | float``: the union is built on every call (3x the cost).
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def _same_value(value: Any, option_value: str | int | float) -> bool:
    if isinstance(option_value, str):
        return isinstance(value, str) and value == option_value
    return _is_number(value) and value == option_value


def _in_options(value: Any, options: Sequence[Option]) -> bool:
    # A plain loop: ``any()`` over a generator costs twice as much on this hot path.
    for o in options:  # noqa: SIM110
        if _same_value(value, o.value):
            return True
    return False


def _choices(options: Sequence[Option]) -> str:
    return ", ".join(repr(o.value) for o in options)


def _check_span(span: Any) -> str | None:
    if not isinstance(span, Mapping):
        return "span must be a mapping with start and end"
    start, end = span.get("start"), span.get("end")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        return "span start and end must be integers"
    assert isinstance(start, int) and isinstance(end, int)
    if start < 0 or end < start:
        return f"span [{start}, {end}) is not a range (need 0 <= start <= end)"
    if "text" in span and not isinstance(span["text"], str):
        return "span text must be a string"
    return None


def _check_error_entry(question: Question, entry: Any, n: int) -> str | None:
    if isinstance(entry, Annotation):
        entry = annotation_to_dict(entry)
    if not isinstance(entry, Mapping):
        return f"error {n} is not a mapping"
    unknown = sorted(set(entry) - set(ERROR_ENTRY_KEYS) - {"question_id"})
    if unknown:
        return f"error {n} has unknown field(s) {', '.join(map(repr, unknown))}"
    category = entry.get("category")
    ids = [c.id for c in question.categories]
    if category not in ids:
        return f"error {n}: category {category!r} is not one of {', '.join(ids)}"
    severity = entry.get("severity")
    if question.severities:
        if severity is None:
            return f"error {n} has no severity"
        if not _in_options(severity, question.severities):
            return (
                f"error {n}: severity {severity!r} is not one of "
                f"{_choices(question.severities)}"
            )
    elif severity is not None:
        return f"error {n}: this question has no severities"
    if entry.get("span") is not None:
        reason = _check_span(entry["span"])
        if reason:
            return f"error {n}: {reason}"
    region = entry.get("region")
    if region is not None and not isinstance(region, Mapping):
        return f"error {n}: region must be a mapping"
    if not isinstance(entry.get("note", ""), str):
        return f"error {n}: note must be a string"
    return None


def check_answer(question: Question, value: Any) -> str | None:
    """Why ``value`` is not a valid answer to ``question``, or ``None`` if it is."""
    if value is None:
        return None
    if is_not_applicable(value):
        return None if na_allowed(question) else "not applicable (N/A) is not allowed here"
    kind = question.kind
    if kind is QuestionKind.CRITERION:
        return None if isinstance(value, bool) else "expected true (met) or false (not met)"
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE):
        if _in_options(value, question.options):
            return None
        return f"{value!r} is not one of {_choices(question.options)}"
    if kind is QuestionKind.MULTI_CHOICE:
        if not isinstance(value, list | tuple):
            return "expected a list of option values"
        for v in value:
            if not _in_options(v, question.options):
                return f"{v!r} is not one of {_choices(question.options)}"
        for i, v in enumerate(value):
            if any(_same_value(v, earlier) for earlier in value[:i]):
                return f"{v!r} is chosen twice"
        return None
    if kind is QuestionKind.ERROR:
        if not isinstance(value, list | tuple):
            return "expected a list of errors"
        for n, entry in enumerate(value, start=1):
            reason = _check_error_entry(question, entry, n)
            if reason:
                return reason
        return None
    if kind is QuestionKind.NUMBER:
        if not _is_number(value):
            return "expected a number"
        if question.minimum is not None and value < question.minimum:
            return f"{value} is below the minimum {question.minimum}"
        if question.maximum is not None and value > question.maximum:
            return f"{value} is above the maximum {question.maximum}"
        return None
    if kind is QuestionKind.TEXT:
        return None if isinstance(value, str) else "expected text"
    if kind is QuestionKind.PAIRWISE:
        allowed = [o.value for o in question.options] or list(PAIRWISE_VALUES)
        if isinstance(value, str) and value in allowed:
            return None
        return f"{value!r} is not one of {', '.join(map(repr, allowed))}"
    return f"unknown question kind {kind!r}"  # pragma: no cover - QuestionKind is closed


def is_answered(question: Question, value: Any) -> bool:
    """Whether ``value`` counts as an answer (not ``None``, not blank text)."""
    if value is None:
        return False
    if question.kind is QuestionKind.TEXT and isinstance(value, str):
        return bool(value.strip())
    return True


def _all_questions(form: Form, case_questions: Sequence[Question]) -> list[Question]:
    return [*form.questions, *case_questions]


def missing_required(
    form: Form,
    answers: Mapping[str, Any],
    case_questions: Sequence[Question] = (),
) -> list[str]:
    """Ids of required questions without an answer, in form order then case order. None for
    an item the rater cannot assess (it is done with its reason)."""
    if cannot_assess_of(answers) is not None:
        return []
    return [
        q.id
        for q in _all_questions(form, case_questions)
        if q.required and not is_answered(q, answers.get(q.id))
    ]


def invalid_answers(
    form: Form,
    answers: Mapping[str, Any],
    case_questions: Sequence[Question] = (),
) -> dict[str, str]:
    """``{question id: reason}`` for every answer that is invalid or has no question."""
    return invalid_answers_by_id(questions_by_id(form, case_questions), answers)


def questions_by_id(form: Form, case_questions: Sequence[Question] = ()) -> dict[str, Question]:
    """The questions ``invalid_answers`` checks answers against, by id."""
    return {q.id: q for q in _all_questions(form, case_questions)}


def invalid_answers_by_id(
    by_id: Mapping[str, Question], answers: Mapping[str, Any]
) -> dict[str, str]:
    """``invalid_answers`` with the questions already indexed (``questions_by_id``): for a
    caller checking many judgments under the same form and case."""
    problems: dict[str, str] = {}
    for qid, value in answers.items():
        question = by_id.get(qid)
        if qid == CANNOT_ASSESS_KEY:
            reason = check_cannot_assess(value)
            if reason:
                problems[qid] = reason
            continue
        if question is None:
            problems[qid] = "no such question in this form or case"
            continue
        reason = check_answer(question, value)
        if reason:
            problems[qid] = reason
    return problems


def is_complete(
    form: Form,
    answers: Mapping[str, Any],
    case_questions: Sequence[Question] = (),
) -> bool:
    """Every required question answered and every answer valid."""
    return not missing_required(form, answers, case_questions) and not invalid_answers(
        form, answers, case_questions
    )
