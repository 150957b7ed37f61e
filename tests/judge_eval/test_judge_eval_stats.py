"""Simulated judges with known accuracy: the evaluation recovers it within its CIs; the
calibration map is fitted on training cases only; self-preference and abstention are seen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import medreview.stats.judge_eval as je
from medreview.domain.split import SplitSpec, assign_split
from medreview.errors import StatsError
from medreview.stats.judge_eval import Version, evaluate
from tests.judge_eval.simulate import QUESTIONS, simulate

A, B = Version("A", "judge: A", "gpt-judge"), Version("B", "judge: B", "gpt-judge")


def _split(ratings: Any, seed: int = 3) -> dict[str, str]:
    return dict(assign_split(ratings["case_external_id"].unique(), SplitSpec(seed=seed)))


def _row(ev: Any, qid: str, metric: str) -> Any:
    return next(m for m in ev.metrics if m.question_id == qid and m.metric == metric)


def _inside(e: Any, truth: float) -> bool:
    return bool(e.low <= truth <= e.high)


@pytest.fixture(scope="module")
def two_judges() -> Any:
    ratings, gold = simulate(500, judge_accuracy={"judge: A": 0.75, "judge: B": 0.9})
    split = _split(ratings)
    return ratings, gold, split, evaluate(ratings, gold, QUESTIONS, [A, B], split,
                                          n_resamples=600)


def test_known_accuracies_and_kappas_fall_in_their_cis(two_judges: Any) -> None:
    _r, _g, _s, ev = two_judges
    for k, acc in enumerate((0.75, 0.9)):
        crit_acc = _row(ev, "safe", "accuracy").versions[k]
        assert _inside(crit_acc, acc), crit_acc
        # Balanced binary truth: kappa = 2 acc - 1.
        assert _inside(_row(ev, "safe", "kappa").versions[k], 2 * acc - 1)
        # Three equally likely levels, errors spread evenly: kappa = (acc - 1/3) / (2/3).
        assert _inside(_row(ev, "quality", "accuracy").versions[k], acc)
        assert _inside(_row(ev, "quality", "kappa").versions[k], (acc - 1 / 3) / (2 / 3))
    # Paired difference B - A.
    diff = _row(ev, "safe", "accuracy").differences[0]
    assert _inside(diff, 0.15) and diff.low > 0
    # Physicians right 90 % of the time, independently: two agree 0.9² + 0.1² = 0.82.
    ceiling = _row(ev, "safe", "accuracy").ceiling
    assert _inside(ceiling, 0.82)
    assert _inside(_row(ev, "safe", "kappa").ceiling, 2 * 0.82 - 1)
    # Against a single physician, a 75 % judge agrees 0.75 * 0.9 + 0.25 * 0.1 = 0.70.
    vs = _row(ev, "safe", "kappa_vs_physicians").versions[0]
    assert _inside(vs, 2 * 0.70 - 1)
    f1 = _row(ev, "safe", "f1").versions[1]
    assert 0.85 < f1.value < 0.95 and f1.low < f1.value < f1.high


def test_only_the_requested_part_is_evaluated(two_judges: Any) -> None:
    ratings, _g, split, ev = two_judges
    n_test_outputs = ratings.loc[ratings["case_external_id"].map(split) == "test",
                                 "output_id"].nunique()
    assert _row(ev, "safe", "accuracy").n_items == n_test_outputs
    assert ev.n_cases == sum(1 for p in split.values() if p == "test")


def test_equal_judges_differ_by_nothing_within_the_ci() -> None:
    ratings, gold = simulate(300, seed=1, judge_accuracy={"judge: A": 0.8, "judge: B": 0.8})
    ev = evaluate(ratings, gold, QUESTIONS, [A, B], _split(ratings), n_resamples=400)
    for metric in ("accuracy", "kappa", "f1"):
        assert _inside(_row(ev, "safe", metric).differences[0], 0.0)


def test_calibration_is_fitted_on_training_cases_only(monkeypatch: pytest.MonkeyPatch) -> None:
    ratings, gold = simulate(300, seed=4, judge_accuracy={"judge: A": 0.7})
    split = _split(ratings)
    seen: list[tuple[list[float], list[float]]] = []
    real_fit = je.fit

    def spy(method: Any, x: Any, y: Any) -> Any:
        seen.append((list(x), list(y)))
        return real_fit(method, x, y)

    monkeypatch.setattr(je, "fit", spy)
    ev = evaluate(ratings, gold, QUESTIONS, [A], split, ci=False)
    row = ev.calibration[0]
    # What went into the fit is exactly the training cases' items, nothing else.
    judge = ratings[ratings["rater"] == "judge: A"]
    train = judge[judge["case_external_id"].map(split) == "train"]
    assert len(seen) == 1 and len(seen[0][0]) == len(train) == row.n_train
    assert all(split[c] == "train" for c in row.train_cases)
    assert not row.train_cases & {c for c, p in split.items() if p == "test"}
    # The judge says 0.95 and is right 70 % of the time: recalibrating helps on test.
    assert row.ece_before == pytest.approx(0.25, abs=0.05)
    assert row.ece_after < 0.08 and row.brier_after < row.brier_before


def test_test_items_cannot_move_the_calibration_fit() -> None:
    ratings, gold = simulate(200, seed=5, judge_accuracy={"judge: A": 0.7})
    split = _split(ratings)
    base = evaluate(ratings, gold, QUESTIONS, [A], split, ci=False).calibration[0]
    # Rewrite every test-case judge confidence: the map (hence ECE after, on the same test
    # outcomes with the same ranks) must not change; ECE before does.
    spoiled = ratings.copy()
    test_rows = (spoiled["rater"] == "judge: A") & (spoiled["case_external_id"].map(split)
                                                     == "test")
    spoiled.loc[test_rows, "confidence"] = 0.5
    again = evaluate(spoiled, gold, QUESTIONS, [A], split, ci=False).calibration[0]
    assert again.n_train == base.n_train and again.train_cases == base.train_cases
    assert again.ece_before != base.ece_before
    # Now change train confidences: the fitted map changes.
    train_rows = (spoiled["rater"] == "judge: A") & (spoiled["case_external_id"].map(split)
                                                      == "train")
    spoiled.loc[train_rows, "confidence"] = np.linspace(0.01, 0.99, int(train_rows.sum()))
    moved = evaluate(spoiled, gold, QUESTIONS, [A], split, ci=False).calibration[0]
    assert moved.ece_after != again.ece_after


def test_self_preference_is_found_for_the_judges_own_family() -> None:
    ratings, gold = simulate(400, seed=6, judge_accuracy={"judge: A": 0.85, "judge: B": 0.85},
                             lenient_to={"judge: A": "gpt-x"})
    ev = evaluate(ratings, gold, QUESTIONS, [A, Version("B", "judge: B", "llama-judge")],
                  _split(ratings), n_resamples=400)
    biased, fair = ev.self_preference
    # On its own family's answers every "not safe" (half of them) becomes "safe": +0.5 on the
    # criterion, 0 on the quality scale, so +0.25 over both questions' items.
    assert biased.family == "gpt" and biased.difference.low > 0
    assert _inside(biased.difference, 0.25)
    assert fair.family == "llama" and _inside(fair.difference, 0.0)
    assert biased.n_same > 0 and biased.n_other > 0


def test_abstention_where_physicians_could_not_assess() -> None:
    ratings, gold = simulate(300, seed=8, judge_accuracy={"judge: A": 0.9})
    rng = np.random.default_rng(1)
    ratings = ratings.copy()
    outputs = ratings["output_id"].unique()
    cannot = set(rng.choice(outputs, size=len(outputs) // 5, replace=False).tolist())
    crit = ratings["question_id"] == "safe"
    phys = ratings["rater_kind"] == "physician"
    hit = crit & phys & ratings["output_id"].isin(cannot) & (ratings["rater"] == "dr-a")
    ratings.loc[hit, "value"] = "cannot assess"
    judge_hit = crit & ~phys & ratings["output_id"].isin(cannot)
    idx = ratings.index[judge_hit]
    ratings.loc[idx[: len(idx) // 2], "value"] = None  # the judge abstains on half of them
    ev = evaluate(ratings, gold, QUESTIONS, [A], _split(ratings), n_resamples=300)
    row = ev.abstention[0]
    assert row.n_cannot_assess > 0 and row.judge_abstained > 0
    assert _inside(row.rate_cannot_assess, 0.5)
    assert row.rate_assessed.value == 0.0


def test_one_line_errors() -> None:
    ratings, gold = simulate(20, judge_accuracy={"judge: A": 0.9})
    split = _split(ratings)
    with pytest.raises(StatsError, match="no judge version"):
        evaluate(ratings, gold, QUESTIONS, [], split)
    with pytest.raises(StatsError, match="no rated item"):
        evaluate(ratings, gold, QUESTIONS, [A], dict.fromkeys(split, "train"))
    no_phys = ratings[ratings["rater_kind"] != "physician"]
    with pytest.raises(StatsError, match="gold label"):
        evaluate(no_phys, None, QUESTIONS, [A], split)


def test_gold_is_derived_from_the_physicians_when_none_is_stored() -> None:
    ratings, gold = simulate(300, seed=10, judge_accuracy={"judge: A": 0.8},
                             physician_accuracy=1.0)
    stored = evaluate(ratings, gold, QUESTIONS, [A], _split(ratings), ci=False)
    derived = evaluate(ratings, None, QUESTIONS, [A], _split(ratings), ci=False)
    assert _row(derived, "safe", "accuracy").versions[0].value == pytest.approx(
        _row(stored, "safe", "accuracy").versions[0].value)


def test_a_huge_table_gives_point_estimates_in_bounded_memory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ratings, gold = simulate(60, seed=2, judge_accuracy={"judge: A": 0.8, "judge: B": 0.7})
    split = _split(ratings)
    full = evaluate(ratings, gold, QUESTIONS, [A, B], split, n_resamples=100)
    monkeypatch.setattr(je, "MAX_FEATURE_ELEMENTS", 1)
    small = evaluate(ratings, gold, QUESTIONS, [A, B], split, n_resamples=100)
    for a, b in zip(full.metrics, small.metrics, strict=True):
        assert [e.value for e in a.versions] == pytest.approx([e.value for e in b.versions])
        assert a.ceiling.value == pytest.approx(b.ceiling.value)
        assert all(np.isnan(e.low) for e in b.versions)
