"""Krippendorff's alpha (nominal, ordinal, interval, ratio) with missing data.

From the coincidence matrix o_ck = sum_u (r_uc r_uk - [c=k] r_uc) / (m_u - 1) over units with
m_u >= 2 values (Krippendorff 2011; notes §2.4): alpha = 1 - (n - 1) sum o_ck d_ck /
sum n_c n_k d_ck. The ordinal metric is Krippendorff's rank-based one on pooled frequencies,
which is a different quantity from Gwet's "ordinal weights" (gwet_ac(weights="ordinal")).
CIs: percentile bootstrap over units (per-unit coincidence contributions re-summed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.coding import Coded, FloatArray
from medreview.stats.common import CIOptions, boot_fields, make_result, prepare
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

MISSING_RULE = ("all pairable values: units with >= 2 ratings contribute, units with fewer "
                "are ignored (Krippendorff)")
UNDEFINED = "undefined: no variation (a single value in the pairable data, D_e = 0)"


def _delta(level: Level, values: FloatArray) -> FloatArray:
    d = values[:, None] - values[None, :]
    if level == "nominal":
        nom: FloatArray = (d != 0).astype(np.float64)
        return nom
    if level == "interval":
        sq: FloatArray = d**2
        return sq
    s = values[:, None] + values[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(s == 0, 0.0, (d / np.where(s == 0, 1.0, s)) ** 2)
    return out


def _ordinal_delta(n_c: FloatArray) -> FloatArray:
    """Rows of Krippendorff ordinal distances for each row of pooled frequencies n_c.

    (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 = (R_k - R_c)^2 with mid-ranks R_c = N_{c-1} + n_c/2.
    """
    cum = np.cumsum(n_c, axis=-1)
    mid = cum - n_c / 2.0
    out: FloatArray = (mid[..., :, None] - mid[..., None, :]) ** 2
    return out


def _alpha_point(c: FloatArray, level: Level, values: FloatArray) -> float:
    """Alpha without bootstrap features: weighted sums over all units, no row filtering.

    Units with fewer than 2 values get weight 0 instead of being copied out; the pairable
    totals are matrix-vector products. At 100k x 5 this halves the time of the feature path.
    """
    m = c @ np.ones(c.shape[1])
    keep = m >= 2
    inv = np.zeros_like(m)
    np.divide(1.0, m - 1.0, out=inv, where=keep)
    n_c = keep.astype(np.float64) @ c
    n = float(n_c.sum())
    if level == "nominal":
        delta = _delta(level, values)
        # sum_{c != k} r_c r_k = m^2 - sum_c r_c^2 (zero for units with < 2 values).
        do = float(inv @ (m * m - np.einsum("uc,uc->u", c, c)))
    elif level == "interval":
        delta = _delta(level, values)
        # sum_ck r_c r_k (v_c - v_k)^2 = 2 (m sum r v^2 - (sum r v)^2).
        s1 = c @ values
        s2 = c @ (values * values)
        do = 2.0 * float(inv @ (m * s2 - s1 * s1))
    else:
        delta = _ordinal_delta(n_c) if level == "ordinal" else _delta(level, values)
        gram = (c * inv[:, None]).T @ c  # sum_u r_uc r_uk / (m_u - 1)
        o = gram - np.diag(c.T @ inv)
        do = float((o * delta).sum())
    de = float(n_c @ delta @ n_c)
    return 1.0 - (n - 1.0) * do / de if de > 0 else math.nan


def alpha_from_counts(c: FloatArray, level: Level, values: FloatArray,
                      want_features: bool) -> tuple[float, FloatArray | None, Any]:
    """Alpha from a unit x category count matrix; optionally per-unit bootstrap features."""
    if not want_features:
        return _alpha_point(c, level, values), None, None
    m = c.sum(axis=1)
    keep = m >= 2
    cp = c[keep]
    mp = m[keep]
    q = c.shape[1]
    inv = 1.0 / (mp - 1.0)
    if level == "ordinal":
        n_c = cp.sum(axis=0)
        o = (cp * inv[:, None]).T @ cp - np.diag((cp * inv[:, None]).sum(axis=0))
        delta = _ordinal_delta(n_c)
        n = n_c.sum()
        de = float(n_c @ delta @ n_c)
        value = 1.0 - (n - 1.0) * float((o * delta).sum()) / de if de > 0 else math.nan
        feats = None
        if want_features:
            outer = np.einsum("uc,uk->uck", cp, cp) * inv[:, None, None]
            idx = np.arange(q)
            outer[:, idx, idx] -= cp * inv[:, None]
            feats = outer.reshape(cp.shape[0], q * q)

        def fin(s: FloatArray) -> FloatArray:
            oo = s.reshape(-1, q, q)
            nc = oo.sum(axis=2)
            dl = _ordinal_delta(nc)
            num = (oo * dl).sum(axis=(1, 2))
            den = np.einsum("bc,bck,bk->b", nc, dl, nc)
            out: FloatArray = 1.0 - (nc.sum(axis=1) - 1.0) * num / den
            return out

        return value, feats, fin

    delta = _delta(level, values)
    if level == "nominal":
        # sum_{c != k} r_c r_k = m^2 - sum_c r_c^2: no q x q product needed.
        d_u = (mp * mp - np.einsum("uc,uc->u", cp, cp)) * inv
    else:
        # einsum rather than a BLAS call: q is small and BLAS thread start-up dominates.
        d_u = np.einsum("uc,ck,uk->u", cp, delta, cp, optimize=False) * inv
    n_c = cp.sum(axis=0)
    n = n_c.sum()
    de = float(n_c @ delta @ n_c)
    value = 1.0 - (n - 1.0) * float(d_u.sum()) / de if de > 0 else math.nan
    feats = np.column_stack([d_u, cp]) if want_features else None

    def fin_fixed(s: FloatArray) -> FloatArray:
        nc = s[:, 1:]
        den = np.einsum("bc,ck,bk->b", nc, delta, nc)
        out: FloatArray = 1.0 - (nc.sum(axis=1) - 1.0) * s[:, 0] / den
        return out

    return value, feats, fin_fixed


def alpha_coded(coded: Coded, level: Level, opts: CIOptions) -> AgreementResult:
    if level not in LEVELS:
        raise StatsError(f"unknown level {level!r}; choose one of {LEVELS}", item="level")
    if level in ("interval", "ratio") and not coded.numeric:
        raise StatsError(f"{level} alpha needs numeric category values, got "
                         f"{list(coded.categories)}", item="categories")
    if level == "ordinal" and coded.inferred and not coded.numeric:
        raise StatsError("ordinal alpha on text labels needs the ordered category list "
                         "(pass categories=)", item="categories")
    c = coded.counts()
    value, feats, fin = alpha_from_counts(c, level, coded.values, want_features=opts.ci)
    method = f"Krippendorff's alpha ({level} metric)"
    m = c @ np.ones(c.shape[1])  # matrix-vector: faster than c.sum(axis=1) on 100k rows
    keep = m >= 2
    n_items = int(np.count_nonzero(keep))
    pairable = float(m[keep].sum())
    details = {"n_pairable_values": pairable}
    if math.isnan(value):
        return make_result(value=value, coded=coded, method=method, missing_rule=MISSING_RULE,
                           n_items=n_items, note=UNDEFINED, details=details)
    ci_fields = boot_fields(feats, fin, opts) if opts.ci and feats is not None else {}
    return make_result(value=value, coded=coded, method=method, missing_rule=MISSING_RULE,
                       n_items=n_items, ci_fields=ci_fields, details=details)


def krippendorff_alpha(ratings: Any, level: Level = "nominal", *,
                       categories: Sequence[Any] | None = None, ci: bool = True,
                       n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                       level_ci: float = 0.95) -> AgreementResult:
    """Krippendorff's alpha for any number of raters with missing data (items x raters)."""
    coded = prepare(ratings, categories, what="Krippendorff's alpha")
    return alpha_coded(coded, level, CIOptions(ci, n_resamples, seed, level_ci))
