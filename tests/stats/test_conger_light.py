"""Conger's and Light's kappa: irrCAC (Conger value and SE), sklearn (pairwise Cohen), the
published irrCAC README value, identities and invariances, bootstrap CIs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score

from medreview.errors import StatsError
from medreview.stats.agreement import cohen_kappa, conger_kappa, light_kappa
from tests.stats.test_cross_package import tables

REF = Path(__file__).resolve().parent / "data" / "agreement-reference.json"


def _entry(name: str) -> dict:  # type: ignore[type-arg]
    return next(e for e in json.loads(REF.read_text())["entries"] if e["name"] == name)


def _irr_conger(x: np.ndarray, cats: list[int], weights: str) -> dict:  # type: ignore[type-arg]
    # irrCAC returns NaN when a rater has no rating at all; we ignore such raters, so give
    # irrCAC the same raters.
    x = x[:, ~np.isnan(x).all(axis=0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est: dict = CAC(pd.DataFrame(x), weights=weights, categories=cats,  # type: ignore[type-arg]
                        digits=15).conger()["est"]
        return est


def test_conger_published_raw4raters() -> None:
    e = _entry("gwet_cac_raw4raters")
    check = next(c for c in e["checks"] if c["statistic"] == "conger_kappa")
    res = conger_kappa(np.array(e["data"], dtype=float), categories=e["categories"])
    assert res.value == pytest.approx(check["published_value"], abs=check["tolerance"])
    assert res.se == pytest.approx(check["standard_error_published"], abs=5e-6)
    assert res.method == "Conger's kappa"
    assert res.ci is not None and res.ci[1] == 1.0  # upper limit capped, as irrCAC does


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_conger_matches_irrcac(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    for w in ("identity", "linear", "quadratic", "ordinal", "ratio"):
        ours = conger_kappa(x, categories=cats, weights=w)
        ref = _irr_conger(x, cats, w)
        assert abs(ours.value - ref["coefficient_value"]) < 1e-9, w
        assert ours.se is not None and abs(ours.se - ref["se"]) < 1e-9, w
        assert abs(ours.details["p_e"] - ref["pe"]) < 1e-9


def _light_reference(x: np.ndarray, cats: list[int], weights: str | None) -> float:
    kappas = []
    for a in range(x.shape[1]):
        for b in range(a + 1, x.shape[1]):
            both = ~np.isnan(x[:, a]) & ~np.isnan(x[:, b])
            if not both.any():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                k = cohen_kappa_score(x[both, a], x[both, b], labels=cats, weights=weights)
            if np.isfinite(k):
                kappas.append(k)
    return float(np.mean(kappas))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_light_is_mean_pairwise_cohen_sklearn(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    for w in (None, "linear", "quadratic"):
        ours = light_kappa(x, categories=cats, weights=w, ci=False)
        # labels 1..q: sklearn's index weights equal our value weights here
        assert abs(ours.value - _light_reference(x, cats, w)) < 1e-9, w


def test_two_raters_complete_conger_and_light_equal_cohen() -> None:
    rng = np.random.default_rng(7)
    x = np.clip(rng.integers(1, 5, (40, 1)) + rng.integers(-1, 2, (40, 2)), 1, 4).astype(float)
    cats = [1, 2, 3, 4]
    for w in (None, "quadratic"):
        k = cohen_kappa(x, w, categories=cats, ci=False).value
        assert conger_kappa(x, categories=cats, weights=w, ci=False).value == pytest.approx(
            k, abs=1e-12)
        assert light_kappa(x, categories=cats, weights=w, ci=False).value == pytest.approx(
            k, abs=1e-12)


def test_invariances_rater_order_and_empty_rows_and_raters() -> None:
    rng = np.random.default_rng(11)
    x = np.clip(rng.integers(1, 6, (30, 1)) + rng.integers(-1, 2, (30, 4)), 1, 5).astype(float)
    x[rng.random(x.shape) < 0.25] = np.nan
    cats = [1, 2, 3, 4, 5]
    perm = x[rng.permutation(30)][:, [2, 0, 3, 1]]
    padded = np.column_stack([np.vstack([x, np.full((1, 4), np.nan)]), np.full(31, np.nan)])
    for f in (conger_kappa, light_kappa):
        base = f(x, categories=cats, ci=False)
        assert f(perm, categories=cats, ci=False).value == pytest.approx(base.value, abs=1e-12)
        pad = f(padded, categories=cats, ci=False)
        assert pad.value == pytest.approx(base.value, abs=1e-12)
        assert pad.n_raters == base.n_raters == 4


def test_conger_differs_from_fleiss_when_raters_have_different_marginals() -> None:
    # Conger keeps rater identity: a rater bias lowers p_e relative to Fleiss' pooled p_e.
    from medreview.stats.agreement import fleiss_kappa

    x = np.array([[1, 2], [1, 2], [2, 2], [1, 1], [1, 2], [2, 2]], dtype=float)
    c = conger_kappa(x, categories=[1, 2], ci=False).value
    f = fleiss_kappa(x, categories=[1, 2], ci=False).value
    assert c > f


def test_light_leaves_out_undefined_pairs_and_says_so() -> None:
    x = np.array([[1, 1, np.nan], [2, 2, np.nan], [1, 2, np.nan], [np.nan, 1, 1],
                  [np.nan, 2, 2], [np.nan, 1, 2]])
    res = light_kappa(x, categories=[1, 2], ci=False)
    assert res.details["n_rater_pairs"] == 3 and res.details["n_rater_pairs_used"] == 2
    assert "1 of 3 rater pairs left out" in res.note
    k1 = cohen_kappa(x[:3, :2], categories=[1, 2], ci=False).value
    k2 = cohen_kappa(x[3:, 1:], categories=[1, 2], ci=False).value
    assert res.value == pytest.approx((k1 + k2) / 2, abs=1e-12)


def test_degenerate_inputs() -> None:
    same = np.ones((5, 3))
    res = conger_kappa(same, categories=[1, 2], ci=False)
    assert np.isnan(res.value) and res.note.startswith("undefined")
    lk = light_kappa(same, categories=[1, 2], ci=False)
    assert np.isnan(lk.value) and lk.note.startswith("undefined")
    with pytest.raises(StatsError, match="two or more raters"):
        conger_kappa(np.array([[1, np.nan], [np.nan, 2]]), categories=[1, 2])


def test_bootstrap_cis_are_seeded_and_cover_the_estimate() -> None:
    e = _entry("gwet_cac_raw4raters")
    x = np.array(e["data"], dtype=float)
    boot = conger_kappa(x, categories=e["categories"], ci_method="bootstrap", n_resamples=300,
                        seed=3)
    again = conger_kappa(x, categories=e["categories"], ci_method="bootstrap", n_resamples=300,
                         seed=3)
    assert boot.ci == again.ci and boot.ci is not None
    assert boot.ci[0] <= boot.value <= boot.ci[1]
    assert "bootstrap" in (boot.ci_method or "") and boot.seed == 3
    lk = light_kappa(x, categories=e["categories"], n_resamples=300, seed=3)
    assert lk.ci is not None and lk.ci[0] <= lk.value <= lk.ci[1]
    # The bootstrap finaliser re-derives the statistic: all-ones resample weights give it back.
    assert lk.n_resamples == 300


def test_bootstrap_finaliser_reproduces_point_estimates() -> None:
    # Guard the per-item decomposition: summing the features with weight 1 gives the value.
    from medreview.stats import conger as cg
    from medreview.stats.coding import encode
    from medreview.stats.weights import weight_matrix

    rng = np.random.default_rng(5)
    x = np.clip(rng.integers(1, 5, (25, 1)) + rng.integers(-1, 2, (25, 4)), 1, 4).astype(float)
    x[rng.random(x.shape) < 0.3] = np.nan
    coded = encode(x, [1, 2, 3, 4])
    w, _ = weight_matrix("linear", coded.values)
    codes = cg._active(coded)
    feats = cg._pair_features(codes, w, 4)
    kappas = cg._pair_kappas(feats.sum(axis=0), w, 4)
    assert np.nanmean(kappas) == pytest.approx(
        light_kappa(x, categories=[1, 2, 3, 4], weights="linear", ci=False).value, abs=1e-12)
    onehot = cg._onehot(codes, 4)
    pe = float(cg._conger_pe(onehot.sum(axis=0), w))
    assert pe == pytest.approx(conger_kappa(x, categories=[1, 2, 3, 4], weights="linear",
                                            ci=False).details["p_e"], abs=1e-12)
