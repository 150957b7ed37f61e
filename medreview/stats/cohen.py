"""Cohen's kappa (unweighted / linear / quadratic / custom) and PABAK for exactly two raters.

Items rated by both raters only (pairwise complete). Weights are built from category values
(medreview.stats.weights). The CI uses the Fleiss-Cohen-Everitt (1969) large-sample SE with a
normal quantile (statsmodels / SAS convention); the SE under H0 is reported in ``details``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from medreview.errors import StatsError
from medreview.stats.chance import CIMethod, gwet_family
from medreview.stats.coding import Coded, FloatArray
from medreview.stats.common import NO_VARIATION, CIOptions, make_result, prepare
from medreview.stats.distributions import norm_ppf
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult
from medreview.stats.weights import WEIGHT_LABELS, weight_matrix

MISSING_RULE = "pairwise complete: items rated by both raters"


def _two(coded: Coded, what: str) -> Coded:
    if coded.codes.shape[1] != 2:
        raise StatsError(f"{what} needs exactly two raters (columns), got "
                         f"{coded.codes.shape[1]}", item="ratings")
    both = np.asarray((coded.codes >= 0).all(axis=1), dtype=bool)
    if not both.any():
        raise StatsError(f"{what}: no item is rated by both raters", item="ratings")
    return coded.select_items(both)


def kappa_from_table(table: FloatArray, w: FloatArray) -> dict[str, float]:
    """Weighted kappa and its FCE (1969) SEs from a q x q count table (rows = rater A)."""
    n = float(table.sum())
    p = table / n
    pr = p.sum(axis=1)
    pc = p.sum(axis=0)
    po = float((w * p).sum())
    pe = float(pr @ w @ pc)
    out = {"p_o": po, "p_e": pe, "n": n}
    if pe >= 1.0 - 1e-12:
        out["kappa"] = math.nan
        return out
    k = (po - pe) / (1.0 - pe)
    wr = w @ pc  # w-bar_k. = sum_l p_+l w_kl
    wc = pr @ w  # w-bar_.l = sum_k p_k+ w_kl
    s = wr[:, None] + wc[None, :]
    var = ((p * (w - s * (1.0 - k)) ** 2).sum() - (k - pe * (1.0 - k)) ** 2) / (
        n * (1.0 - pe) ** 2)
    var0 = ((np.outer(pr, pc) * (w - s) ** 2).sum() - pe**2) / (n * (1.0 - pe) ** 2)
    out.update(kappa=k, se=math.sqrt(max(float(var), 0.0)),
               se0=math.sqrt(max(float(var0), 0.0)))
    pe_u = float(pr @ pc)
    if pe_u < 1.0:
        out["kappa_max"] = (float(np.minimum(pr, pc).sum()) - pe_u) / (1.0 - pe_u)
    pi = (pr + pc) / 2.0
    pe_s = float(pi @ w @ pi)
    if pe_s < 1.0:
        out["scott_pi"] = (po - pe_s) / (1.0 - pe_s)
    return out


def cohen_kappa(ratings: Any, weights: Any = None, *, categories: Sequence[Any] | None = None,
                ci: bool = True, level: float = 0.95) -> AgreementResult:
    """Cohen's kappa between the two columns of ``ratings`` (weights by category value)."""
    opts = CIOptions(ci=ci, level=level)
    coded = _two(prepare(ratings, categories, what="Cohen's kappa"), "Cohen's kappa")
    return kappa_coded(coded, weights, opts)


def kappa_coded(coded: Coded, weights: Any, opts: CIOptions) -> AgreementResult:
    w, wname = weight_matrix(weights, coded.values)
    q = coded.q
    a, b = coded.codes[:, 0], coded.codes[:, 1]
    table = np.bincount(a * q + b, minlength=q * q).reshape(q, q).astype(np.float64)
    t = kappa_from_table(table, w)
    method = "Cohen's kappa" if wname == "identity" else \
        f"Cohen's weighted kappa ({WEIGHT_LABELS[wname]})"
    details = {k: v for k, v in t.items() if k not in ("kappa", "n")}
    if q == 2:
        n = t["n"]
        details["pabak"] = 2.0 * float(np.trace(table)) / n - 1.0
        details["prevalence_index"] = float(table[0, 0] - table[1, 1]) / n
        details["bias_index"] = float(table[0, 1] - table[1, 0]) / n
    n_items = int(t["n"])
    if math.isnan(t["kappa"]):
        return make_result(value=math.nan, coded=coded, method=method,
                           missing_rule=MISSING_RULE, n_items=n_items, note=NO_VARIATION,
                           details=details)
    ci_fields: dict[str, Any] = {}
    if opts.ci:
        z = norm_ppf(0.5 + opts.level / 2.0)
        se = t["se"]
        ci_fields = {"ci": (t["kappa"] - z * se, t["kappa"] + z * se),
                     "ci_method": "Fleiss-Cohen-Everitt (1969) large-sample SE, normal quantile"}
    return make_result(value=t["kappa"], coded=coded, method=method, missing_rule=MISSING_RULE,
                       n_items=n_items, ci_fields=ci_fields, se=t["se"], details=details)


def pabak(ratings: Any, *, categories: Sequence[Any] | None = None, ci: bool = True,
          ci_method: CIMethod = "analytic", n_resamples: int = DEFAULT_RESAMPLES,
          seed: int = DEFAULT_SEED, level: float = 0.95) -> AgreementResult:
    """Prevalence- and bias-adjusted kappa, (q p_o - 1)/(q - 1), for two raters.

    Equals Brennan-Prediger on the items both rated; for binary items ``details`` carries the
    prevalence and bias indices (Byrt, Bishop & Carlin 1993)."""
    coded = _two(prepare(ratings, categories, what="PABAK"), "PABAK")
    res = gwet_family(coded, "bp", None, CIOptions(ci, n_resamples, seed, level), ci_method)
    details = dict(res.details)
    if coded.q == 2:
        a, b = coded.codes[:, 0], coded.codes[:, 1]
        n = float(a.shape[0])
        details["prevalence_index"] = float(((a == 0) & (b == 0)).sum()
                                            - ((a == 1) & (b == 1)).sum()) / n
        details["bias_index"] = float(((a == 0) & (b == 1)).sum()
                                      - ((a == 1) & (b == 0)).sum()) / n
    from dataclasses import replace

    return replace(res, method="PABAK (Byrt et al. 1993; = Brennan-Prediger, 2 raters)",
                   missing_rule=MISSING_RULE, details=details)
