"""Conger's kappa and Light's kappa for many raters with missing ratings.

Both keep rater identity (unlike Fleiss' kappa, which treats raters as exchangeable):

- **Conger (1980)**, as irrCAC's ``conger.raw`` computes it: p_a is Fleiss'/Gwet's mean pairwise
  agreement over items with >= 2 ratings; p_e = sum_kl w_kl (pbar_k pbar_l - s2_kl / r), where
  p_gk is rater g's category distribution over the items g rated, pbar_k its mean over the r
  raters and s2_kl the between-rater covariance. That p_e is the mean over ordered rater pairs
  of Cohen-type chance agreement. SE: Gwet's linearisation (irrCAC), t with n - 1 df.
- **Light (1971)**: the mean of the pairwise Cohen kappas, each pair on the items both raters
  rated (pairwise complete; ``irr::kappam.light`` deletes listwise instead). Pairs whose kappa is
  undefined (no shared item, or no variation) are left out of the mean and counted. CI:
  percentile bootstrap over items.

Raters with no rating at all are ignored (irrCAC returns NaN for them), items with no rating too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from medreview.stats.chance import CIMethod, _cached_features
from medreview.stats.coding import Coded, FloatArray, IntArray
from medreview.stats.common import NO_VARIATION, CIOptions, boot_fields, make_result, prepare
from medreview.stats.distributions import t_ppf
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult
from medreview.stats.weights import WEIGHT_LABELS, weight_matrix

CONGER_RULE = ("all available ratings: items with >= 2 ratings enter p_a, each rater's "
               "category distribution uses the items that rater rated; raters and items "
               "without ratings ignored")
LIGHT_RULE = "pairwise complete: each rater pair's kappa uses the items both rated"


def _active(coded: Coded) -> IntArray:
    """Codes restricted to items with a rating and raters with a rating."""
    codes = coded.codes
    items, raters = coded.rated_items(), coded.rated_raters()
    out: IntArray = (codes if items.all() else codes[items])
    if not raters.all():
        out = out[:, raters]
    elif out is codes:
        out = codes.copy()  # (callers may write to it, as to the selections before)
    return out


def _onehot(codes: IntArray, q: int) -> FloatArray:
    """n x r x q indicator of each rating (all zero where missing)."""
    n, r = codes.shape
    out = np.zeros((n, r, q))
    ii, gg = np.nonzero(codes >= 0)
    out[ii, gg, codes[ii, gg]] = 1.0
    return out


def _conger_pe(classif: FloatArray, w: FloatArray) -> FloatArray:
    """p_e for each stack of r x q rater-by-category counts (shape (..., r, q))."""
    r = classif.shape[-2]
    p = classif / classif.sum(axis=-1, keepdims=True)
    tot = p.sum(axis=-2)
    # sum_kl w_kl (pbar_k pbar_l - s2_kl / r) = sum over ordered pairs g != h of p_g' w p_h,
    # divided by r (r - 1).
    cross = np.einsum("...k,kl,...l->...", tot, w, tot) - np.einsum(
        "...gk,kl,...gl->...", p, w, p)
    out: FloatArray = cross / (r * (r - 1))
    return out


def _conger_se(codes: IntArray, w: FloatArray, pa_i: FloatArray, has2: FloatArray,
               classif: FloatArray, pe: float, coef: float) -> float:
    """Gwet's linearisation variance of Conger's kappa (irrCAC ``conger``), vectorised.

    lambda_ig = (n / n_g) [E_ig M_g,x_ig - (E_ig - n_g / n) beta_g] with C = r pbar - p_g,
    M = C w, beta_g = sum_k (p_g w')_k C_gk; pe_i = sum_g lambda_ig / (r (r - 1)).
    """
    n, r = codes.shape
    rated = codes >= 0
    ng = classif.sum(axis=1)
    p = classif / ng[:, None]
    c = p.sum(axis=0)[None, :] - p
    m = c @ w
    beta = ((p @ w.T) * c).sum(axis=1)
    picked = np.take_along_axis(m.T, np.where(rated, codes, 0), axis=0)  # n x r: M[g, x_ig]
    e = rated.astype(np.float64)
    lam = (n / ng)[None, :] * (e * picked - (e - ng[None, :] / n) * beta[None, :])
    pe_i = lam.sum(axis=1) / (r * (r - 1))
    n2 = float(has2.sum())
    coef_i = (n / n2) * (pa_i - pe * has2) / (1.0 - pe)
    coef_i = coef_i - 2.0 * (1.0 - coef) * (pe_i - pe) / (1.0 - pe)
    var = float(((coef_i - coef) ** 2).sum() / (n * (n - 1)))
    return math.sqrt(max(var, 0.0))


def conger_coded(coded: Coded, weights: Any, opts: CIOptions,
                 ci_method: CIMethod = "analytic") -> AgreementResult:
    w, wname = weight_matrix(weights, coded.values)
    method = "Conger's kappa" if wname == "identity" else \
        f"Conger's kappa ({WEIGHT_LABELS[wname]})"
    codes = _active(coded)
    n, r = codes.shape
    q = coded.q
    if q < 2:
        why = ("undefined: only one category" +
               (" observed and no category list declared (pass categories=)"
                if coded.inferred else " declared"))
        return make_result(value=math.nan, coded=coded, method=method,
                           missing_rule=CONGER_RULE, n_items=n, note=why)
    c_all = coded.counts()
    nonempty = coded.rated_items()  # (= a positive count)
    counts = c_all if nonempty.all() else c_all[nonempty]
    # (the same rows as the panel's chance family: its features, if made for these weights)
    feats_pa = _cached_features(coded, counts, w)
    pa_i, has2 = feats_pa[:, 0], feats_pa[:, 1]
    pa = float(pa_i.sum() / has2.sum())
    classif = np.zeros((r, q))  # per rater and category, how often (column by column)
    for i in range(r):
        col = codes[:, i]
        classif[i] = np.bincount(col[col >= 0], minlength=q)
    pe = float(_conger_pe(classif, w))
    details = {"p_a": pa, "p_e": pe, "n_items_paired": float(has2.sum())}
    if pe >= 1.0 - 1e-12:
        return make_result(value=math.nan, coded=coded, method=method,
                           missing_rule=CONGER_RULE, n_items=n, note=NO_VARIATION,
                           details=details)
    value = (pa - pe) / (1.0 - pe)
    ci_fields: dict[str, Any] = {}
    se: float | None = None
    if opts.ci:
        if ci_method == "analytic":
            if n < 2:
                ci_fields = {"note_ci": "no CI: fewer than 2 items"}
            else:
                se = _conger_se(codes, w, pa_i, has2, classif, pe, value)
                t = t_ppf(0.5 + opts.level / 2.0, n - 1)
                ci_fields = {"ci": (value - t * se, min(1.0, value + t * se)),
                             "ci_method": (f"Gwet linearisation SE, t with {n - 1} df "
                                           "(irrCAC convention), upper limit capped at 1")}
        else:
            feats = np.column_stack([pa_i, has2, _onehot(codes, q).reshape(n, r * q)])

            def fin(s: FloatArray) -> FloatArray:
                pa_b = s[:, 0] / s[:, 1]
                pe_b = _conger_pe(s[:, 2:].reshape(-1, r, q), w)
                out: FloatArray = (pa_b - pe_b) / (1.0 - pe_b)
                return out

            ci_fields = boot_fields(feats, fin, opts)
    return make_result(value=value, coded=coded, method=method, missing_rule=CONGER_RULE,
                       n_items=n, ci_fields=ci_fields, se=se, details=details)


def _pair_features(codes: IntArray, w: FloatArray, q: int) -> FloatArray:
    """Per item and rater pair: [both rated, w at the cell, row one-hot (q), col one-hot (q)]."""
    n, r = codes.shape
    pairs = list(combinations(range(r), 2))
    f = np.zeros((n, len(pairs), 2 * q + 2))
    rows = np.arange(n)
    for j, (a, b) in enumerate(pairs):
        xa, xb = codes[:, a], codes[:, b]
        both = (xa >= 0) & (xb >= 0)
        ia, ib = np.where(both, xa, 0), np.where(both, xb, 0)
        f[:, j, 0] = both
        f[:, j, 1] = np.where(both, w[ia, ib], 0.0)
        f[rows[both], j, 2 + ia[both]] = 1.0
        f[rows[both], j, 2 + q + ib[both]] = 1.0
    return f


def _pair_sums(codes: IntArray, w: FloatArray, q: int) -> FloatArray:
    """``_pair_features`` summed over items, from one q x q table per pair (no n x pairs array)."""
    r = codes.shape[1]
    pairs = list(combinations(range(r), 2))
    out = np.zeros((len(pairs), 2 * q + 2))
    for j, (a, b) in enumerate(pairs):
        xa, xb = codes[:, a], codes[:, b]
        both = (xa >= 0) & (xb >= 0)
        table = np.bincount(xa[both] * q + xb[both], minlength=q * q).reshape(q, q)
        out[j, 0] = table.sum()
        out[j, 1] = float((w * table).sum())
        out[j, 2:2 + q] = table.sum(axis=1)
        out[j, 2 + q:] = table.sum(axis=0)
    return out


def _pair_kappas(s: FloatArray, w: FloatArray, q: int) -> FloatArray:
    """Kappa per (replicate, pair) from summed pair features (NaN where undefined)."""
    nb = s[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        po = s[..., 1] / nb
        pr = s[..., 2:2 + q] / nb[..., None]
        pc = s[..., 2 + q:] / nb[..., None]
        pe = np.einsum("...k,kl,...l->...", pr, w, pc)
        k = (po - pe) / (1.0 - pe)
    out: FloatArray = np.where((nb > 0) & (pe < 1.0 - 1e-12), k, np.nan)
    return out


def light_coded(coded: Coded, weights: Any, opts: CIOptions) -> AgreementResult:
    w, wname = weight_matrix(weights, coded.values)
    method = "Light's kappa (mean pairwise Cohen's kappa)" if wname == "identity" else \
        f"Light's kappa (mean pairwise Cohen's kappa, {WEIGHT_LABELS[wname]})"
    codes = _active(coded)
    n = codes.shape[0]
    q = coded.q
    kappas = _pair_kappas(_pair_sums(codes, w, q), w, q)
    defined = ~np.isnan(kappas)
    n_pairs = int(kappas.size)
    n_items = int(((codes >= 0).sum(axis=1) >= 2).sum())
    details = {"n_rater_pairs": float(n_pairs), "n_rater_pairs_used": float(defined.sum())}
    if defined.any():
        details.update(pair_kappa_min=float(kappas[defined].min()),
                       pair_kappa_max=float(kappas[defined].max()))
    note = ""
    if not defined.all():
        note = (f"{n_pairs - int(defined.sum())} of {n_pairs} rater pairs left out "
                "(no item rated by both, or no variation)")
    if not defined.any():
        return make_result(value=math.nan, coded=coded, method=method, missing_rule=LIGHT_RULE,
                           n_items=n_items, note="undefined: no rater pair has a defined kappa"
                           " (no item rated by both, or no variation)", details=details)
    value = float(kappas[defined].mean())
    ci_fields: dict[str, Any] = {}
    if opts.ci:
        feats = _pair_features(codes, w, q)
        npairs, width = feats.shape[1], feats.shape[2]

        def fin(s: FloatArray) -> FloatArray:
            kb = _pair_kappas(s.reshape(-1, npairs, width), w, q)
            ok = ~np.isnan(kb)
            cnt = ok.sum(axis=1)
            tot = np.where(ok, kb, 0.0).sum(axis=1)
            out: FloatArray = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
            return out

        ci_fields = boot_fields(feats.reshape(n, npairs * width), fin, opts)
    return make_result(value=value, coded=coded, method=method, missing_rule=LIGHT_RULE,
                       n_items=n_items, note=note, ci_fields=ci_fields, details=details)


def conger_kappa(ratings: Any, *, categories: Sequence[Any] | None = None, weights: Any = None,
                 ci: bool = True, ci_method: CIMethod = "analytic",
                 n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = 0.95) -> AgreementResult:
    """Conger's kappa (items x raters, missing allowed); weights as for ``gwet_ac``."""
    coded = prepare(ratings, categories, what="Conger's kappa")
    return conger_coded(coded, weights, CIOptions(ci, n_resamples, seed, level), ci_method)


def light_kappa(ratings: Any, *, categories: Sequence[Any] | None = None, weights: Any = None,
                ci: bool = True, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                level: float = 0.95) -> AgreementResult:
    """Light's kappa: mean of pairwise Cohen's kappas (pairwise complete); bootstrap CI."""
    coded = prepare(ratings, categories, what="Light's kappa")
    return light_coded(coded, weights, CIOptions(ci, n_resamples, seed, level))
