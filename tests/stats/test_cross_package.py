"""Our statistics vs the reference packages on random tables with missing data (hypothesis).

Oracles: krippendorff (alpha), irrCAC-py (Fleiss/Gwet/BP/PA with missing data; installed
--no-deps, works under the installed pandas/scipy when given a float DataFrame and digits=15),
sklearn (Cohen's kappa on labels 1..q, where index weights equal value weights; macro F1),
statsmodels (cohens_kappa with SE; fleiss_kappa on complete data only, because it counts NaN
as a category), pingouin (ICC on complete data).
"""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score, f1_score
from statsmodels.stats import inter_rater as sm

from medreview.errors import StatsError
from medreview.stats.agreement import (
    brennan_prediger,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    percent_agreement,
)
from medreview.stats.alpha import Level
from medreview.stats.judge import judge_agreement

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tables(draw: st.DrawFn, min_raters: int = 2, max_raters: int = 6,
           missing: bool = True) -> tuple[np.ndarray, list[int]]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(3, 40))
    r = draw(st.integers(min_raters, max_raters))
    q = draw(st.integers(2, 6))
    rng = np.random.default_rng(seed)
    latent = rng.integers(1, q + 1, n)
    x = np.clip(latent[:, None] + rng.integers(-1, 2, (n, r)), 1, q).astype(float)
    if missing:
        x[rng.random((n, r)) < draw(st.sampled_from([0.0, 0.2, 0.4]))] = np.nan
    # Guarantee at least one pairable item with two different values (defined statistics).
    x[0, :2] = [1, 2]
    x[1, :2] = [2, 2]  # irrCAC divides by n - 1 non-empty items: keep two
    return x, list(range(1, q + 1))


