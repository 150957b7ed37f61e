"""Accuracy on hidden gold: Wilson intervals against statsmodels, the design-effect interval's
coverage on clustered answers, the same-answer rule per kind, and simulated raters of known
accuracy recovered within their intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from medreview.domain.rubric import Question, QuestionKind
from medreview.stats.gold_accuracy import (
    ScoredItem,
    clustered_share,
    item_correct,
    rater_accuracy,
    wilson,
)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (5, 5), (3, 10), (47, 60), (1, 1), (999, 1000)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    got = wilson(k, n)
    assert got is not None
    assert got == pytest.approx((lo, hi), abs=1e-12)
    assert wilson(0, 0) is None


def _simulate(rng: np.random.Generator, items: int, questions: int, logit: float,
              sd: float) -> list[tuple[int, int]]:
    """Right answers per item when an item's difficulty is shared by its questions."""
    p = 1 / (1 + np.exp(-(logit + rng.normal(0, sd, items))))
    return [(int(r), questions) for r in rng.binomial(questions, p)]


def test_the_item_clustered_interval_keeps_its_coverage_where_a_plain_one_does_not() -> None:
    rng = np.random.default_rng(20261206)
    logit, sd = math.log(0.8 / 0.2), 1.5
    z = rng.normal(0, sd, 400_000)
    truth = float(np.mean(1 / (1 + np.exp(-(logit + z)))))  # marginal accuracy
    runs, cover, naive = 600, 0, 0
    for _ in range(runs):
        items = _simulate(rng, 20, 4, logit, sd)
        share = clustered_share(items)
        assert share.ci is not None and share.n_items == 20 and share.n == 80
        cover += share.ci[0] <= truth <= share.ci[1]
        lo, hi = wilson(sum(r for r, _ in items), 80) or (0.0, 0.0)
        naive += lo <= truth <= hi
    assert 0.92 <= cover / runs <= 0.98, cover / runs
    assert naive / runs < 0.9  # treating 80 answers as independent is overconfident here


def test_an_all_right_rater_gets_an_interval_as_wide_as_their_items() -> None:
    share = clustered_share([(3, 3)] * 5)
    assert share.value == 1.0 and share.ci == pytest.approx(wilson(5, 5))
    assert clustered_share([]).ci is None and math.isnan(clustered_share([]).value)


QUESTIONS = {
    "safe": Question("safe", QuestionKind.SINGLE_CHOICE, "Safe?"),
    "tags": Question("tags", QuestionKind.MULTI_CHOICE, "Tags"),
    "overall": Question("overall", QuestionKind.ORDINAL, "Overall"),
    "errors": Question("errors", QuestionKind.ERROR, "Errors"),
    "why": Question("why", QuestionKind.TEXT, "Why"),
}


def test_same_answer_rule_per_kind() -> None:
    gold = {"safe": "no", "tags": ["b", "a"], "overall": 3, "why": "x", "unknown": 1,
            "errors": [{"category": "factual", "severity": 2}]}
    answers = {"safe": "no", "tags": ["a", "b", "a"], "overall": 3.0, "why": "y"}
    annotations = [{"question_id": "errors", "category": "factual", "severity": 2,
                    "span": {"start": 0, "end": 3, "text": "abc"}}]
    assert item_correct(answers, annotations, gold, QUESTIONS) == {
        "safe": True, "tags": True, "overall": True, "errors": True}  # text and unknown: out
    wrong = item_correct({"safe": "yes", "tags": ["a"]}, [], gold, QUESTIONS)
    assert wrong == {"safe": False, "tags": False, "errors": False}  # overall not answered


def test_simulated_raters_of_known_accuracy_are_recovered_within_their_intervals() -> None:
    rng = np.random.default_rng(7)
    truth = {"Dr Good": 0.95, "Dr Fair": 0.8, "Dr Poor": 0.55}
    items: list[ScoredItem] = []
    for name, acc in truth.items():
        for i in range(80):
            ok = rng.random(3) < acc
            items.append(ScoredItem(name, "check", i, f"case-{i}",
                                    {q: bool(v) for q, v in zip(("a", "b", "c"), ok,
                                                                strict=True)}))
        for i in range(30):  # attention items: passed with the same chance per question
            ok = bool(rng.random() < acc)
            items.append(ScoredItem(name, "attention", 1000 + i, f"att-{i}", {"a": ok}))
    found = {}
    for name, acc in truth.items():
        r = rater_accuracy(name, items, check_assigned=80, attention_assigned=30)
        assert r.overall.n == 240 and r.overall.n_items == 80
        assert r.overall.ci is not None and r.overall.ci[0] <= acc <= r.overall.ci[1], name
        for q, share in r.per_question.items():
            assert share.n == 80 and share.ci is not None
            assert share.ci[0] <= acc <= share.ci[1], (name, q)
        assert r.attention.n == 30 and r.attention.ci is not None
        assert r.attention.ci[0] <= acc <= r.attention.ci[1], name
        assert len(r.failed_attention) == 30 - r.attention.k
        assert all(m == ("a",) for _o, c, m in r.failed_attention if c.startswith("att-"))
        found[name] = r.overall.value
        assert r.to_dict()["accuracy"]["n"] == 240
    # Told apart: the good rater's interval is above the poor one's.
    good = rater_accuracy("Dr Good", items).overall.ci
    poor = rater_accuracy("Dr Poor", items).overall.ci
    assert good is not None and poor is not None and poor[1] < good[0]
    assert found["Dr Good"] > found["Dr Fair"] > found["Dr Poor"]
