"""ICC from REML variance components: all available ratings, unbalanced designs allowed.

Models (y_ij = rating of item i by rater j; t_i ~ N(0, s2_t), c_j ~ N(0, s2_c), e ~ N(0, s2_e)):

- ICC1 / ICC1k: one-way random, y = mu + t_i + e;
- ICC2 / ICC2k: two-way random (raters crossed with items), y = mu + t_i + c_j + e;
- ICC3 / ICC3k: two-way mixed, rater effects fixed, y = mu_j + t_i + e.

The variance components maximise the restricted (REML) likelihood subject to >= 0. The item
effects are integrated out item by item (V_i = s2_e (I + g_t J)), rater effects through a
k-dimensional Woodbury step, so every likelihood evaluation needs only k x k sufficient
statistics grouped by ratings-per-item: the fit costs O(N) once, then O(k^3) per step whatever
the number of items. On complete balanced data with no component at the 0 boundary, REML equals
the Shrout-Fleiss ANOVA estimates (s2_e = MSE, s2_t = (MSR - MSE)/k, s2_c = (MSC - MSE)/n), so
the ICCs coincide. The k forms use k = number of raters with a rating (the design's panel size).
CI: percentile bootstrap over items (sufficient statistics re-summed, one refit per replicate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.bootstrap import resample_sums
from medreview.stats.coding import FloatArray, encode
from medreview.stats.common import CIOptions, make_result
from medreview.stats.icc_forms import FORM_NAMES
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult

Model = Literal["oneway", "twoway", "mixed"]
FORM_MODEL: dict[str, Model] = {"ICC1": "oneway", "ICC1k": "oneway", "ICC2": "twoway",
                                "ICC2k": "twoway", "ICC3": "mixed", "ICC3k": "mixed"}
MISSING_RULE = ("all available ratings: REML variance components (items with >= 1 rating, "
                "raters with >= 1 rating; unbalanced designs allowed)")


@dataclass(frozen=True)
class Design:
    """Sufficient statistics of a batch of B fits; F = [fixed columns, rater columns?, y]."""

    ff: FloatArray  # B x d x d: sum over ratings of f f'
    sizes: FloatArray  # G distinct ratings-per-item values m
    counts: FloatArray  # B x G: number of items with each m
    grams: FloatArray  # B x G x d x d: sum over items with that m of t t' (t = item sum of f)
    p: int  # fixed-effect columns
    k: int  # random rater columns (0 unless two-way random)

    @property
    def n_obs(self) -> FloatArray:
        out: FloatArray = (self.sizes[None, :] * self.counts).sum(axis=1)
        return out


@dataclass(frozen=True)
class Components:
    s2_t: float
    s2_c: float
    s2_e: float
    reml: float  # -2 log restricted likelihood, up to a constant


@dataclass(frozen=True)
class ItemStats:
    """Per-item building blocks of the sufficient statistics of one model."""

    sizes: FloatArray  # G distinct ratings-per-item values m
    group: Any  # n: index into sizes of each item's m
    f: FloatArray  # n x k x d: design row of each rating (zeros where missing)
    t: FloatArray  # n x d: item sums of the design rows
    p: int  # fixed-effect columns
    k: int  # random rater columns (0 unless two-way random)

    @property
    def d(self) -> int:
        return int(self.t.shape[1])


def item_stats(codes: Any, values: FloatArray, model: Model) -> ItemStats:
    """Design rows F = [fixed columns, rater columns?, y] laid out items x raters."""
    rated = codes >= 0
    n, k = codes.shape
    y = np.where(rated, values[np.where(rated, codes, 0)], 0.0)
    r = rated.astype(np.float64)
    eye = np.broadcast_to(np.eye(k), (n, k, k)) * r[:, :, None]
    if model == "oneway":
        f, p, kc = np.stack([r, y], axis=2), 1, 0
    elif model == "twoway":
        f, p, kc = np.concatenate([r[:, :, None], eye, y[:, :, None]], axis=2), 1, k
    else:
        f, p, kc = np.concatenate([eye, y[:, :, None]], axis=2), k, 0
    m = r.sum(axis=1)
    sizes = np.unique(m)
    return ItemStats(sizes, np.searchsorted(sizes, m), f, f.sum(axis=1), p, kc)


def point_design(st: ItemStats) -> Design:
    """The Design of all items (a batch of one)."""
    d = st.d
    flat = st.f.reshape(-1, d)
    grams = np.stack([st.t[st.group == g].T @ st.t[st.group == g]
                      for g in range(st.sizes.size)])
    counts = np.bincount(st.group, minlength=st.sizes.size).astype(np.float64)
    return Design((flat.T @ flat)[None], st.sizes, counts[None], grams[None], st.p, st.k)


def packed_features(st: ItemStats) -> FloatArray:
    """Per item [size one-hot (G), upper(sum_j f f'), upper(t t') in its size block (G x T)]:
    summed over (resampled) items they give a Design (``design_from_packed``)."""
    n, d, g = st.t.shape[0], st.d, st.sizes.size
    iu = np.triu_indices(d)
    tri = len(iu[0])
    out = np.zeros((n, g + tri + g * tri))
    rows = np.arange(n)
    out[rows, st.group] = 1.0
    out[:, g:g + tri] = np.einsum("ija,ijb->iab", st.f, st.f)[:, iu[0], iu[1]]
    tt = (st.t[:, :, None] * st.t[:, None, :])[:, iu[0], iu[1]]
    cols = g + tri + st.group[:, None] * tri + np.arange(tri)[None, :]
    out[rows[:, None], cols] = tt
    return out


def _unpack(tri: FloatArray, d: int) -> FloatArray:
    iu = np.triu_indices(d)
    out = np.zeros((*tri.shape[:-1], d, d))
    out[..., iu[0], iu[1]] = tri
    out[..., iu[1], iu[0]] = tri
    return out


def design_from_packed(st: ItemStats, sums: FloatArray) -> Design:
    """Designs from B rows of summed ``packed_features``."""
    d, g = st.d, st.sizes.size
    tri = d * (d + 1) // 2
    counts = sums[:, :g]
    ff = _unpack(sums[:, g:g + tri], d)
    grams = _unpack(sums[:, g + tri:].reshape(-1, g, tri), d)
    return Design(ff, st.sizes, counts, grams, st.p, st.k)


def neg2_reml(design: Design, g_t: FloatArray, g_c: FloatArray
              ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """-2 log REML (s2_e profiled out), s2_e and the gradient in (g_t, g_c), batched.

    ``design`` holds a batch of B designs (leading axis), ``g_t``/``g_c`` B variance ratios.
    With V0 = V / s2_e = H + g_c Z Z', H = I + g_t (item blocks of ones), P0 the REML projector
    and rss = y' P0 y: f = (N - p) log rss + log|V0| + log|X' V0^-1 X| and
    df/dg = tr(P0 dV0) - (N - p) y' P0 dV0 P0 y / rss, both from the sufficient statistics
    (the item-i sum of P0 y is t_i' a / (1 + m_i g_t) for one vector a). Undefined points give
    f = inf.
    """
    sz, cnt, grams = design.sizes, design.counts, design.grams
    nb = g_t.shape[0]
    h = 1.0 / (1.0 + sz[None, :] * g_t[:, None])
    m = design.ff - np.einsum("bg,bgij->bij", g_t[:, None] * h, grams)
    logdet = (cnt * np.log1p(sz[None, :] * g_t[:, None])).sum(axis=1)
    p, k = design.p, design.k
    d = m.shape[-1]
    xs, zs = slice(0, p), slice(p, p + k)
    q = np.broadcast_to(np.eye(d), (nb, d, d)).copy()
    ainv = np.zeros((nb, k, k))
    if k:
        a = np.eye(k)[None] + g_c[:, None, None] * m[:, zs, zs]
        logdet = logdet + np.linalg.slogdet(a)[1]
        ainv = np.linalg.inv(a)
        q[:, zs, :] -= g_c[:, None, None] * (ainv @ m[:, zs, :])
    mt = m @ q  # F' V0^-1 F (Woodbury over the rater columns)
    mt = (mt + np.swapaxes(mt, 1, 2)) / 2.0
    xx, xy, yy = mt[:, xs, xs], mt[:, xs, -1], mt[:, -1, -1]
    sign, ld = np.linalg.slogdet(xx)
    ok = sign > 0
    xx = np.where(ok[:, None, None], xx, np.eye(p)[None])
    xxi = np.linalg.inv(xx)
    beta = np.einsum("bij,bj->bi", xxi, xy)
    rss = yy - np.einsum("bi,bi->b", xy, beta)
    dof = design.n_obs - p
    ok &= (rss > 1e-300) & (dof > 0)
    rss_s = np.where(ok, rss, 1.0)
    dof = np.where(ok, dof, 1.0)
    value = np.where(ok, dof * np.log(rss_s) + logdet + ld, np.inf)
    b = np.zeros((nb, d))
    b[:, -1] = 1.0
    b[:, xs] = -beta
    av = np.einsum("bij,bj->bi", q, b)
    h2 = h * h
    sa = np.einsum("bi,bgij,bj->bg", av, grams, av)
    qsq = np.einsum("bji,bgjk,bkl->bgil", q[:, :, xs], grams, q[:, :, xs])
    tr_t = (cnt * sz[None, :] * h).sum(axis=1) - (h2 * np.einsum("bij,bgji->bg", xxi, qsq)
                                                  ).sum(axis=1)
    grad = np.zeros((nb, 2))
    if k:
        tr_t = tr_t - g_c * (h2 * np.einsum("bij,bgji->bg", ainv, grams[:, :, zs, zs])
                             ).sum(axis=1)
        zpz = mt[:, zs, zs] - mt[:, zs, xs] @ xxi @ mt[:, xs, zs]
        zpy = mt[:, zs, -1] - np.einsum("bij,bj->bi", mt[:, zs, xs], beta)
        grad[:, 1] = np.trace(zpz, axis1=1, axis2=2) - dof * (zpy * zpy).sum(axis=1) / rss_s
    grad[:, 0] = tr_t - dof * (h2 * sa).sum(axis=1) / rss_s
    return value, np.where(ok, rss / dof, 0.0), grad


def _solve_pd(h: FloatArray, rhs: FloatArray) -> tuple[FloatArray, Any]:
    """Batched solve of 1 x 1 or 2 x 2 systems in closed form; flags positive definite ones
    (never raises on a singular matrix: those get NaN and a False flag)."""
    if h.shape[1] == 1:
        return rhs / h[:, :, 0], h[:, 0, 0] > 0
    a, b, c, d = h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1]
    det = a * d - b * c
    x0 = (d * rhs[:, 0] - b * rhs[:, 1]) / det
    x1 = (a * rhs[:, 1] - c * rhs[:, 0]) / det
    return np.column_stack([x0, x1]), (a > 0) & (det > 0)


def _newton(design: Design, g0: FloatArray, iters: int = 100) -> FloatArray:
    """Projected Newton on g >= 0 for a batch of designs (analytic gradient, finite-difference
    Hessian of it, backtracking line search); returns the B x 2 minimisers.

    Each iteration works on the designs not yet converged only. Converged: the Newton
    decrement is negligible, the step no longer moves g, or (a flat likelihood, e.g. an error
    variance tending to 0) the objective stops improving."""
    two = design.k > 0
    dim = 2 if two else 1
    g = g0[:, :dim].copy()
    nb = g.shape[0]

    def ev(des: Design, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        gc = x[:, 1] if two else np.zeros(x.shape[0])
        f, _, gr = neg2_reml(des, x[:, 0], gc)
        return f, gr[:, :dim]

    f, gr = ev(design, g)
    done = ~np.isfinite(f)
    for _ in range(iters):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        des = Design(design.ff[act], design.sizes, design.counts[act], design.grams[act],
                     design.p, design.k)
        ga, fa, gra = g[act], f[act], gr[act]
        na = act.size
        hess = np.empty((na, dim, dim))
        for j in range(dim):
            step = 1e-6 * (ga[:, j] + 1e-3)
            xp = ga.copy()
            xp[:, j] += step
            hess[:, :, j] = (ev(des, xp)[1] - gra) / step[:, None]
        hess = np.nan_to_num((hess + np.swapaxes(hess, 1, 2)) / 2.0)
        free = ~((ga <= 0.0) & (gra > 0.0))
        hf = hess * (free[:, :, None] & free[:, None, :]) + np.eye(dim) * (~free)[:, :, None]
        rhs = np.where(free, -gra, 0.0)
        with np.errstate(all="ignore"):
            direction, pd_ok = _solve_pd(hf, rhs)
            pd_ok &= np.isfinite(direction).all(axis=1) & ((direction * gra).sum(axis=1) < 0)
            # Not convex here: scaled steepest descent instead.
            sd = rhs / np.maximum(np.abs(np.diagonal(hess, axis1=1, axis2=2)), 1e-8)
        direction = np.where(pd_ok[:, None], direction, sd)
        decrement = np.where(pd_ok, -(direction * gra).sum(axis=1), np.inf)
        t = np.ones(na)
        new_g, new_f, new_gr = ga.copy(), fa.copy(), gra.copy()
        pending = np.ones(na, dtype=bool)
        for _ls in range(40):
            if not pending.any():
                break
            cand = np.maximum(ga + t[:, None] * direction, 0.0)
            fc, grc = ev(des, cand)
            accept = pending & np.isfinite(fc) & (
                fc <= fa + 1e-4 * (gra * (cand - ga)).sum(axis=1) + 1e-13 * np.abs(fa))
            new_g[accept], new_f[accept], new_gr[accept] = cand[accept], fc[accept], grc[accept]
            pending &= ~accept
            t = np.where(pending, t / 2.0, t)
        scale = 1.0 + np.abs(fa)
        moved = np.abs(new_g - ga).max(axis=1)
        converged = (pending | (moved <= 1e-14 * (1.0 + np.abs(ga).max(axis=1)))
                     | (decrement <= 1e-22 * scale)
                     | (~pd_ok & (fa - new_f <= 1e-14 * scale)))
        g[act], f[act], gr[act] = new_g, new_f, new_gr
        done[act] = converged
    out = np.zeros((nb, 2))
    out[:, :dim] = g
    return out


def fit_batch(design: Design, start: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Variance ratios (B x 2), s2_e and -2 log REML at the optimum for a batch of designs."""
    g = _newton(design, start)
    f, s2e, _ = neg2_reml(design, g[:, 0], g[:, 1])
    return g, s2e, f


def fit(design: Design) -> Components:
    """REML fit of a one-design batch from three starting points (the best optimum kept)."""
    starts = np.array([[1.0, 0.5], [0.1, 0.05], [10.0, 1.0]])
    batch = Design(design.ff.repeat(3, axis=0), design.sizes, design.counts.repeat(3, axis=0),
                   design.grams.repeat(3, axis=0), design.p, design.k)
    g, s2e, f = fit_batch(batch, starts)
    i = int(np.argmin(np.where(np.isfinite(f), f, np.inf)))
    return Components(float(g[i, 0] * s2e[i]), float(g[i, 1] * s2e[i]), float(s2e[i]),
                      float(f[i]))


def icc_from(form: str, s2_t: FloatArray, s2_c: FloatArray, s2_e: FloatArray, k: int
             ) -> FloatArray:
    """The ICC of ``form`` from (arrays of) variance components; NaN where undefined."""
    rater = s2_c if FORM_MODEL[form] == "twoway" else 0.0 * s2_c
    noise = s2_e + rater
    if form.endswith("k"):
        noise = noise / k
    tot = s2_t + noise
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where((tot > 0) & (s2_e > 0), s2_t / tot, np.nan)
    return out


def icc_reml(ratings: Any, form: str = "ICC2", *, ci: bool = True,
             n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
             level: float = 0.95) -> AgreementResult:
    """ICC (Shrout-Fleiss forms) from REML variance components, missing ratings allowed."""
    if form not in FORM_NAMES:
        raise StatsError(f"unknown ICC form {form!r}; choose one of {list(FORM_NAMES)}",
                         item="form")
    opts = CIOptions(ci, n_resamples, seed, level)
    coded = encode(ratings, None)
    if not coded.numeric and coded.q:
        raise StatsError("ICC needs numeric ratings", item="ratings")
    rated = coded.codes >= 0
    codes = coded.codes[rated.any(axis=1)][:, rated.any(axis=0)]
    n, k = codes.shape
    if k < 2:
        raise StatsError(f"ICC needs at least 2 raters with ratings, got {k}", item="ratings")
    if n < 2 or not ((codes >= 0).sum(axis=1) >= 2).any():
        raise StatsError("ICC needs at least 2 items and one item rated twice", item="ratings")
    y_all = coded.values[codes[codes >= 0]]
    if float(np.ptp(y_all)) == 0.0:
        res = make_result(value=math.nan, coded=coded, method=f"{form} REML", n_items=n,
                          missing_rule=MISSING_RULE, note="undefined: every rating is equal")
        return replace(res, note=res.note.split("; categories")[0], categories=(),
                       categories_source="not applicable")
    model = FORM_MODEL[form]
    st = item_stats(codes, coded.values, model)
    comp = fit(point_design(st))
    name = FORM_NAMES[form].split(" ", 1)
    method = f"{name[0]} REML {name[1]}"
    details = {"s2_items": comp.s2_t, "s2_raters": comp.s2_c, "s2_error": comp.s2_e,
               "n_ratings": float(y_all.size),
               "complete_items": float((codes >= 0).all(axis=1).sum())}
    if model != "twoway":
        details.pop("s2_raters")
    value = float(icc_from(form, np.array([comp.s2_t]), np.array([comp.s2_c]),
                           np.array([comp.s2_e]), k)[0])
    base = {"coded": coded, "method": method, "missing_rule": MISSING_RULE, "n_items": n,
            "details": details}
    if not math.isfinite(value):
        res = make_result(value=math.nan, note="undefined: no variation left for the variance "
                          "components", **base)
        return replace(res, note=res.note.split("; categories")[0], categories=(),
                       categories_source="not applicable")
    ci_fields: dict[str, Any] = {}
    if opts.ci:
        ci_fields = _bootstrap(st, comp, form, k, opts)
    res = make_result(value=value, ci_fields=ci_fields, **base)
    # ICC has no categories: keep only notes about the CI.
    note = "; ".join(s for s in res.note.split("; ") if not s.startswith("categories inferred"))
    return replace(res, note=note, categories=(), categories_source="not applicable")


def _bootstrap(st: ItemStats, comp: Components, form: str, k: int, opts: CIOptions
               ) -> dict[str, Any]:
    """Percentile CI: items resampled, every replicate refitted (batched Newton, warm start)."""
    sums = resample_sums(packed_features(st), opts.n_resamples, opts.seed)
    stats = np.empty(opts.n_resamples)
    start = np.array([comp.s2_t / comp.s2_e, comp.s2_c / comp.s2_e])
    chunk = 500
    for lo in range(0, opts.n_resamples, chunk):
        des = design_from_packed(st, sums[lo:lo + chunk])
        nb = des.ff.shape[0]
        g, s2e, f = fit_batch(des, np.tile(start, (nb, 1)))
        ok = np.isfinite(f)
        stats[lo:lo + nb] = np.where(ok, icc_from(form, g[:, 0] * s2e, g[:, 1] * s2e, s2e, k),
                                     np.nan)
    ok = np.isfinite(stats)
    if not ok.any():
        return {"note_ci": "no CI: no defined bootstrap replicate"}
    a = (1.0 - opts.level) / 2.0
    lo_q, hi_q = np.quantile(stats[ok], [a, 1.0 - a])
    dropped = int((~ok).sum())
    return {"ci": (float(lo_q), float(hi_q)),
            "ci_method": (f"percentile bootstrap over items (B={opts.n_resamples}, "
                          f"seed={opts.seed}, REML refit per replicate, {dropped} undefined "
                          "replicates dropped)"),
            "seed": opts.seed, "n_resamples": opts.n_resamples, "dropped_resamples": dropped}