@SETTINGS
@given(tables())
def test_alpha_matches_krippendorff(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    levels: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")
    for level in levels:
        ours = krippendorff_alpha(x, level, categories=cats, ci=False).value
        ref = krippendorff.alpha(reliability_data=x.T, level_of_measurement=level,
                                 value_domain=cats)
        assert abs(ours - ref) < 1e-9, level


def _irr(x: np.ndarray, cats: list[int], weights: str, what: str) -> float:
    df = pd.DataFrame(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cac = CAC(df, weights=weights, categories=cats, digits=15)
        return float(getattr(cac, what)()["est"]["coefficient_value"])


def _irr_se(x: np.ndarray, cats: list[int], weights: str, what: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cac = CAC(pd.DataFrame(x), weights=weights, categories=cats, digits=15)
        return float(getattr(cac, what)()["est"]["se"])


@settings(max_examples=10, deadline=None)
@given(tables())
def test_gwet_family_matches_irrcac(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    for w in ("identity", "linear", "quadratic", "ordinal"):
        r = gwet_ac(x, categories=cats, weights=w)
        assert abs(r.value - _irr(x, cats, w, "gwet")) < 1e-9
        assert r.se is not None and abs(r.se - _irr_se(x, cats, w, "gwet")) < 1e-9
        f = fleiss_kappa(x, categories=cats, weights=w, allow_unequal=True)
        assert abs(f.value - _irr(x, cats, w, "fleiss")) < 1e-9
        assert f.se is not None and abs(f.se - _irr_se(x, cats, w, "fleiss")) < 1e-9
        b = brennan_prediger(x, categories=cats, weights=w, ci=False)
        assert abs(b.value - _irr(x, cats, w, "bp")) < 1e-9
    pa = percent_agreement(x, categories=cats, ci=False).value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert abs(pa - CAC(pd.DataFrame(x), categories=cats, digits=15).fleiss()["est"]["pa"]
                   ) < 1e-9


@SETTINGS
@given(tables(min_raters=2, max_raters=2))
def test_cohen_matches_sklearn_and_statsmodels(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    both = ~np.isnan(x).any(axis=1)
    a, b = x[both, 0].astype(int), x[both, 1].astype(int)
    q = len(cats)
    table = np.zeros((q, q))
    np.add.at(table, (a - 1, b - 1), 1)
    for weights, wt in ((None, None), ("linear", "linear"), ("quadratic", "quadratic")):
        ours = cohen_kappa(x, weights, categories=cats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sm.cohens_kappa(table, wt=wt)
        if np.isnan(ours.value):
            assert ours.note.startswith("undefined")
            continue
        assert abs(ours.value - ref.kappa) < 1e-9
        # statsmodels gives NaN when rounding makes the variance slightly negative; we clip.
        ref_se = ref.std_kappa if np.isfinite(ref.std_kappa) else 0.0
        # Where the true variance is 0 (one rater constant), rounding leaves ~1e-14 on either
        # side and the square root turns that into ~1e-7 (hypothesis found one): there the
        # variances are compared; everywhere else the SEs, as before.
        assert ours.se is not None
        assert abs(ours.se - ref_se) < 1e-7 or abs(ours.se**2 - ref_se**2) < 1e-12
        # labels 1..q: sklearn's index-position weights coincide with value weights here
        sk = cohen_kappa_score(a, b, labels=cats, weights=weights)
        assert abs(ours.value - sk) < 1e-9


def test_weights_are_by_value_not_label_position() -> None:
    # sklearn weights by label index: labels {1, 2, 5} give 0.429 instead of 0.200 (notes §0).
    a = [1, 2, 5, 2, 1, 5, 2, 1]
    b = [2, 2, 5, 5, 1, 2, 1, 1]
    x = np.column_stack([a, b]).astype(float)
    ours = cohen_kappa(x, "linear", categories=[1, 2, 5], ci=False).value
    v = np.array([1.0, 2.0, 5.0])
    w = 1 - np.abs(v[:, None] - v[None, :]) / 4
    table = np.zeros((3, 3))
    idx = {1: 0, 2: 1, 5: 2}
    for i, j in zip(a, b, strict=True):
        table[idx[i], idx[j]] += 1
    assert abs(ours - sm.cohens_kappa(table, weights=1 - w).kappa) < 1e-12
    assert abs(ours - cohen_kappa_score(a, b, weights="linear")) > 1e-3


@SETTINGS
@given(tables(missing=False))
def test_fleiss_complete_matches_statsmodels(t: tuple[np.ndarray, list[int]]) -> None:
    x, cats = t
    counts, _ = sm.aggregate_raters(x.astype(int), n_cat=None)
    ref = sm.fleiss_kappa(counts)
    ours = fleiss_kappa(x, categories=cats, ci=False).value
    if np.isnan(ours):
        assert np.isnan(ref) or abs(ref) > 0
        return
    assert abs(ours - ref) < 1e-9


@settings(max_examples=4, deadline=None)
@given(tables(min_raters=2, max_raters=4, missing=False))
def test_icc_matches_pingouin(t: tuple[np.ndarray, list[int]]) -> None:
    x, _ = t
    x = x + np.arange(x.size).reshape(x.shape) % 3 * 0.1  # break exact ties
    long = pd.DataFrame(x).reset_index().melt(id_vars="index", var_name="rater",
                                              value_name="score")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pg.intraclass_corr(long, targets="index", raters="rater", ratings="score")
    ref = ref.set_index("Type")
    labels = {"ICC1": "ICC(1,1)", "ICC2": "ICC(A,1)", "ICC3": "ICC(C,1)",
              "ICC1k": "ICC(1,k)", "ICC2k": "ICC(A,k)", "ICC3k": "ICC(C,k)"}
    for form, label in labels.items():
        ours = icc(x, form)  # type: ignore[arg-type]
        assert abs(ours.value - ref.loc[label, "ICC"]) < 1e-9
        lo, hi = ref.loc[label, "CI95"]  # pingouin rounds CIs to 2 dp
        assert ours.ci is not None
        assert abs(ours.ci[0] - lo) <= 0.005 + 1e-9 and abs(ours.ci[1] - hi) <= 0.005 + 1e-9


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(2, 30), st.integers(1, 4))
def test_pooled_macro_f1_matches_sklearn(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    judge = rng.random(n) < 0.6
    human = (rng.random((n, k)) < 0.6).astype(object)
    human[rng.random((n, k)) < 0.3] = None
    pairs = [(bool(judge[i]), bool(h)) for i in range(n) for h in human[i] if h is not None]
    if not pairs:  # nothing to compare is a clear error, not a number
        with pytest.raises(StatsError, match="no item has both"):
            judge_agreement(human, judge, "binary", ci=False)
        return
    res = judge_agreement(human, judge, "binary", ci=False)
    g, h = zip(*pairs, strict=True)
    assert abs(res.value("macro_f1") - f1_score(h, g, average="macro")) < 1e-12
    assert abs(res.value("accuracy") - np.mean(np.array(g) == np.array(h))) < 1e-12


def test_irrcac_works_here() -> None:
    # Guard for the oracle itself (installed --no-deps): published raw4raters AC1.
    import json
    from pathlib import Path

    ref = Path(__file__).resolve().parent / "data" / "agreement-reference.json"
    e = next(x for x in json.loads(ref
                                   .read_text())["entries"] if x["name"] == "gwet_cac_raw4raters")
    v = _irr(np.array(e["data"], dtype=float), e["categories"], "identity", "gwet")
    assert v == pytest.approx(0.77544, abs=5e-6)
