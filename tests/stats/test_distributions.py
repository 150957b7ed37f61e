"""Our quantiles and rank correlations against scipy.stats (the test-only oracle they replace in
the app bundle): every probability and degrees of freedom a study can produce, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from medreview.stats.distributions import f_ppf, kendall_tau_b, norm_ppf, spearman_rho, t_ppf

PROBS = [1e-12, 1e-9, 1e-6, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975,
         0.99, 0.999, 1 - 1e-6, 1 - 1e-9]
DFS = [0.5, 1, 1.5, 2, 2.5, 3, 4, 7, 10, 19, 30, 99, 1e3, 1e4, 1e5, 2e5, 1e6, 1e7]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300) if b != 0 else abs(a)


@pytest.mark.parametrize("p", PROBS)
def test_normal_quantile(p: float) -> None:
    assert _rel(norm_ppf(p), float(sps.norm.ppf(p))) < 1e-13


@pytest.mark.parametrize("df", DFS)
def test_t_quantile(df: float) -> None:
    for p in PROBS:
        assert _rel(t_ppf(p, df), float(sps.t.ppf(p, df))) < 1e-10, (p, df)


@pytest.mark.parametrize("dfn", [0.5, 1, 2, 3.5, 9, 30, 120, 1e3, 1e4, 1e5])
def test_f_quantile(dfn: float) -> None:
    for dfd in [0.5, 1, 2, 3.5, 9, 30, 120, 1e3, 1e4, 1e5, 1e6]:
        # Beta inversion with arguments in the hundreds of thousands keeps ~9 digits; CIs are
        # reported with 3.
        tol = 1e-11 if max(dfn, dfd) <= 1e3 else 1e-8
        for p in PROBS[1:-1]:
            assert _rel(f_ppf(p, dfn, dfd), float(sps.f.ppf(p, dfn, dfd))) < tol, (p, dfn, dfd)


def test_edges_and_bad_arguments() -> None:
    assert t_ppf(0.5, 3) == 0.0 and t_ppf(0.0, 3) == -math.inf and t_ppf(1.0, 3) == math.inf
    assert f_ppf(0.0, 2, 3) == 0.0 and f_ppf(1.0, 2, 3) == math.inf
    assert norm_ppf(0.0) == -math.inf and norm_ppf(1.0) == math.inf
    # Arguments scipy.stats answers with NaN (degenerate tables give NaN or zero degrees of
    # freedom) are NaN here too, never an exception; infinite t degrees of freedom are normal.
    for p, df, dfd in ((-0.1, 3, 3), (1.1, 3, 3), (math.nan, 3, 3), (0.9, 0, 3), (0.9, -1, -1),
                       (0.9, math.nan, 3), (0.9, 3, math.nan), (0.9, math.inf, 3),
                       (0.9, 3, math.inf)):
        assert math.isnan(sps.f.ppf(p, df, dfd)) and math.isnan(f_ppf(p, df, dfd)), (p, df, dfd)
        if df != math.inf:
            assert math.isnan(sps.t.ppf(p, df)) == math.isnan(t_ppf(p, df)), (p, df)
    assert t_ppf(0.975, math.inf) == pytest.approx(float(sps.t.ppf(0.975, math.inf)), rel=1e-14)
    assert math.isnan(norm_ppf(math.nan)) and math.isnan(norm_ppf(2.0))


@pytest.mark.parametrize("seed", range(6))
def test_rank_correlations_with_and_without_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = [2, 3, 17, 200, 5000, 60_000][seed]
    levels = [2, 5, 5, 7, 10**9, 11][seed]
    a = rng.integers(0, levels, n).astype(float)
    b = a + rng.integers(-2, 3, n) if seed % 2 else rng.normal(size=n).round(1)
    ref_rho = sps.spearmanr(a, b).statistic
    ref_tau = sps.kendalltau(a, b).statistic
    for mine, ref in ((spearman_rho(a, b), ref_rho), (kendall_tau_b(a, b), ref_tau)):
        if math.isnan(ref):
            assert math.isnan(mine)
        else:
            assert abs(mine - ref) < 1e-12, (n, mine, ref)


def test_constant_side_gives_nan_as_scipy() -> None:
    a = np.ones(10)
    b = np.arange(10.0)
    assert math.isnan(spearman_rho(a, b)) and math.isnan(kendall_tau_b(a, b))
