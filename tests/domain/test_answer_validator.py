"""AnswerValidator (the merge's compiled answers check) against the check it replaces.

The reference is ``invalid_answers_by_id`` as it stood when the validator was written, kept
here verbatim (over the unchanged ``check_answer``), so a later change of either side shows
up. Hundreds of hostile answer dicts, seeded: wrong types, bools for numbers, NaN and
infinities, huge integers, unknown keys, not-applicable and cannot-assess entries, long
strings. Same accept/refuse decision and the same one-line message, question by question.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from medreview.domain.answer_validator import AnswerValidator
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, check_cannot_assess
from medreview.domain.rubric import (
    ErrorCategory,
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.validation import check_answer, questions_by_id

K = QuestionKind


def reference_invalid_answers_by_id(by_id: Mapping[str, Question],
                                    answers: Mapping[str, Any]) -> dict[str, str]:
    """``validation.invalid_answers_by_id`` before the compiled validator (the reference)."""
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


QUESTIONS = (
    Question("crit", K.CRITERION, "Mentions X", points=5),
    Question("crit_no_na", K.CRITERION, "Mentions Y", points=1, allow_na=False),
    Question("scale", K.ORDINAL, "Quality", options=tuple(Option(v, str(v)) for v in (1, 2, 3))),
    Question("scale_na", K.ORDINAL, "Quality", allow_na=True,
             options=(Option(0.5, "half"), Option(1, "one"), Option(-0.0, "zero"))),
    Question("choice", K.SINGLE_CHOICE, "Pick",
             options=(Option("yes", "Yes"), Option("no", "No"), Option(0, "Zero"),
                      Option("_n/a", "an option spelt like N/A"))),
    Question("multi", K.MULTI_CHOICE, "Pick any",
             options=(Option("a", "A"), Option("b", "B"), Option(3, "Three"))),
    Question("errs", K.ERROR, "Errors",
             categories=(ErrorCategory("fab", "Fabricated"), ErrorCategory("omit", "Omitted")),
             severities=(Option("minor", "Minor"), Option("major", "Major"))),
    Question("num", K.NUMBER, "Count", minimum=0, maximum=10),
    Question("num_open", K.NUMBER, "Minutes"),
    Question("num_lo", K.NUMBER, "At least", minimum=-2.5, allow_na=True),
    Question("text", K.TEXT, "Why"),
    Question("text_na", K.TEXT, "Why not", allow_na=True),
    Question("pair", K.PAIRWISE, "Which is better"),
    Question("pair_no_tie", K.PAIRWISE, "Which", options=(Option("A", "First"),
                                                          Option("B", "Second"))),
    case_criterion_question("c1", "Names the drug", 5.0),
    case_criterion_question("c2", "Gives the dose", -3.0),
)
FORM = Form(key="r", version=1, name="R", kind=FormKind.RUBRIC, questions=QUESTIONS[:-2])
BY_ID = questions_by_id(FORM, QUESTIONS[-2:])

VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, 4, -1, 10, 11, 0.5, 1.0, 2.0, -0.0, 0.0, 3.0000001,
    float("nan"), float("inf"), float("-inf"), 10 ** 400, -(10 ** 400), 2 ** 53 + 1,
    "", " ", "yes", "no", "Yes", "A", "B", "tie", "a", "b", "_n/a", "_N/A", "n/a", "1",
    "x" * 100_000, [], ["a"], ["a", "a"], ["a", 3], [3.0, "b"], [True], ("a",),
    [{"category": "fab", "severity": "minor"}], [{"category": "nope", "severity": "minor"}],
    [{"category": "fab"}], [{"category": "fab", "severity": "minor", "span": {"start": 2,
                                                                               "end": 1}}],
    [{"category": "fab", "severity": "minor", "bogus": 1}], [7], {}, {"a": 1}, {"reason": "other"},
    {"reason": "missing_context"}, {"reason": "other", "note": "why"}, {"reason": "x"},
    {"reason": "other", "note": "  "}, {"reason": "missing_context", "extra": 1}, b"bytes",
    object(),
]
KEYS = [q.id for q in BY_ID.values()] + [CANNOT_ASSESS_KEY, "nope", "criterion:c3", "", "_x"]


def _random_answers(rng: random.Random) -> dict[str, Any]:
    return {rng.choice(KEYS): rng.choice(VALUES) for _ in range(rng.randint(0, 9))}


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # the same exception (an int past a float's range) both ways
        return (type(exc), str(exc))


def _first(problems: Any) -> Any:
    if isinstance(problems, tuple) and problems and isinstance(problems[0], type):
        return problems  # an exception
    return next(iter(problems.items()), None)


@pytest.mark.parametrize("seed", range(6))
def test_same_verdicts_and_messages_on_random_hostile_answers(seed: int) -> None:
    rng = random.Random(seed)
    validator = AnswerValidator(BY_ID)
    refused = 0
    for _ in range(100):
        answers = _random_answers(rng)
        want = _outcome(reference_invalid_answers_by_id, BY_ID, answers)
        assert _outcome(validator.problems, answers) == want, answers
        assert _outcome(validator.first_problem, answers) == _first(want), answers
        refused += bool(want)
    assert 20 < refused < 100  # the draw holds both valid and invalid dicts


@pytest.mark.parametrize("qid", sorted(BY_ID))
def test_every_value_alone_under_every_question(qid: str) -> None:
    validator = AnswerValidator(BY_ID)
    accepted = 0
    for value in VALUES:
        answers = {qid: value}
        want = _outcome(reference_invalid_answers_by_id, BY_ID, answers)
        assert _outcome(validator.problems, answers) == want, (qid, value)
        assert _outcome(validator.first_problem, answers) == _first(want), (qid, value)
        accepted += want == {}
    assert accepted >= 2  # None and at least one real answer


def test_cannot_assess_and_unknown_keys_keep_their_messages() -> None:
    validator = AnswerValidator(BY_ID)
    assert validator.first_problem({"scale": 2, "nope": 1}) == (
        "nope", "no such question in this form or case")
    assert validator.first_problem({CANNOT_ASSESS_KEY: {"reason": "other"}}) == (
        CANNOT_ASSESS_KEY, "cannot assess for reason 'other' needs a note saying why")
    assert validator.first_problem({"scale": True})[1] == "True is not one of 1, 2, 3"  # type: ignore[index]
    assert validator.first_problem({"crit_no_na": "_n/a"}) == (
        "crit_no_na", "not applicable (N/A) is not allowed here")
    assert validator.first_problem({"crit": "_n/a", "num": 10, "pair": "tie"}) is None


def test_a_form_check_extended_with_criteria_is_the_check_of_all_of_them() -> None:
    """The merge compiles a form once and adds each case's criteria (``extended``)."""
    rng = random.Random(7)
    base = AnswerValidator(questions_by_id(FORM))
    for criteria in (QUESTIONS[-2:], QUESTIONS[-1:], (), (QUESTIONS[2],)):  # also an override
        full = questions_by_id(FORM, criteria)
        extended = base.extended(criteria, {})
        for _ in range(150):
            answers = _random_answers(rng)
            want = _outcome(reference_invalid_answers_by_id, full, answers)
            assert _outcome(extended.problems, answers) == want, (criteria, answers)
    assert base.first_problem({"criterion:c1": True}) == (
        "criterion:c1", "no such question in this form or case")  # base left as it was
