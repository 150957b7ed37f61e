"""Rater quality on simulated raters whose accuracy, drift, test-retest reliability and speed
are known: the statistics recover them within their CIs and flag the right windows."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from medreview.errors import StatsError
from medreview.stats.alpha import krippendorff_alpha
from medreview.stats.rater_quality import (
    Answer,
    Coefficient,
    done_per_day,
    drift,
    interval_alpha_two,
    retest,
    time_summary,
)

CATS = (0, 1, 2)
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # ISO week 2026-W10


def _by_name(coeffs: list[Coefficient]) -> dict[str, Coefficient]:
    return {c.name: c for c in coeffs}


def _covers(c: Coefficient, truth: float) -> bool:
    assert c.ci is not None, c
    return c.ci[0] <= truth <= c.ci[1]


def _copier(truth: np.ndarray, p: float, q: int, rng: np.random.Generator) -> list[int]:
    """Copies the true category with probability p, else answers uniformly at random: against
    uniform truth its kappa is exactly p."""
    keep = rng.random(truth.size) < p
    return [int(v) for v in np.where(keep, truth, rng.integers(0, q, truth.size))]


def test_retest_kappa_and_alpha_recover_known_reliability() -> None:
    rng = np.random.default_rng(7)
    first = rng.integers(0, 3, 800)
    second = _copier(first, 0.7, 3, rng)
    res = _by_name(retest(list(zip(first.tolist(), second, strict=True)), "nominal", CATS))
    assert set(res) == {"kappa", "alpha"}
    assert _covers(res["kappa"], 0.7) and _covers(res["alpha"], 0.7)
    assert res["kappa"].n == 800
    # A rater who answers at random the second time has no test-retest reliability.
    noise = rng.integers(0, 3, 800).tolist()
    res0 = _by_name(retest(list(zip(first.tolist(), noise, strict=True)), "nominal", CATS))
    assert _covers(res0["kappa"], 0.0)
    assert res0["kappa"].ci is not None and res0["kappa"].ci[1] < 0.3


def test_retest_icc_recovers_known_reliability_and_sees_a_shift() -> None:
    # True value variance 4, session noise variance 1: ICC = 4 / 5 = 0.8 (each drawn sample
    # scaled to exactly those variances, so the truth is that of this sample).
    rng = np.random.default_rng(11)

    def exact(sd: float) -> np.ndarray:
        z = rng.normal(0, 1, 600)
        out: np.ndarray = (z - z.mean()) / z.std() * sd
        return out

    t = 10.0 + exact(2.0)
    a, b = t + exact(1.0), t + exact(1.0)
    res = _by_name(retest(list(zip(a.tolist(), b.tolist(), strict=True)), "numeric"))
    assert {"alpha", "ICC(3,1)", "ICC(A,1)"} == set(res)
    for name in ("alpha", "ICC(3,1)", "ICC(A,1)"):
        assert _covers(res[name], 0.8), res[name]
    # The second session reads 1.5 higher: consistency is unchanged, absolute agreement drops
    # to 4 / (4 + 1.5**2 / 2 + 1) = 0.64.
    shifted = _by_name(retest(list(zip(a.tolist(), (b + 1.5).tolist(), strict=True)),
                              "numeric"))
    assert _covers(shifted["ICC(3,1)"], 0.8)
    assert _covers(shifted["ICC(A,1)"], 4 / (4 + 1.125 + 1))
    assert shifted["ICC(A,1)"].value < shifted["ICC(3,1)"].value - 0.1


def test_closed_form_interval_alpha_matches_the_general_one() -> None:
    rng = np.random.default_rng(4)
    rows = [(int(x), int(y)) for x, y in rng.integers(0, 7, (80, 2))]
    general = krippendorff_alpha(rows, "interval", ci=False)
    assert interval_alpha_two(rows, ci=False).value == pytest.approx(general.value, abs=1e-12)
    assert math.isnan(interval_alpha_two([(1.0, 1.0)] * 5).value)
    assert interval_alpha_two([("a", 1)] * 5).note.startswith("undefined")


def test_retest_ordinal_is_weighted_and_skips_missing() -> None:
    pairs = [(1, 1), (2, 2), (3, 2), (1, None), (None, 3), (2, 3), (3, 3), (1, 2)] * 10
    res = _by_name(retest(pairs, "ordinal", (1, 2, 3)))
    assert {"kappa (linear)", "alpha", "ICC(3,1)", "ICC(A,1)"} == set(res)
    assert res["kappa (linear)"].n == 60  # the 20 pairs with a missing side are left out


def test_retest_of_undefined_data_says_why() -> None:
    res = _by_name(retest([(1, 1)] * 5, "nominal", CATS))
    assert math.isnan(res["kappa"].value) and res["kappa"].note
    hostile = _by_name(retest([("x", 1), (1, 1)], "nominal", CATS))  # "x" is no category
    assert math.isnan(hostile["kappa"].value) and hostile["kappa"].note.startswith("undefined")


def test_hostile_answers_are_left_out_or_explained() -> None:
    # Lists and dicts are no answers (and would not even hash); free text beyond 100 distinct
    # undeclared values is not a scale: one note instead of a 10^4 x 10^4 table.
    at = MONDAY
    weird = [Answer("a", i, [1, 2] if i % 2 else {"x": 1}, at) for i in range(20)] + [
        Answer("b", i, 1, at) for i in range(20)]
    assert drift(weird, "a", "nominal", (0, 1)) == []  # nothing usable from "a"
    assert drift(weird, "b", "nominal", (0, 1))[0].n_compared == 0  # nor as a reference
    free = [(f"text {i}", f"other {i}") for i in range(5000)]
    res = retest(free, "nominal")
    assert len(res) == 1 and math.isnan(res[0].value) and "distinct answers" in res[0].note
    texts = [Answer("a", i, f"t{i}", at) for i in range(300)] + [
        Answer("b", i, f"t{i}", at) for i in range(300)]
    win = drift(texts, "a", "nominal", window="items", size=300)[0]
    assert math.isnan(win.kappa.value) and "distinct answers" in win.kappa.note


def _panel(n: int, drop_at: int, rng: np.random.Generator, *, others: int = 4,
           per_week: int | None = None) -> list[Answer]:
    """``others`` raters with kappa 0.9 against truth, and "drifter" whose kappa falls from 0.9
    to 0.2 after item ``drop_at``; a steady rater "steady" at 0.9 throughout."""
    truth = rng.integers(0, 2, n)
    out: list[Answer] = []
    for i in range(n):
        at = MONDAY + (dt.timedelta(days=7 * (i // per_week)) if per_week else
                       dt.timedelta(minutes=i))
        for r in range(others):
            out.append(Answer(f"other{r}", i, _copier(truth[i:i + 1], 0.9, 2, rng)[0], at))
        p = 0.9 if i < drop_at else 0.2
        out.append(Answer("drifter", i, _copier(truth[i:i + 1], p, 2, rng)[0], at))
        out.append(Answer("steady", i, _copier(truth[i:i + 1], 0.9, 2, rng)[0], at))
    return out


def test_drift_flags_the_windows_after_the_drop_and_recovers_kappa() -> None:
    rng = np.random.default_rng(3)
    answers = _panel(300, 150, rng)
    wins = drift(answers, "drifter", "nominal", (0, 1), window="items", size=50, threshold=0.6)
    assert [w.label for w in wins] == [f"items {lo + 1}-{lo + 50}" for lo in range(0, 300, 50)]
    assert [w.flagged for w in wins] == [False, False, False, True, True, True]
    assert all(w.n_items == 50 for w in wins)
    # Leave-one-out majority of four kappa-0.9 raters is nearly the truth, so kappa ~ p.
    halves = drift(answers, "drifter", "nominal", (0, 1), window="items", size=150)
    assert _covers(halves[0].kappa, 0.9) and _covers(halves[1].kappa, 0.2)
    steady = drift(answers, "steady", "nominal", (0, 1), window="items", size=50)
    assert not any(w.flagged for w in steady)
    assert _covers(drift(answers, "steady", "nominal", (0, 1), window="items",
                         size=300)[0].kappa, 0.9)


def test_drift_by_calendar_week() -> None:
    rng = np.random.default_rng(5)
    answers = _panel(200, 100, rng, per_week=50)
    wins = drift(answers, "drifter", "nominal", (0, 1), window="week", threshold=0.6)
    assert [w.label for w in wins] == ["2026-W10", "2026-W11", "2026-W12", "2026-W13"]
    assert [w.flagged for w in wins] == [False, False, True, True]


def test_drift_ignores_its_own_answer_and_small_windows() -> None:
    # Alone, the rater has no reference; with one other rater that always disagrees, kappa < 0
    # but a window of 3 units is never flagged.
    at = MONDAY
    alone = drift([Answer("a", i, i % 2, at) for i in range(20)], "a", "nominal", (0, 1))
    assert alone[0].n_compared == 0 and math.isnan(alone[0].kappa.value)
    few = [Answer("a", i, i % 2, at) for i in range(3)] + [
        Answer("b", i, 1 - i % 2, at) for i in range(3)]
    w = drift(few, "a", "nominal", (0, 1))[0]
    assert w.kappa.value < 0 and not w.flagged
    with pytest.raises(StatsError):
        drift(few, "a", "numeric")
    with pytest.raises(StatsError):
        drift(few, "a", "nominal", window="items", size=0)


def test_time_median_recovered_and_bad_times_left_out() -> None:
    rng = np.random.default_rng(2)
    times = np.exp(rng.normal(math.log(90.0), 0.5, 500)).tolist()  # lognormal, median 90 s
    hostile = [0.0, -5.0, math.nan, math.inf, 1e12, "x", None, True]
    s = time_summary(times + hostile)
    assert s.n == 500 and s.n_unrecorded == len(hostile)
    assert s.median_ci is not None and s.median_ci[0] <= 90.0 <= s.median_ci[1]
    # Quartiles of a lognormal: median * exp(-+0.674 sigma).
    assert s.q1 == pytest.approx(90 * math.exp(-0.674 * 0.5), rel=0.1)
    assert s.q3 == pytest.approx(90 * math.exp(0.674 * 0.5), rel=0.1)
    assert sum(c for _, _, c in s.histogram) == 500
    empty = time_summary([0.0, 0.0])
    assert empty.n == 0 and math.isnan(empty.median) and empty.median_ci is None


def test_done_per_day_is_cumulative() -> None:
    days = [MONDAY, MONDAY + dt.timedelta(hours=1), MONDAY + dt.timedelta(days=2)]
    assert done_per_day(reversed(days)) == [
        (MONDAY.date(), 2, 2), ((MONDAY + dt.timedelta(days=2)).date(), 1, 3)]
