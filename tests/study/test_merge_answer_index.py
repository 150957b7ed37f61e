"""merge_checks.check_answers with its per-merge index of questions: the same verdicts as
without it, and one case's criteria never accepted for another case's output."""

from __future__ import annotations

from typing import Any

import pytest

from medreview.domain.rubric import (
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.validation import invalid_answers, invalid_answers_by_id, questions_by_id
from medreview.study.merge_checks import IndexCache, Invalid, check_answers

RUBRIC = Form(key="r", version=1, name="R", kind=FormKind.RUBRIC, per_case_criteria=True,
              questions=(Question(id="overall", kind=QuestionKind.ORDINAL, prompt="How good?",
                                  options=tuple(Option(v, str(v)) for v in (1, 2, 3))),))
CASE_A = (case_criterion_question("a1", "Names the drug", 5.0),)
CASE_B = (case_criterion_question("b1", "Gives the dose", 3.0),)


def _verdict(answers: Any, criteria: tuple[Question, ...], cache: IndexCache | None) -> str:
    try:
        check_answers(answers, RUBRIC, None, criteria, cache)
    except Invalid as exc:
        return str(exc)
    return "ok"


@pytest.mark.parametrize("answers", [
    {"overall": 2, "criterion:a1": True},
    {"overall": 2, "criterion:b1": True},
    {"overall": True},
    {"overall": 4},
    {"criterion:a1": "yes"},
    {"nope": 1},
    {},
])
def test_the_index_gives_the_verdicts_of_a_fresh_check(answers: dict[str, Any]) -> None:
    cache: IndexCache = {}
    for criteria in (CASE_A, CASE_B, CASE_A, CASE_B):  # each case cached, then reused
        assert _verdict(answers, criteria, cache) == _verdict(answers, criteria, None)
    assert invalid_answers_by_id(questions_by_id(RUBRIC, CASE_A), answers) == invalid_answers(
        RUBRIC, answers, CASE_A)


def test_a_criterion_of_another_case_is_refused_after_that_case_was_indexed() -> None:
    cache: IndexCache = {}
    answers = {"overall": 1, "criterion:a1": True}
    assert _verdict(answers, CASE_A, cache) == "ok"
    assert "does not belong to this output's case" in _verdict(answers, CASE_B, cache)
    assert len(cache) == 2
