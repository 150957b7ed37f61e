"""Percent agreement and the Gwet-framework chance-corrected coefficients for many raters.

Fleiss' kappa (with Gwet's generalisation to unequal ratings per item), Gwet's AC1/AC2 and
Brennan-Prediger (= Bennett's S, Randolph's free-marginal kappa, PABAK for two raters) all
share p_a (mean pairwise agreement over items with >= 2 ratings) and differ only in p_e
(notes §2.1, §2.3, §2.5, §2.6). All are derived from one unit x category count matrix.
Analytic CIs use Gwet's (2008/2014) linearisation, as irrCAC does (t with n-1 df).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.coding import Coded, FloatArray
from medreview.stats.common import (
    NO_VARIATION,
    CIOptions,
    boot_fields,
    make_result,
    prepare,
)
from medreview.stats.distributions import t_ppf
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult
from medreview.stats.weights import WEIGHT_LABELS, weight_matrix

Kind = Literal["pa", "fleiss", "gwet", "bp"]
CIMethod = Literal["analytic", "bootstrap"]

MISSING_RULE = ("all available ratings (Gwet 2014): items with >= 2 ratings enter p_a, items "
                "with >= 1 rating enter category prevalence; items without ratings ignored")


_DISTINCT_MIN = 4096  # items from which the features are made per distinct count row


def _features(c: FloatArray, w: FloatArray) -> FloatArray:
    """Per-item additive terms: [p_a,i, 1(r_i>=2), r_ik/r_i (q cols), 1].

    An item's terms are a function of its count row alone, and a table of a few raters has
    only a few distinct rows (1.4M items, three raters, two categories: at most ten), so
    big tables compute them once per distinct row and copy them out by row: the same
    numbers (integer counts, one division per term), a fraction of the passes."""
    distinct = _distinct_rows(c) if c.shape[0] >= _DISTINCT_MIN else None
    if distinct is None:
        return _row_features(c, w)
    rows, which = distinct
    out: FloatArray = _row_features(rows, w).take(which, axis=0)
    return out


def _distinct_rows(c: FloatArray) -> tuple[FloatArray, Any] | None:
    """``(rows, which)`` with ``c == rows[which]``, for a matrix of non-negative integer
    counts whose rows fit one int64 key (else None: the caller works row by row). Each row
    is keyed as a number in base ``max + 1``, the keys factorised by a hash pass and
    decoded back into the distinct rows."""
    import pandas as pd

    q = c.shape[1]
    if q == 0 or not np.isfinite(c).all():
        return None
    ci = c.astype(np.int64)
    if not np.array_equal(ci, c) or int(ci.min()) < 0:
        return None
    base = int(ci.max()) + 1
    if q * math.log2(base) >= 62:  # (keys past int64)
        return None
    key = ci[:, 0].copy()
    for k in range(1, q):
        key += ci[:, k] * base**k
    which, uniq = pd.factorize(key)
    uniq = np.asarray(uniq, dtype=np.int64)
    rows = np.empty((uniq.size, q))
    for k in range(q):
        rows[:, k] = (uniq // base**k) % base
    return rows, which


def _row_features(c: FloatArray, w: FloatArray) -> FloatArray:
    """``_features`` item by item."""
    r = c.sum(axis=1)
    # r*_ik = sum_l w_kl r_il; identity weights (the common case) need no product.
    if np.array_equal(w, np.eye(w.shape[0])):
        num = np.einsum("uk,uk->u", c, c) - r
    else:
        num = np.einsum("uk,lk,ul->u", c, w, c, optimize=False) - r
    den = r * (r - 1.0)
    has2 = r >= 2
    pa_i = np.zeros_like(r)
    np.divide(num, den, out=pa_i, where=has2)
    q = c.shape[1]
    f = np.empty((c.shape[0], q + 3))
    f[:, 0] = pa_i
    f[:, 1] = has2
    f[:, 2:2 + q] = c / r[:, None]
    f[:, -1] = 1.0
    return f


def _cached_features(coded: Coded, c: FloatArray, w: FloatArray) -> FloatArray:
    """``_features(c, w)`` kept on ``coded`` for its latest weights: a panel's percent
    agreement, Fleiss, Gwet and Brennan-Prediger rows share them (unweighted)."""
    key = w.tobytes()
    hit = coded.__dict__.get("_features")
    if hit is None or hit[0] != key:
        feats = _features(c, w)
        feats.setflags(write=False)
        hit = (key, feats)
        object.__setattr__(coded, "_features", hit)
    out: FloatArray = hit[1]
    return out


def _feature_sums(coded: Coded, feats: FloatArray) -> FloatArray:
    """``feats.sum(axis=0)``, kept on ``coded`` for the cached (read-only) ``feats``: the
    four coefficients of a panel sum the same features."""
    hit = coded.__dict__.get("_feature_sums")
    if hit is None or hit[0] is not feats:
        sums: FloatArray = feats.sum(axis=0)
        if feats.flags.writeable:  # (not the cached array: nothing to share)
            return sums
        sums.setflags(write=False)
        hit = (feats, sums)
        object.__setattr__(coded, "_feature_sums", hit)
    out: FloatArray = hit[1]
    return out


def _pe(kind: Kind, pi: FloatArray, w: FloatArray) -> FloatArray:
    """Chance agreement for each row of ``pi`` (shape (..., q))."""
    q = w.shape[0]
    if kind == "fleiss":
        out: FloatArray = np.einsum("...k,kl,...l->...", pi, w, pi)
        return out
    if kind == "gwet":
        g: FloatArray = w.sum() / (q * (q - 1)) * (pi * (1.0 - pi)).sum(axis=-1)
        return g
    if kind == "bp":
        return np.full(pi.shape[:-1], w.sum() / q**2)
    return np.zeros(pi.shape[:-1])


def _finalizer(kind: Kind, w: FloatArray) -> Any:
    q = w.shape[0]

    def fin(s: FloatArray) -> FloatArray:
        pa = s[:, 0] / s[:, 1]
        if kind == "pa":
            return pa
        pi = s[:, 2:2 + q] / s[:, -1:]
        pe = _pe(kind, pi, w)
        out: FloatArray = (pa - pe) / (1.0 - pe)
        return out

    return fin


def _linearised_se(kind: Kind, c: FloatArray, w: FloatArray, pi: FloatArray, pa: float,
                   pe: float, coef: float) -> float:
    """Gwet's linearisation variance (irrCAC's formulas; no finite-population correction)."""
    n = c.shape[0]
    r = c.sum(axis=1)
    has2 = r >= 2
    n2 = int(has2.sum())
    cw = c @ w.T
    num = (c * (cw - 1.0)).sum(axis=1)
    den = r * (r - 1.0)
    pa_i = np.where(has2, num / np.where(has2, den, 1.0), 0.0)
    coef_i = (n / n2) * (pa_i - pe * has2) / (1.0 - pe)
    q = w.shape[0]
    if kind == "gwet":
        pe_i = w.sum() / (q * (q - 1)) * (c @ (1.0 - pi)) / r
        coef_i = coef_i - 2.0 * (1.0 - coef) * (pe_i - pe) / (1.0 - pe)
    elif kind == "fleiss":
        pi_w = (w @ pi + w.T @ pi) / 2.0
        pe_i = (c @ pi_w) / r
        coef_i = coef_i - 2.0 * (1.0 - coef) * (pe_i - pe) / (1.0 - pe)
    var = float(((coef_i - coef) ** 2).sum() / (n * (n - 1)))
    return math.sqrt(max(var, 0.0))


_NAMES = {"pa": "Percent agreement (mean pairwise)", "fleiss": "Fleiss' kappa",
          "gwet": "Gwet AC", "bp": "Brennan-Prediger kappa"}


def _method_name(kind: Kind, wname: str) -> str:
    if kind == "gwet":
        return "Gwet AC1" if wname == "identity" else f"Gwet AC2 ({WEIGHT_LABELS[wname]})"
    base = _NAMES[kind]
    return base if wname == "identity" else f"{base} ({WEIGHT_LABELS[wname]})"


def gwet_family(coded: Coded, kind: Kind, weights: Any, opts: CIOptions,
                ci_method: CIMethod = "analytic", method_suffix: str = "") -> AgreementResult:
    """Compute one coefficient of the family from coded ratings (shared by the panel)."""
    w, wname = weight_matrix(weights, coded.values)
    c_all = coded.counts()
    nonempty = coded.rated_items()  # (= a positive count: integers)
    c = c_all if nonempty.all() else c_all[nonempty]
    q = coded.q
    method = _method_name(kind, wname) + method_suffix
    n_items = int(c.shape[0])
    if kind != "pa" and q < 2:
        why = ("undefined: only one category" +
               (" observed and no category list declared (pass categories=)"
                if coded.inferred else " declared"))
        return make_result(value=math.nan, coded=coded, method=method,
                           missing_rule=MISSING_RULE, n_items=n_items, note=why)
    feats = _cached_features(coded, c, w)
    fin = _finalizer(kind, w)
    sums = _feature_sums(coded, feats)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(fin(sums[None, :])[0])
    pa = float(sums[0] / sums[1])
    pi = sums[2:2 + q] / sums[-1]
    pe = float(_pe(kind, pi[None, :], w)[0]) if kind != "pa" else 0.0
    details = {"p_a": pa, "n_items_paired": float(sums[1])}
    if kind != "pa":
        details["p_e"] = pe
    note = ""
    if kind != "pa" and pe >= 1.0 - 1e-12:
        return make_result(value=math.nan, coded=coded, method=method,
                           missing_rule=MISSING_RULE, n_items=n_items, note=NO_VARIATION,
                           details=details)
    ci_fields: dict[str, Any] = {}
    se: float | None = None
    if opts.ci:
        if ci_method == "analytic" and kind != "pa":
            if n_items < 2:
                ci_fields = {"note_ci": "no CI: fewer than 2 items"}
            else:
                se = _linearised_se(kind, c, w, pi, pa, pe, value)
                t = t_ppf(0.5 + opts.level / 2.0, n_items - 1)
                ci_fields = {"ci": (value - t * se, min(1.0, value + t * se)),
                             "ci_method": (f"Gwet linearisation SE, t with {n_items - 1} df "
                                           "(irrCAC convention), upper limit capped at 1")}
        else:
            ci_fields = boot_fields(feats, fin, opts)
    return make_result(value=value, coded=coded, method=method, missing_rule=MISSING_RULE,
                       n_items=n_items, note=note, ci_fields=ci_fields, se=se,
                       details=details)


def percent_agreement(ratings: Any, *, categories: Sequence[Any] | None = None,
                      weights: Any = None, ci: bool = True,
                      n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                      level: float = 0.95) -> AgreementResult:
    """Mean pairwise agreement p_a (Fleiss' P-bar generalised to missing data)."""
    coded = prepare(ratings, categories, what="percent agreement")
    return gwet_family(coded, "pa", weights, CIOptions(ci, n_resamples, seed, level),
                       ci_method="bootstrap")


def fleiss_kappa(ratings: Any, *, categories: Sequence[Any] | None = None,
                 weights: Any = None, allow_unequal: bool = False, ci: bool = True,
                 ci_method: CIMethod = "analytic", n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED, level: float = 0.95) -> AgreementResult:
    """Fleiss' kappa. Needs the same number of ratings on every rated item unless
    ``allow_unequal=True``, which uses Gwet's generalisation (all available ratings)."""
    coded = prepare(ratings, categories, what="Fleiss' kappa")
    per_item = (coded.codes >= 0).sum(axis=1)
    counts = set(per_item[per_item > 0].tolist())
    suffix = ""
    if len(counts) > 1:
        if not allow_unequal:
            raise StatsError(
                "Fleiss' kappa needs the same number of ratings on every item; found "
                f"{sorted(counts)} ratings per item. Use allow_unequal=True (Gwet's "
                "generalisation), gwet_ac or krippendorff_alpha", item="ratings")
        suffix = ", Gwet generalisation for unequal ratings per item"
    return gwet_family(coded, "fleiss", weights, CIOptions(ci, n_resamples, seed, level),
                       ci_method, method_suffix=suffix)


def gwet_ac(ratings: Any, *, categories: Sequence[Any] | None = None, weights: Any = None,
            ci: bool = True, ci_method: CIMethod = "analytic",
            n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
            level: float = 0.95) -> AgreementResult:
    """Gwet's AC1 (unweighted) or AC2 (weights "linear" | "quadratic" | "ordinal" | ...)."""
    coded = prepare(ratings, categories, what="Gwet's AC")
    return gwet_family(coded, "gwet", weights, CIOptions(ci, n_resamples, seed, level),
                       ci_method)


def brennan_prediger(ratings: Any, *, categories: Sequence[Any] | None = None,
                     weights: Any = None, ci: bool = True, ci_method: CIMethod = "analytic",
                     n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                     level: float = 0.95) -> AgreementResult:
    """Brennan-Prediger coefficient (p_e = T_w / q^2 with the declared q)."""
    coded = prepare(ratings, categories, what="Brennan-Prediger")
    return gwet_family(coded, "bp", weights, CIOptions(ci, n_resamples, seed, level),
                       ci_method)
