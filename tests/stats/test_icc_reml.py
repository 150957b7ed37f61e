"""ICC from REML variance components with missing ratings.

Checks: (1) on complete balanced data the REML ICCs equal the Shrout-Fleiss ANOVA ICCs when
no component is at the 0 boundary, and when the rater component is truncated the two-way
REML ICC equals the one-way ANOVA ICC(1,1) (the model without rater variance); (2) our
sufficient-statistics likelihood equals a dense textbook REML likelihood; (3) our optimum is
at least as good as statsmodels MixedLM's and agrees with its variance components; (4) the
published Shrout-Fleiss values; (5) the bootstrap CI plumbing.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medreview.errors import StatsError
from medreview.stats.agreement import icc, icc_reml
from medreview.stats.coding import encode
from medreview.stats.icc import mean_squares
from medreview.stats.icc_reml import (
    design_from_packed,
    item_stats,
    neg2_reml,
    packed_features,
    point_design,
)

FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
REF = Path(__file__).resolve().parent / "data" / "agreement-reference.json"


def _table(seed: int, n: int, k: int, missing: float = 0.0, rater_sd: float = 0.7
           ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 1.5 * rng.normal(size=(n, 1)) + rater_sd * rng.normal(size=(1, k)) + rng.normal(
        size=(n, k))
    x[rng.random((n, k)) < missing] = np.nan
    out: np.ndarray = x
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(4, 30), st.integers(2, 6))
def test_balanced_reml_equals_anova_when_interior(seed: int, n: int, k: int) -> None:
    x = _table(seed, n, k)
    ms = mean_squares(x)
    if not (ms["MSR"] > ms["MSE"] and ms["MSC"] > ms["MSE"] and ms["MSR"] > ms["MSW"]):
        return  # a component at the boundary: covered by the truncation test
    for form in FORMS:
        assert icc_reml(x, form, ci=False).value == pytest.approx(
            icc(x, form, ci=False).value, abs=1e-9), form
    r2 = icc_reml(x, "ICC2", ci=False).details
    assert r2["s2_error"] == pytest.approx(ms["MSE"], rel=1e-9)
    assert r2["s2_items"] == pytest.approx((ms["MSR"] - ms["MSE"]) / k, rel=1e-8)
    assert r2["s2_raters"] == pytest.approx((ms["MSC"] - ms["MSE"]) / n, rel=1e-7, abs=1e-12)
    r1 = icc_reml(x, "ICC1", ci=False).details
    assert r1["s2_error"] == pytest.approx(ms["MSW"], rel=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.integers(4, 30), st.integers(2, 6))
def test_balanced_truncated_rater_component(seed: int, n: int, k: int) -> None:
    x = _table(seed, n, k, rater_sd=0.0)
    ms = mean_squares(x)
    if not (ms["MSC"] < ms["MSE"] and ms["MSR"] > ms["MSW"]):
        return
    res = icc_reml(x, "ICC2", ci=False)
    assert res.details["s2_raters"] == 0.0
    # Without rater variance the two-way model is the one-way model: ICC(1,1) by ANOVA.
    assert res.value == pytest.approx(icc(x, "ICC1", ci=False).value, abs=1e-9)
    assert res.value != pytest.approx(icc(x, "ICC2", ci=False).value, abs=1e-9)


def test_negative_anova_icc_is_zero_under_reml() -> None:
    x = np.array([[1, 2, 3], [2, 1, 3], [3, 3, 1.0]])
    assert icc(x, "ICC1", ci=False).value < 0
    res = icc_reml(x, "ICC1", ci=False)
    assert res.value == 0.0 and res.details["s2_items"] == 0.0


def _dense_neg2_reml(x: np.ndarray, model: str, s2: tuple[float, float, float]) -> float:
    """Textbook -2 log REML: log|V| + log|X'V^-1X| + y'Py (+ const), dense matrices."""
    items, raters = np.nonzero(~np.isnan(x))
    y = x[items, raters]
    nobs = y.size
    zt = np.zeros((nobs, x.shape[0]))
    zt[np.arange(nobs), items] = 1
    zc = np.zeros((nobs, x.shape[1]))
    zc[np.arange(nobs), raters] = 1
    s2t, s2c, s2e = s2
    v = s2e * np.eye(nobs) + s2t * zt @ zt.T
    if model == "twoway":
        v += s2c * zc @ zc.T
    xm = zc if model == "mixed" else np.ones((nobs, 1))
    vi = np.linalg.inv(v)
    xvx = xm.T @ vi @ xm
    p = vi - vi @ xm @ np.linalg.solve(xvx, xm.T @ vi)
    return float(np.linalg.slogdet(v)[1] + np.linalg.slogdet(xvx)[1] + y @ p @ y)


def _our_neg2(x: np.ndarray, model: str, g_t: float, g_c: float) -> tuple[float, float]:
    coded = encode(x)
    st = item_stats(coded.codes, coded.values, model)  # type: ignore[arg-type]
    v, s2e, _ = neg2_reml(point_design(st), np.array([g_t]), np.array([g_c]))
    return float(v[0]), float(s2e[0])


def test_packed_bootstrap_features_sum_to_the_point_design() -> None:
    x = _table(2, 20, 4, missing=0.3)
    coded = encode(x)
    for model in ("oneway", "twoway", "mixed"):
        st = item_stats(coded.codes, coded.values, model)  # type: ignore[arg-type]
        a = point_design(st)
        b = design_from_packed(st, packed_features(st).sum(axis=0)[None])
        for name in ("ff", "counts", "grams"):
            assert np.allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model", ["oneway", "twoway", "mixed"])
def test_sufficient_statistic_likelihood_equals_dense_reml(model: str) -> None:
    x = _table(3, 12, 4, missing=0.3)
    # Profiled form: f(g) = (N - p) log rss + log|V0| + log|X'V0^-1 X|; at s2_e = rss/(N - p)
    # the dense criterion equals f(g) + (N - p)(1 - log(N - p)). Compare differences.
    p = 4 if model == "mixed" else 1
    nobs = int((~np.isnan(x)).sum())
    vals = []
    for g_t, g_c in ((0.7, 0.3), (2.0, 0.0), (0.05, 1.5)):
        ours, s2e = _our_neg2(x, model, g_t, g_c if model == "twoway" else 0.0)
        dense = _dense_neg2_reml(x, model, (g_t * s2e, g_c * s2e, s2e))
        vals.append(dense - ours - (nobs - p) * (1 - np.log(nobs - p)))
    assert max(vals) - min(vals) < 1e-9


def _statsmodels_components(x: np.ndarray, model: str) -> tuple[float, float, float]:
    long = pd.DataFrame(x).reset_index().melt(id_vars="index", var_name="rater",
                                              value_name="y").dropna()
    long["one"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "oneway":
            m = smf.mixedlm("y ~ 1", long, groups="index").fit(reml=True)
            return float(m.cov_re.iloc[0, 0]), 0.0, float(m.scale)
        if model == "mixed":
            m = smf.mixedlm("y ~ C(rater)", long, groups="index").fit(reml=True)
            return float(m.cov_re.iloc[0, 0]), 0.0, float(m.scale)
        # Crossed random effects: one group, both factors as variance components.
        m = smf.mixedlm("y ~ 1", long, groups="one", re_formula="0",
                        vc_formula={"item": "0 + C(index)", "rater": "0 + C(rater)"}
                        ).fit(reml=True)
        names = list(m.model.exog_vc.names)
        vc = dict(zip(names, m.vcomp, strict=True))
        return float(vc["item"]), float(vc["rater"]), float(m.scale)


@pytest.mark.parametrize(("model", "form"), [("oneway", "ICC1"), ("twoway", "ICC2"),
                                             ("mixed", "ICC3")])
@pytest.mark.parametrize("seed", [1, 5])
def test_matches_statsmodels_mixedlm(model: str, form: str, seed: int) -> None:
    x = _table(seed, 15, 4, missing=0.3)
    ours = icc_reml(x, form, ci=False)
    sm = _statsmodels_components(x, model)
    d = ours.details
    got = (d["s2_items"], d.get("s2_raters", 0.0), d["s2_error"])
    # statsmodels stops its optimiser earlier than we do: agree to its precision...
    assert got == pytest.approx(sm, rel=1e-3, abs=1e-4)
    # ...and our optimum is at least as good under the exact dense likelihood.
    assert _dense_neg2_reml(x, model, got) <= _dense_neg2_reml(x, model, sm) + 1e-9


def test_shrout_fleiss_published_values() -> None:
    e = next(x for x in json.loads(REF.read_text())["entries"]
             if x["name"] == "shrout_fleiss1979")
    data = np.array(e["data"], dtype=float)
    labels = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)",
              "ICC1k": "ICC(1,k)", "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}
    for form, label in labels.items():
        check = next(c for c in e["checks"] if c["statistic"] == f"icc::{label}")
        assert icc(data, form, missing="reml", ci=False).value == pytest.approx(  # type: ignore[arg-type]
            check["published_value"], abs=check["tolerance"]), form


def test_missing_data_uses_all_ratings_and_bootstrap_ci() -> None:
    x = _table(9, 40, 4, missing=0.35)
    listwise = icc(x, "ICC2", ci=False)
    res = icc(x, "ICC2", missing="reml", n_resamples=200, seed=4)
    assert res.n_items == 40 and listwise.n_items < 40
    assert res.details["complete_items"] == listwise.n_items
    assert res.ci is not None and res.ci[0] <= res.value <= res.ci[1]
    assert "bootstrap" in (res.ci_method or "") and "REML" in res.method
    again = icc_reml(x, "ICC2", n_resamples=200, seed=4)
    assert again.ci == res.ci
    assert res.categories_source == "not applicable" and "categories" not in res.note


def test_bad_input() -> None:
    with pytest.raises(StatsError, match="missing must be"):
        icc(np.ones((3, 2)), missing="pairwise")  # type: ignore[arg-type]
    with pytest.raises(StatsError, match="2 raters"):
        icc_reml(np.array([[1.0, np.nan], [2.0, np.nan]]))
    flat = icc_reml(np.ones((5, 3)), "ICC2", ci=False)
    assert np.isnan(flat.value) and flat.note.startswith("undefined")
