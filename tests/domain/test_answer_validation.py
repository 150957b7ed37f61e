"""check_answer per question kind; required questions and completeness of a judgment."""

from __future__ import annotations

from typing import Any

import pytest

from medreview.domain.judgment import Annotation, TextSpan
from medreview.domain.rubric import (
    ErrorCategory,
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.validation import (
    check_answer,
    invalid_answers,
    is_answered,
    is_complete,
    missing_required,
)

K = QuestionKind
CRIT = Question("crit", K.CRITERION, "Mentions X", points=5, required=True)
SCALE = Question("scale", K.ORDINAL, "Quality", required=True,
                 options=(Option(1, "Bad"), Option(2, "Fair"), Option(3, "Good")))
CHOICE = Question("choice", K.SINGLE_CHOICE, "Pick",
                  options=(Option("yes", "Yes"), Option("no", "No"), Option(0, "Zero")))
MULTI = Question("multi", K.MULTI_CHOICE, "Pick any",
                 options=(Option("a", "A"), Option("b", "B"), Option(3, "Three")))
ERR = Question("errs", K.ERROR, "Errors",
               categories=(ErrorCategory("fab", "Fabricated"), ErrorCategory("omit", "Omitted")),
               severities=(Option("minor", "Minor"), Option("major", "Major")))
ERR_NO_SEV = Question("errs2", K.ERROR, "Errors", categories=(ErrorCategory("fab", "Fab"),))
NUM = Question("num", K.NUMBER, "Count", minimum=0, maximum=10)
TEXT = Question("text", K.TEXT, "Why", required=True)
PAIR = Question("pair", K.PAIRWISE, "Better")
PAIR_FORCED = Question("pair2", K.PAIRWISE, "Better",
                       options=(Option("A", "Answer A"), Option("B", "Answer B")))

VALID: list[tuple[Question, Any]] = [
    (CRIT, True), (CRIT, False), (SCALE, 1), (SCALE, 3), (SCALE, 2.0),
    (CHOICE, "no"), (CHOICE, 0), (MULTI, []), (MULTI, ["a", 3]), (MULTI, ("b",)),
    (ERR, []), (ERR, [{"category": "fab", "severity": "major"}]),
    (ERR, [{"category": "omit", "severity": "minor",
            "span": {"start": 3, "end": 9, "text": "abcdef"}, "note": "left out the dose"}]),
    (ERR, [Annotation(question_id="errs", category="fab", severity="minor",
                      span=TextSpan(0, 4, "text"))]),
    (ERR_NO_SEV, [{"category": "fab"}]),
    (NUM, 0), (NUM, 10), (NUM, 2.5), (TEXT, ""), (TEXT, "because"),
    (PAIR, "A"), (PAIR, "tie"), (PAIR_FORCED, "B"),
] + [(q, None) for q in (CRIT, SCALE, CHOICE, MULTI, ERR, NUM, TEXT, PAIR)]

INVALID: list[tuple[Question, Any, str]] = [
    (CRIT, 1, "expected true (met) or false"),
    (CRIT, "yes", "expected true"),
    (SCALE, 4, "4 is not one of 1, 2, 3"),
    (SCALE, True, "True is not one of"),  # True == 1 in Python; must not count as point 1
    (SCALE, "1", "'1' is not one of"),
    (CHOICE, "maybe", "'maybe' is not one of 'yes', 'no', 0"),
    (CHOICE, False, "is not one of"),  # False == 0
    (MULTI, "a", "expected a list"),
    (MULTI, ["a", "c"], "'c' is not one of"),
    (MULTI, ["a", "a"], "'a' is chosen twice"),
    (ERR, {"category": "fab"}, "expected a list of errors"),
    (ERR, ["fab"], "error 1 is not a mapping"),
    (ERR, [{"category": "fab", "severity": "minor"}, {"category": "x", "severity": "minor"}],
     "error 2: category 'x' is not one of fab, omit"),
    (ERR, [{"category": "fab"}], "error 1 has no severity"),
    (ERR, [{"category": "fab", "severity": "huge"}], "severity 'huge' is not one of"),
    (ERR, [{"category": "fab", "severity": "minor", "span": {"start": 5, "end": 2}}],
     "span [5, 2) is not a range"),
    (ERR, [{"category": "fab", "severity": "minor", "span": {"start": "0", "end": 2}}],
     "span start and end must be integers"),
    (ERR, [{"category": "fab", "severity": "minor", "colour": "red"}], "unknown field(s) 'colour'"),
    (ERR, [{"category": "fab", "severity": "minor", "note": 3}], "note must be a string"),
    (ERR_NO_SEV, [{"category": "fab", "severity": "minor"}], "this question has no severities"),
    (NUM, -1, "-1 is below the minimum 0"),
    (NUM, 11, "11 is above the maximum 10"),
    (NUM, "3", "expected a number"),
    (NUM, True, "expected a number"),
    (NUM, float("nan"), "expected a number"),
    (TEXT, 3, "expected text"),
    (PAIR, "C", "'C' is not one of 'A', 'B', 'tie'"),
    (PAIR_FORCED, "tie", "'tie' is not one of 'A', 'B'"),
]


@pytest.mark.parametrize(("question", "value"), VALID,
                         ids=[f"{q.id}={v!r}" for q, v in VALID])
def test_valid_answers(question: Question, value: Any) -> None:
    assert check_answer(question, value) is None


@pytest.mark.parametrize(("question", "value", "reason"), INVALID,
                         ids=[f"{q.id}={v!r}" for q, v, _ in INVALID])
def test_invalid_answers_give_the_reason(question: Question, value: Any, reason: str) -> None:
    got = check_answer(question, value)
    assert got is not None and reason in got


FORM = Form("f", 1, "F", FormKind.RUBRIC, (CRIT, SCALE, CHOICE, TEXT), per_case_criteria=True)
CASE = (case_criterion_question("k1", "Refers", 7), case_criterion_question("k2", "Verbose", -3))


def test_missing_required_in_order_with_case_criteria() -> None:
    assert missing_required(FORM, {}) == ["crit", "scale", "text"]
    assert missing_required(FORM, {}, CASE) == ["crit", "scale", "text", "criterion:k1",
                                                "criterion:k2"]
    answers = {"crit": False, "scale": 2, "text": "   ", "criterion:k1": True}
    assert missing_required(FORM, answers, CASE) == ["text", "criterion:k2"]


def test_blank_text_is_not_an_answer_but_false_is() -> None:
    assert not is_answered(TEXT, " \n")
    assert is_answered(CRIT, False)
    assert is_answered(MULTI, [])
    assert not is_answered(SCALE, None)


def test_is_complete() -> None:
    done = {"crit": True, "scale": 3, "text": "ok", "criterion:k1": False, "criterion:k2": True}
    assert is_complete(FORM, done, CASE)
    assert not is_complete(FORM, {**done, "scale": None}, CASE)  # cleared required answer
    assert not is_complete(FORM, {**done, "scale": 7}, CASE)  # invalid answer
    assert not is_complete(FORM, {**done, "choice": "maybe"}, CASE)  # invalid optional answer
    assert not is_complete(FORM, done)  # answers for criteria the caller did not pass


def test_invalid_answers_lists_every_problem() -> None:
    answers = {"crit": 1, "scale": 3, "ghost": 1, "criterion:k1": "yes"}
    assert set(invalid_answers(FORM, answers, CASE)) == {"crit", "ghost", "criterion:k1"}
    assert invalid_answers(FORM, answers, CASE)["ghost"] == "no such question in this form or case"
