"""Invariances, identities (notes §5), degenerate inputs, CI plumbing, calibration bins."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medreview.errors import StatsError
from medreview.stats.agreement import (
    brennan_prediger,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    pabak,
    percent_agreement,
)
from medreview.stats.calibration import calibration
from medreview.stats.judge import judge_agreement, judge_vs_ceiling
from medreview.stats.results import AgreementResult

CATS = [1, 2, 3, 4, 5]


def table(seed: int, n: int = 30, r: int = 4, missing: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lat = rng.integers(1, 6, n)
    x = np.clip(lat[:, None] + rng.integers(-1, 2, (n, r)), 1, 5).astype(float)
    x[rng.random((n, r)) < missing] = np.nan
    out: np.ndarray = x
    return out


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_order_invariance_and_dummy_rows(seed: int) -> None:
    x = table(seed)
    rng = np.random.default_rng(seed)
    shuffled = x[rng.permutation(x.shape[0])][:, rng.permutation(x.shape[1])]
    padded = np.column_stack([np.vstack([x, np.full((1, x.shape[1]), np.nan)]),
                              np.full(x.shape[0] + 1, np.nan)])
    fns: list[Callable[[np.ndarray], AgreementResult]] = [
              lambda t: krippendorff_alpha(t, "ordinal", categories=CATS, ci=False),
              lambda t: gwet_ac(t, categories=CATS, ci=False),
              lambda t: fleiss_kappa(t, categories=CATS, allow_unequal=True, ci=False),
              lambda t: percent_agreement(t, categories=CATS, ci=False)]
    for f in fns:
        base = f(x).value
        assert f(shuffled).value == pytest.approx(base, abs=1e-12)
        assert f(padded).value == pytest.approx(base, abs=1e-12)


def test_relabelling_nominal_statistics() -> None:
    x = table(3)
    mapping = {1: "e", 2: "a", 3: "d", 4: "b", 5: "c"}
    lab = pd.DataFrame(x).map(lambda v: None if np.isnan(v) else mapping[int(v)])
    cats = [mapping[c] for c in CATS]
    assert krippendorff_alpha(lab, categories=cats, ci=False).value == pytest.approx(
        krippendorff_alpha(x, categories=CATS, ci=False).value, abs=1e-12)
    assert gwet_ac(lab, categories=cats, ci=False).value == pytest.approx(
        gwet_ac(x, categories=CATS, ci=False).value, abs=1e-12)


def test_unused_declared_categories_change_only_q_dependent_statistics() -> None:
    x = table(5)
    wide = [*CATS, 6, 7]
    assert krippendorff_alpha(x, categories=wide, ci=False).value == pytest.approx(
        krippendorff_alpha(x, categories=CATS, ci=False).value, abs=1e-12)
    assert fleiss_kappa(x, categories=wide, allow_unequal=True, ci=False).value == \
        pytest.approx(fleiss_kappa(x, categories=CATS, allow_unequal=True, ci=False).value)
    assert gwet_ac(x, categories=wide, ci=False).value != pytest.approx(
        gwet_ac(x, categories=CATS, ci=False).value, abs=1e-6)
    assert brennan_prediger(x, categories=wide, ci=False).value != pytest.approx(
        brennan_prediger(x, categories=CATS, ci=False).value, abs=1e-6)


def test_identities() -> None:
    x = table(11, missing=0.0)
    n, m = x.shape
    k = fleiss_kappa(x, categories=CATS, ci=False).value
    a = krippendorff_alpha(x, categories=CATS, ci=False).value
    assert a == pytest.approx(1 - (n * m - 1) / (n * m) * (1 - k), abs=1e-12)
    assert gwet_ac(x, categories=CATS, weights=np.eye(5), ci=False).value == pytest.approx(
        gwet_ac(x, categories=CATS, ci=False).value, abs=1e-12)
    # PABAK / PI / BI identity for a 2x2 table (Byrt et al. 1993)
    rng = np.random.default_rng(2)
    b = (rng.random((60, 2)) < [0.7, 0.6]).astype(float)
    r = cohen_kappa(b, categories=[0, 1], ci=False)
    pab, pi, bi = (r.details[s] for s in ("pabak", "prevalence_index", "bias_index"))
    assert r.value == pytest.approx((pab - pi**2 + bi**2) / (1 - pi**2 + bi**2), abs=1e-12)
    assert pabak(b, categories=[0, 1], ci=False).value == pytest.approx(pab, abs=1e-12)


def test_result_object_contract() -> None:
    x = table(1)
    r = krippendorff_alpha(x, "interval", categories=CATS, n_resamples=200, seed=7)
    assert float(r) == r.value
    assert r.ci is not None and r.ci[0] <= r.value <= r.ci[1]
    assert r.seed == 7 and r.n_resamples == 200 and "seed=7" in (r.ci_method or "")
    again = krippendorff_alpha(x, "interval", categories=CATS, n_resamples=200, seed=7)
    assert again.ci == r.ci  # seeded: reproducible
    assert krippendorff_alpha(x, "interval", categories=CATS, ci=False).ci is None
    assert "ordinal metric" in krippendorff_alpha(x, "ordinal", categories=CATS).method
    assert "Gwet ordinal weights" in gwet_ac(x, categories=CATS, weights="ordinal").method
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        r.value = 0.0  # type: ignore[misc]
    inferred = gwet_ac(x, ci=False)
    assert inferred.categories_source == "inferred from data"
    assert "inferred" in inferred.note


def test_degenerate_inputs() -> None:
    same = np.ones((10, 3))
    a = krippendorff_alpha(same, categories=CATS, ci=False)
    assert math.isnan(a.value) and a.note.startswith("undefined")
    f = fleiss_kappa(same, categories=CATS, ci=False)
    assert math.isnan(f.value) and "no variation" in f.note
    assert gwet_ac(same, categories=CATS, ci=False).value == pytest.approx(1.0)
    one_cat = gwet_ac(same, ci=False)  # inferred q = 1
    assert math.isnan(one_cat.value) and "categories=" in one_cat.note
    with pytest.raises(StatsError, match="at least 2 raters"):
        krippendorff_alpha(np.ones((5, 1)))
    with pytest.raises(StatsError, match="two or more raters"):
        gwet_ac(np.full((4, 3), np.nan))
    with pytest.raises(StatsError, match="not one of the declared"):
        gwet_ac([[1, 9], [1, 2]], categories=CATS)
    with pytest.raises(StatsError, match="same number of ratings"):
        fleiss_kappa(table(2), categories=CATS)
    with pytest.raises(StatsError, match="exactly two raters"):
        cohen_kappa(table(2), categories=CATS)
    with pytest.raises(StatsError, match="two or more raters"):
        cohen_kappa([[1, None], [None, 2]], categories=CATS)
    single = gwet_ac([[1, 2, 2]], categories=CATS)
    assert math.isfinite(single.value) and single.ci is None and "no CI" in single.note
    k = cohen_kappa([[1, 1], [1, 1]], categories=[1, 2])
    assert math.isnan(k.value) and k.note
    with pytest.raises(StatsError):
        icc([[1, 2], [None, 3]])
    flat = icc(np.ones((5, 3)))
    assert math.isnan(flat.value) and "no variation" in flat.note


def test_bootstrap_drops_undefined_replicates() -> None:
    # One informative item among constant ones: many resamples have no variation.
    x = np.ones((6, 2))
    x[0] = [1, 2]
    r = krippendorff_alpha(x, categories=[1, 2], n_resamples=300, seed=3)
    assert r.dropped_resamples > 0 and str(r.dropped_resamples) in (r.ci_method or "")


def test_icc_listwise_rule_is_explicit() -> None:
    x = table(4, r=3)
    r = icc(x, "ICC2")
    dropped = int(np.isnan(x).any(axis=1).sum())
    assert f"({dropped} of {x.shape[0]} dropped)" in r.missing_rule
    assert r.n_items == x.shape[0] - dropped


def test_calibration_keeps_empty_bins_and_quantile() -> None:
    c = calibration([0.05, 0.07, 0.95, 1.0], [0, 0, 1, 1], bins=10)
    assert list(c.bins["bin"]) == list(range(10))
    assert c.bins["count"].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert math.isnan(c.bins.loc[5, "observed_rate"])
    assert c.ece == pytest.approx((2 * 0.06 + 2 * 0.025) / 4)
    q = calibration(np.linspace(0, 1, 20), np.r_[np.zeros(10), np.ones(10)], bins=4,
                    strategy="quantile")
    assert q.bins["count"].tolist() == [5, 5, 5, 5]
    with pytest.raises(StatsError):
        calibration([1.5], [1])


def test_judge_ordinal_numeric_and_ceiling() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 40)
    human = np.clip(truth[:, None] + rng.integers(-1, 2, (40, 3)), 1, 5).astype(object)
    judge = np.clip(truth + 1, 1, 5)
    res = judge_agreement(human, judge, "ordinal", categories=CATS, n_resamples=200)
    assert res.value("mean_signed_difference") > 0  # lenient judge
    assert -1 <= res.value("kendall_tau_b", "physician_mean") <= 1
    num = judge_agreement(human.astype(float), judge + 0.5, "numeric", n_resamples=200)
    assert num.value("bland_altman_bias", "physician_mean") > 0
    ceil = judge_vs_ceiling(human, judge, "ordinal", categories=CATS)
    assert set(ceil["statistic"]) >= {"accuracy", "cohen_kappa"}
    assert (ceil["n_physicians"] == 3).all()
    with pytest.raises(StatsError):
        judge_vs_ceiling([[True], [False]], [True, False])


def test_bootstrap_draws_are_identical_with_and_without_the_count_cache() -> None:
    import numpy as np

    import medreview.stats.bootstrap as bs

    feats = np.random.default_rng(3).random((500, 3))
    cold = bs.resample_sums(feats, 200, 11)  # first call fills the cache
    warm = bs.resample_sums(feats[:, :2], 200, 11)  # served from it
    saved = bs._CACHE_BYTES
    try:
        bs._CACHE_BYTES = 0  # no caching: drawn afresh
        fresh = bs.resample_sums(feats, 200, 11)
    finally:
        bs._CACHE_BYTES = saved
    assert np.array_equal(cold, fresh) and np.array_equal(warm, fresh[:, :2])
    assert not np.array_equal(bs.resample_sums(feats, 200, 12), fresh)  # the seed matters
