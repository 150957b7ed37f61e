"""Quantiles of the normal, Student t and F distributions, and rank correlations, in plain Python.

Why not SciPy: these five functions were all the app used of it, and SciPy with its own OpenBLAS
was 67 MB of the 400 MB app bundle that physicians download. The results are the same to about
1e-12 relative (``tests/stats/test_distributions.py`` compares them with ``scipy.stats`` over a grid
of probabilities and degrees of freedom, fractional and huge ones included); SciPy remains a
test-only dependency as that oracle.

Method: the t and F quantiles invert the regularised incomplete beta function (Lentz's continued
fraction, the complement used where it converges faster), bracketing with bisection and polishing
with Newton steps on the side of the interval nearer 0 so that tail quantiles keep their relative
precision. The normal quantile is Acklam's rational approximation refined by Halley steps on
``math.erfc``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_EPS = 1e-16
_TINY = 1e-300


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_cf(x: float, a: float, b: float) -> float:
    """Incomplete beta continued fraction (modified Lentz); converges for x < (a+1)/(a+b+2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    # O(sqrt(max(a, b))) terms are needed; the cap only guards against a non-finite argument.
    for m in range(1, 200_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _betainc(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta I_x(a, b); the continued fraction is evaluated on the side
    where it converges fast (callers only ask for values below the mean, where this is the
    direct one)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_cf(1.0 - x, b, a) / b


def _beta_log_pdf(x: float, a: float, b: float) -> float:
    return (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - _log_beta(a, b)


def _inverse_lower(p: float, a: float, b: float) -> float:
    """x with I_x(a, b) = p where x lies below the mean: Newton steps from the small-x expansion,
    kept inside a shrinking bracket (geometric bisection when a step leaves it), so quantiles far
    in the tail keep their relative precision."""
    lo, hi = 0.0, 1.0
    x = _start(p, a, b)
    for _ in range(500):
        if x <= 0.0:  # the quantile is below the smallest double
            return 0.0
        f = _betainc(x, a, b) - p
        if f == 0.0:
            return x
        if f > 0:
            hi = x
        else:
            lo = x
        # Newton step |f| / pdf in logs: the pdf under- or overflows far in the tails
        log_step = math.log(abs(f)) - _beta_log_pdf(x, a, b)
        new = x - math.copysign(math.exp(min(log_step, 700.0)), f)
        if not lo < new < hi:
            if lo == 0.0:
                new = hi / 16.0
            elif hi > 4.0 * lo:
                new = math.sqrt(lo * hi)
            else:
                new = 0.5 * (lo + hi)
        if abs(new - x) <= 2 * _EPS * new or hi - lo <= 2 * _EPS * hi:
            return new
        x = new
    return x


def _start(p: float, a: float, b: float) -> float:
    """A starting point inside (0, 1) from the small-x expansion I_x ~ x^a / (a B(a, b))."""
    guess = math.exp((math.log(p) + math.log(a) + _log_beta(a, b)) / a)
    return min(guess, 0.5)


def _betaincinv(p: float, a: float, b: float) -> tuple[float, float]:
    """(x, 1 - x) with I_x(a, b) = p, the smaller of the two solved for directly."""
    if p <= 0.0:
        return 0.0, 1.0
    if p >= 1.0:
        return 1.0, 0.0
    x_mid = a / (a + b)
    if _betainc(x_mid, a, b) >= p:  # the solution lies below the mean: solve for x
        x = _inverse_lower(p, a, b)
        return x, 1.0 - x
    y = _inverse_lower(1.0 - p, b, a)  # I_{1-x}(b, a) = 1 - p
    return 1.0 - y, y


def _bad(*values: float) -> bool:
    """Out-of-range arguments give NaN, as in scipy.stats (statistics of degenerate tables
    produce NaN degrees of freedom; they must yield an undefined interval, not an exception)."""
    return any(math.isnan(v) for v in values)


def _bad_p(p: float) -> bool:
    return math.isnan(p) or not 0.0 <= p <= 1.0


def norm_ppf(p: float) -> float:
    """Quantile of the standard normal distribution."""
    p = float(p)
    if _bad_p(p):
        return math.nan
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p > 0.5:
        return -norm_ppf(1.0 - p) if 1.0 - p > 0 else math.inf
    # Acklam's approximation (relative error 1.15e-9) for the lower half ...
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    # ... then Halley steps on the exact CDF (erfc keeps the lower tail precise).
    for _ in range(3):
        e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
        u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
        x = x - u / (1.0 + 0.5 * x * u)
    return x


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` (> 0, may be fractional) degrees of freedom."""
    p, df = float(p), float(df)
    if _bad_p(p) or _bad(df) or df <= 0:
        return math.nan
    if math.isinf(df):
        return norm_ppf(p)
    if p == 0.5:
        return 0.0
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    tail = min(p, 1.0 - p)
    if df > 1e5 and tail > 1e-12:
        return _t_ppf_large_df(p, df)
    # P(|T| > t) = 2 tail = I_{df/(df+t^2)}(df/2, 1/2)
    x, one_minus_x = _betaincinv(2.0 * tail, df / 2.0, 0.5)
    t = math.sqrt(df * one_minus_x / x) if x > 0 else math.inf
    return t if p > 0.5 else -t


def _t_ppf_large_df(p: float, df: float) -> float:
    """Cornish-Fisher expansion of t around the normal quantile (Abramowitz & Stegun 26.7.5):
    the omitted terms are O(z^9 / df^4), below 1e-15 here, where the beta inversion would lose
    digits to the size of its arguments."""
    z = norm_ppf(p)
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def f_ppf(p: float, dfn: float, dfd: float) -> float:
    """Quantile of the F distribution with ``dfn`` and ``dfd`` (> 0) degrees of freedom."""
    p, dfn, dfd = float(p), float(dfn), float(dfd)
    if _bad_p(p) or _bad(dfn, dfd) or dfn <= 0 or dfd <= 0 or math.isinf(dfn) or math.isinf(dfd):
        return math.nan  # scipy.stats gives NaN for infinite F degrees of freedom too
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return math.inf
    # P(F <= f) = I_{dfn f / (dfn f + dfd)}(dfn/2, dfd/2)
    x, one_minus_x = _betaincinv(p, dfn / 2.0, dfd / 2.0)
    return math.inf if one_minus_x <= 0 else dfd * x / (dfn * one_minus_x)


# --- rank correlations -------------------------------------------------------------------------


# Few distinct values (ordinal scales, rubric scores): ranks and pair counts from a count
# table instead of sorts. Every count is an integer, so the results are the same numbers.
_TABLE_CELLS = 4_000_000
_INT_RANGE = 100_000


def _dense_codes(v: np.ndarray[Any, np.dtype[np.float64]]
                 ) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int] | None:
    """Codes 0..k-1 in the order of the values (equal values, equal code), or None when the
    values are many, or not all finite."""
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    if hi - lo <= _INT_RANGE and bool(np.all(v == np.floor(v))):
        return (v - lo).astype(np.int64), int(hi - lo) + 1
    import pandas as pd

    # (a hash pass, then a sort of the distinct values only: ``np.unique`` sorted all of
    # them, 2.7M pairs of a score at 1M judgments; ``+ 0.0`` makes -0.0 the 0.0 it equals)
    inv, uniq = pd.factorize(v.reshape(-1) + 0.0, sort=True)
    if uniq.size > _TABLE_CELLS // 64:
        return None  # nearly continuous: the sort-based path
    return inv.astype(np.int64), int(uniq.size)


def _average_ranks(v: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    v = np.asarray(v, dtype=np.float64)
    dense = _dense_codes(v)
    if dense is not None:
        codes, k = dense
        counts = np.bincount(codes, minlength=k)
        ends_ = np.cumsum(counts)
        starts_ = ends_ - counts
        mean_rank_ = (starts_ + ends_ - 1) / 2.0 + 1.0
        out: np.ndarray[Any, np.dtype[np.float64]] = mean_rank_[codes]
        return out
    order = np.argsort(v, kind="mergesort")
    sv = v[order]
    new_group = np.r_[True, sv[1:] != sv[:-1]]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], sv.size]
    mean_rank = (starts + ends - 1) / 2.0 + 1.0  # 1-based average rank of each tie group
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman_rho(a: Any, b: Any) -> float:
    """Spearman's rho: Pearson's r of the average ranks (NaN when either side is constant)."""
    ra, rb = _average_ranks(a), _average_ranks(b)
    if ra.size < 2:
        return math.nan
    da, db = ra - ra.mean(), rb - rb.mean()
    # einsum, not ``@``: a BLAS dot product of 100k+ values starts OpenBLAS's threads, whose
    # spinning cost more CPU than the products on a busy two-core machine.
    den = math.sqrt(float(np.einsum("i,i->", da, da)) * float(np.einsum("i,i->", db, db)))
    return float(np.einsum("i,i->", da, db)) / den if den > 0 else math.nan


def _pairs_tied(v: np.ndarray[Any, np.dtype[Any]]) -> float:
    _, counts = np.unique(v, return_counts=True)
    c = counts.astype(np.float64)
    return float((c * (c - 1.0) / 2.0).sum())


def _discordant_pairs(y: np.ndarray[Any, np.dtype[np.int64]]) -> int:
    """Pairs i < j with y[i] > y[j] (inversions), by a bottom-up merge sort whose every level is
    one vectorised search and sort: O(n log^2 n), no Python loop over items."""
    n = y.size
    m = int(y.max()) + 1 if n else 1
    arr = y.astype(np.int64)
    idx = np.arange(n, dtype=np.int64)
    inversions = 0
    w = 1
    while w < n:
        blk = idx // (2 * w)
        right = ((idx // w) % 2).astype(bool)
        left_keys = blk[~right] * m + arr[~right]  # each left run is sorted, runs in block order
        rk_blk = blk[right]
        pos = np.searchsorted(left_keys, rk_blk * m + arr[right], side="right")
        end = np.searchsorted(left_keys, (rk_blk + 1) * m, side="left")
        inversions += int((end - pos).sum())
        arr = np.sort(blk * m + arr) - blk * m  # merge: runs of 2w, blocks keep their order
        w *= 2
    return inversions


def kendall_tau_b(a: Any, b: Any) -> float:
    """Kendall's tau-b (ties in either variable corrected), as scipy.stats.kendalltau.

    Knight's method: order the pairs by x then y; the discordant pairs are the inversions left
    in y, counted by a vectorised merge sort."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    n = x.size
    if n < 2:
        return math.nan
    dx, dy = _dense_codes(x), _dense_codes(y)
    if dx is not None and dy is not None and dx[1] * dy[1] <= _TABLE_CELLS:
        return _tau_b_table(n, *dx, *dy)
    order = np.lexsort((y, x))
    _, y_rank = np.unique(y, return_inverse=True)
    discordant = _discordant_pairs(y_rank.reshape(-1)[order].astype(np.int64))
    n0 = n * (n - 1) / 2.0
    n1, n2 = _pairs_tied(x), _pairs_tied(y)
    xs, ys = x[order], y[order]
    starts = np.flatnonzero(np.r_[True, (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])])
    run = np.diff(np.r_[starts, n]).astype(np.float64)
    both = float((run * (run - 1.0) / 2.0).sum())  # pairs tied in x and in y
    s = (n0 - n1 - n2 + both) - 2.0 * discordant
    den = math.sqrt((n0 - n1) * (n0 - n2))
    return s / den if den > 0 else math.nan


def _half_pairs(c: np.ndarray[Any, np.dtype[Any]]) -> float:
    c = c.astype(np.float64)
    return float((c * (c - 1.0) / 2.0).sum())


def _tau_b_table(n: int, cx: np.ndarray[Any, np.dtype[np.int64]], kx: int,
                 cy: np.ndarray[Any, np.dtype[np.int64]], ky: int) -> float:
    """``kendall_tau_b`` from the kx x ky count table of the value codes: discordant pairs are
    cell counts times the counts below and to the left of the cell."""
    t = np.bincount(cx * ky + cy, minlength=kx * ky).reshape(kx, ky)
    below = np.zeros_like(t)  # pairs partners: larger x ...
    below[:-1] = t[::-1].cumsum(axis=0)[::-1][1:]
    left = np.zeros_like(t)  # ... and smaller y
    left[:, 1:] = below.cumsum(axis=1)[:, :-1]
    discordant = int((t * left).sum())
    n0 = n * (n - 1) / 2.0
    n1, n2 = _half_pairs(t.sum(axis=1)), _half_pairs(t.sum(axis=0))
    both = _half_pairs(t.ravel())
    s = (n0 - n1 - n2 + both) - 2.0 * discordant
    den = math.sqrt((n0 - n1) * (n0 - n2))
    return s / den if den > 0 else math.nan
