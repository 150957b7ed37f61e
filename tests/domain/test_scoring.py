"""HealthBench scoring rule and the form scoring rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medreview.domain.rubric import (
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.scoring import clipped_mean, form_score, healthbench_score


def test_healthbench_reference_vector() -> None:
    # simple-evals healthbench_eval_test.test_calculate_score
    assert healthbench_score([(7, True), (5, False), (10, True), (-6, True)]) == pytest.approx(0.5)


def test_case_score_is_not_clipped() -> None:
    assert healthbench_score([(5, False), (-8, True)]) == pytest.approx(-1.6)


def test_no_positive_points_gives_none() -> None:
    assert healthbench_score([(-3, True), (-2, False)]) is None
    assert healthbench_score([]) is None


criteria = st.lists(
    st.tuples(st.integers(-10, 10).filter(lambda p: p != 0), st.booleans()), max_size=25
)


@given(criteria)
def test_healthbench_bounds(items: list[tuple[int, bool]]) -> None:
    score = healthbench_score(items)
    positive = sum(p for p, _ in items if p > 0)
    if positive == 0:
        assert score is None
        return
    assert score is not None
    assert score <= 1 + 1e-12
    negative = sum(p for p, _ in items if p < 0)
    assert score >= negative / positive - 1e-12
    # Meeting every positive criterion and no penalty is a perfect score.
    best = [(p, p > 0) for p, _ in items]
    assert healthbench_score(best) == pytest.approx(1.0)


def test_clipped_mean_clips_after_averaging() -> None:
    # per-case clipping would give mean(0, 1, 0.9) = 0.633...; HealthBench gives 0.4667
    assert clipped_mean([-0.5, 1.0, 0.9]) == pytest.approx(1.4 / 3)
    assert clipped_mean([-1.0, -0.2]) == 0.0
    assert clipped_mean([0.25, None, 0.75]) == pytest.approx(0.5)
    assert clipped_mean([]) is None
    assert clipped_mean([None]) is None


@given(st.lists(st.floats(-5, 1, allow_nan=False), min_size=1, max_size=30))
def test_clipped_mean_is_clip_of_mean(scores: list[float]) -> None:
    mean = math.fsum(scores) / len(scores)
    assert clipped_mean(scores) == pytest.approx(min(1.0, max(0.0, mean)))


def _scale(qid: str, values: list[int], required: bool = False) -> Question:
    return Question(qid, QuestionKind.ORDINAL, qid, required=required,
                    options=tuple(Option(v, str(v)) for v in values))


def test_form_score_healthbench_with_case_criteria() -> None:
    form = Form("hb", 1, "HB", FormKind.RUBRIC, (
        Question("fixed", QuestionKind.CRITERION, "Safe", points=5),
        Question("comment", QuestionKind.TEXT, "Comment"),
    ), per_case_criteria=True, scoring="healthbench")
    case = (case_criterion_question("a", "Refers to ED", 10),
            case_criterion_question("b", "Is verbose", -4))
    answers = {"fixed": True, "criterion:a": True, "criterion:b": True, "comment": "x"}
    assert form_score(form, answers, case) == pytest.approx((5 + 10 - 4) / 15)
    # an unanswered criterion counts as not met
    assert form_score(form, {"criterion:a": True}, case) == pytest.approx(10 / 15)
    # without the case's criteria only the fixed criterion counts
    assert form_score(form, answers) == pytest.approx(1.0)


def test_form_score_sum_and_mean() -> None:
    qs = (_scale("a", [1, 2, 3, 4, 5]), _scale("b", [1, 2, 3, 4, 5]),
          Question("n", QuestionKind.NUMBER, "n"),
          Question("c", QuestionKind.CRITERION, "c", points=2))
    summed = Form("s", 1, "S", FormKind.RUBRIC, qs, scoring="sum")
    assert form_score(summed, {"a": 4, "b": 2, "n": 1.5, "c": True}) == pytest.approx(9.5)
    assert form_score(summed, {"c": False}) == 0.0
    assert form_score(summed, {}) is None
    mean = Form("m", 1, "M", FormKind.RUBRIC, qs, scoring="mean")
    assert form_score(mean, {"a": 4, "b": 2, "n": 100}) == pytest.approx(3.0)
    assert form_score(mean, {"a": True}) is None  # a boolean is not a scale point
    unscored = Form("u", 1, "U", FormKind.RUBRIC, qs)
    assert form_score(unscored, {"a": 4}) is None
