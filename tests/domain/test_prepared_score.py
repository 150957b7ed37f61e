"""``prepared_score`` gives ``judgment_score``'s value to the last bit, on varied answers.

Every rule (healthbench, sum, mean, none), form and case criteria together, positive,
negative, zero and fractional points, "not applicable" marks, cannot-assess items, skipped
judgments, Likert and numeric answers, and hostile values (bools for numbers, NaN, infinity,
huge numbers, strings, lists, answers that are not a mapping at all).
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE
from medreview.domain.rubric import (
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)
from medreview.domain.scoring import judgment_score, prepared_score, score_preparer

_LIKERT = tuple(Option(v, str(v)) for v in range(1, 6))


def _form(rule: str | None, points: list[float]) -> Form:
    questions = [Question(f"c{i}", QuestionKind.CRITERION, f"criterion {i}", points=p)
                 for i, p in enumerate(points)]
    questions += [
        Question("likert", QuestionKind.ORDINAL, "overall", options=_LIKERT),
        Question("likert2", QuestionKind.ORDINAL, "second", options=_LIKERT),
        Question("minutes", QuestionKind.NUMBER, "minutes", minimum=0, maximum=600),
        Question("safe", QuestionKind.SINGLE_CHOICE, "safe",
                 options=(Option("yes", "yes"), Option("no", "no"))),
        Question("nopoints", QuestionKind.CRITERION, "criterion without points"),
        Question("note", QuestionKind.TEXT, "note"),
    ]
    return Form("f", 1, "form", FormKind.RUBRIC, tuple(questions), per_case_criteria=True,
                scoring=rule)


_IDS = ["c0", "c1", "c2", "c3", "c4", "likert", "likert2", "minutes", "safe", "nopoints",
        "note", "criterion:k0", "criterion:k1", "criterion:k2", "unknown"]
_VALUES: list[Any] = [
    True, False, NOT_APPLICABLE, "_N/A", None, 0, 1, 3, 5, -2, 2.5, 1e308, -1e308,
    float("nan"), float("inf"), -float("inf"), 10**400, "3", "yes", [], {}, [True],
    0.1, 0.2, 0.30000000000000004, 7.0, -0.0,
]
_POINTS = st.one_of(st.integers(-10, 10), st.floats(-20, 20, allow_nan=False),
                    st.sampled_from([0.1, 0.2, 0.7, 1e-300, 1e300, 1.7e308, -1.7e308]))


def _same(a: float | None, b: float | None) -> bool:
    """Equal to the last bit (and ``None`` where ``None``)."""
    if a is None or b is None:
        return a is b
    return struct.pack("<d", a) == struct.pack("<d", b)


@settings(max_examples=300, deadline=None)
@given(rule=st.sampled_from(["healthbench", "sum", "mean", None, "unknown-rule"]),
       form_points=st.lists(_POINTS, max_size=5),
       case_points=st.lists(_POINTS, max_size=3),
       answers=st.dictionaries(st.sampled_from(_IDS), st.sampled_from(_VALUES), max_size=12),
       status=st.sampled_from(["done", "draft", "skipped"]),
       cannot=st.sampled_from([None, {"reason": "other", "note": "x"}, "junk"]))
def test_prepared_score_is_judgment_score_to_the_last_bit(
        rule: str | None, form_points: list[float], case_points: list[float],
        answers: dict[str, Any], status: str, cannot: Any) -> None:
    form = _form(rule, form_points)
    cases = tuple(case_criterion_question(f"k{i}", f"case {i}", p)
                  for i, p in enumerate(case_points))
    if cannot is not None:
        answers = {**answers, CANNOT_ASSESS_KEY: cannot}
    score = prepared_score(form, cases)
    assert _same(score(answers, status), judgment_score(form, answers, cases, status=status))


def test_many_random_judgments_under_one_prepared_form() -> None:
    """The prepared function is reused, as the merge reuses it: no state leaks between calls."""
    rng = random.Random(17)
    seen = set()
    for rule in ("healthbench", "sum", "mean"):
        form = _form(rule, [7, 5, -6, 0.1, 10])
        cases = (case_criterion_question("k0", "a", 3.3), case_criterion_question("k1", "b", -2))
        score = prepared_score(form, cases)
        for _ in range(2000):
            answers = {k: rng.choice(_VALUES) for k in rng.sample(_IDS, rng.randint(0, 12))}
            if rng.random() < 0.05:
                answers[CANNOT_ASSESS_KEY] = {"reason": "missing_context", "note": ""}
            status = rng.choice(["done", "done", "draft", "skipped"])
            got = score(answers, status)
            want = judgment_score(form, answers, cases, status=status)
            assert _same(got, want), (rule, answers, got, want)
            seen.add(want is None)
    assert seen == {True, False}  # both scored and unscored judgments were met


@pytest.mark.parametrize("answers", [None, [], "text", 3, ("c0", True)])
def test_answers_that_are_not_a_mapping_have_no_score(answers: Any) -> None:
    form = _form("healthbench", [1, 2])
    assert prepared_score(form)(answers, "done") is None
    assert judgment_score(form, answers) is None


def test_no_form_and_points_past_the_float_range() -> None:
    assert prepared_score(None)({"c0": True}, "done") is None
    huge = _form("healthbench", [10**400, 1])  # float(points) overflows: judgment_score decides
    for answers in ({"c0": True, "c1": True}, {"c0": NOT_APPLICABLE, "c1": True}):
        assert _same(prepared_score(huge)(answers, "done"), judgment_score(huge, answers))
    assert judgment_score(huge, {"c0": NOT_APPLICABLE, "c1": True}) == 1.0
    form = _form("healthbench", [1, 2])
    cases = (case_criterion_question("k0", "huge", 10**400),
             case_criterion_question("k1", "fine", 3))
    preparer = score_preparer(form)  # the form's own terms prepared, then each case's
    for answers in ({"c0": True, "criterion:k0": True}, {"criterion:k0": NOT_APPLICABLE,
                                                           "criterion:k1": True}):
        for qs in (cases, cases[1:], ()):
            assert _same(preparer(qs)(answers, "done"), judgment_score(form, answers, qs))
