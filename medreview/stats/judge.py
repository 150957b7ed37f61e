"""Judge-versus-human agreement (notes §2.8).

``human`` is one label per item or an items x physicians table; ``judge`` one label per item.
Variants, each named in the output: ``pooled`` = every (judge, physician) pair (HealthBench
meta-eval style, items with more physicians weigh more); ``majority`` = judge vs the
physicians' strict majority (an answer of more than half of them, ``stats.majority``; items
without one excluded) or, for numeric scores, the physician mean;
``per_physician_mean`` = Cohen's kappa per physician averaged (Light-style).
Classification metrics over pooled pairs equal sklearn's on the pooled pair list; CIs are
bootstraps over items (all of an item's pairs move together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.bootstrap import bootstrap_ci
from medreview.stats.coding import Coded, FloatArray, encode
from medreview.stats.cohen import kappa_from_table
from medreview.stats.distributions import kendall_tau_b, norm_ppf, spearman_rho, t_ppf
from medreview.stats.majority import majority_note, strict_majority
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED
from medreview.stats.weights import weight_matrix

Kind = Literal["binary", "ordinal", "numeric", "nominal"]
COLUMNS = ["statistic", "variant", "value", "ci_low", "ci_high", "n_items", "n_pairs", "note"]


@dataclass(frozen=True)
class JudgeAgreement:
    kind: str
    table: Any  # pandas DataFrame with COLUMNS
    confusion: Any  # pandas DataFrame (rows = physician label, columns = judge label) or None
    codes: Any = None  # items x (judge, physicians...) category codes (not for numeric answers)
    # The physicians' strict majority of ``codes`` (``stats.majority.strict_majority``: code
    # and whether there is one, per item), made for the majority rows: reused, not recounted.
    majority: Any = None

    def value(self, statistic: str, variant: str = "pooled") -> float:
        t = self.table
        hit = t[(t["statistic"] == statistic) & (t["variant"] == variant)]
        if hit.empty:
            raise KeyError(f"{statistic}/{variant}")
        return float(hit["value"].iloc[0])


def is_table(human: Any) -> bool:
    """Whether ``human`` is an items x raters table with named raters (a DataFrame, or
    ``stats.project_coded.CodedWide``)."""
    return hasattr(human, "columns") and len(getattr(human, "shape", ())) == 2


def _human_2d(human: Any) -> tuple[np.ndarray[Any, Any], list[Any]]:
    import pandas as pd

    if isinstance(human, pd.DataFrame):
        return human.to_numpy(dtype=object), list(human.columns)
    if isinstance(human, pd.Series):
        return human.to_numpy(dtype=object)[:, None], [human.name or "physician"]
    arr = np.asarray(human, dtype=object)
    if arr.ndim == 1:
        # A 1-D list of per-item lists (unequal physician counts, as in HealthBench) is padded.
        if any(isinstance(v, (list, tuple)) for v in arr):
            width = max(len(v) for v in arr)
            out = np.full((arr.shape[0], width), None, dtype=object)
            for i, v in enumerate(arr):
                out[i, :len(v)] = list(v)
            return out, list(range(width))
        return arr[:, None], ["physician"]
    if arr.ndim != 2:
        raise StatsError("human labels must be 1-D or items x physicians", item="human")
    return arr, list(range(arr.shape[1]))


def _class_metrics(m: FloatArray, prefix_names: Sequence[str] | None) -> dict[str, float]:
    """Accuracy / per-class P, R, F1 / macro F1 from a confusion matrix m[human, judge]."""
    total = m.sum()
    out = {"accuracy": float(np.trace(m) / total) if total else math.nan}
    tp = np.diag(m)
    pred = m.sum(axis=0)
    supp = m.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(pred > 0, tp / pred, 0.0)
        rec = np.where(supp > 0, tp / supp, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    present = (pred + supp) > 0
    out["macro_f1"] = float(f1[present].mean()) if present.any() else math.nan
    if prefix_names is not None:
        for k, name in enumerate(prefix_names):
            out[f"precision_{name}"] = float(prec[k]) if pred[k] > 0 else math.nan
            out[f"recall_{name}"] = float(rec[k]) if supp[k] > 0 else math.nan
            out[f"f1_{name}"] = float(f1[k]) if supp[k] > 0 else math.nan
    return out


def _class_metric_batch(m: FloatArray, key: str) -> FloatArray:
    """``_class_metrics(m[r])[key]`` for a stack of confusion matrices at once (bootstrap
    replicates); the same arithmetic in the same order, so the values are identical."""
    total = m.sum(axis=(1, 2))
    tp = np.diagonal(m, axis1=1, axis2=2)
    if key == "accuracy":
        acc: FloatArray = np.where(total > 0, tp.sum(axis=1) / np.where(total > 0, total, 1),
                                   np.nan)
        return acc
    pred = m.sum(axis=1)
    supp = m.sum(axis=2)
    prec = np.where(pred > 0, tp / np.where(pred > 0, pred, 1), 0.0)
    rec = np.where(supp > 0, tp / np.where(supp > 0, supp, 1), 0.0)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.where(prec + rec > 0, prec + rec, 1), 0.0)
    present = (pred + supp) > 0
    n = present.sum(axis=1)
    out: FloatArray = np.where(n > 0, np.where(present, f1, 0.0).sum(axis=1)
                               / np.where(n > 0, n, 1), np.nan)
    return out


def bland_altman(a: Any, b: Any, *, multiplier: float = 1.96,
                 level: float = 0.95) -> dict[str, float]:
    """Bias and limits of agreement of a - b with t-based CIs (Bland & Altman 1986)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[~np.isnan(d)]
    n = d.size
    if n < 3:
        raise StatsError(f"Bland-Altman needs at least 3 paired values, got {n}", item="pairs")
    bias = float(d.mean())
    s = float(d.std(ddof=1))
    t = t_ppf(0.5 + level / 2, n - 1)
    se_b = s / math.sqrt(n)
    se_l = s * math.sqrt(3.0 / n)
    lo, hi = bias - multiplier * s, bias + multiplier * s
    return {"n": float(n), "bias": bias, "sd": s, "bias_ci_low": bias - t * se_b,
            "bias_ci_high": bias + t * se_b, "loa_low": lo, "loa_high": hi,
            "loa_low_ci_low": lo - t * se_l, "loa_low_ci_high": lo + t * se_l,
            "loa_high_ci_low": hi - t * se_l, "loa_high_ci_high": hi + t * se_l}


def _fisher_ci(r: float, n: int, c: float, level: float) -> tuple[float, float]:
    if n <= 4 or not math.isfinite(r) or abs(r) >= 1:
        return math.nan, math.nan
    z = math.atanh(r)
    h = norm_ppf(0.5 + level / 2) * math.sqrt(c / (n - 3))
    return math.tanh(z - h), math.tanh(z + h)


def judge_agreement(human: Any, judge: Any, kind: Kind = "binary", *,
                    categories: Sequence[Any] | None = None, ci: bool = True,
                    n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                    level: float = 0.95, coded: Coded | None = None,
                    floats: FloatArray | None = None) -> JudgeAgreement:
    """Agreement of ``judge`` (one label per item) with ``human`` (per item, or per physician).

    ``coded``: the judge's and the physicians' answers (judge first) already coded against the
    declared ``categories``, so they are not coded again (ignored for numeric answers);
    ``floats``: for numeric answers, the same table as floats (NaN = missing). With either,
    ``human`` is read for its shape only (a table: ``stats.project_coded.CodedWide`` too)."""
    import pandas as pd

    if kind not in ("binary", "ordinal", "numeric", "nominal"):
        raise StatsError(f"unknown kind {kind!r}", item="kind")
    if kind == "binary" and categories is None:
        categories = (False, True)
    shape = (len(judge), human.shape[1] + 1) if is_table(human) else None
    if kind != "numeric" and categories is not None and coded is not None \
            and shape is not None and coded.codes.shape == shape \
            and human.shape[0] == shape[0]:
        both: Any = None  # coded already: no object table of the answers
    elif kind == "numeric" and floats is not None and shape is not None \
            and floats.shape == shape and human.shape[0] == shape[0]:
        both = None  # floats already
    else:
        floats = None
        coded = None
        h, _ = _human_2d(human)
        j = np.asarray(judge, dtype=object).ravel()
        if j.shape[0] != h.shape[0]:
            raise StatsError(f"judge has {j.shape[0]} items but human has {h.shape[0]}",
                             item="judge")
        both = np.column_stack([j, h])
    rows: list[dict[str, Any]] = []

    def add(stat: str, variant: str, value: float, ci_: tuple[float, float] | None,
            n_items: int, n_pairs: int, note: str = "") -> None:
        lo, hi = ci_ if ci_ is not None else (math.nan, math.nan)
        rows.append({"statistic": stat, "variant": variant, "value": value, "ci_low": lo,
                     "ci_high": hi, "n_items": n_items, "n_pairs": n_pairs, "note": note})

    confusion = None
    codes: Any = None
    majority: Any = None
    if kind == "numeric":
        x = floats if floats is not None else \
            pd.DataFrame(both).apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        _numeric_rows(x, add, ci, n_resamples, seed, level)
    else:
        if coded is None:
            coded = encode(both, categories)
        codes = coded.codes
        q = coded.q
        jc = codes[:, 0]
        hc = codes[:, 1:]
        ok = (jc[:, None] >= 0) & (hc >= 0)
        paired = ok.any(axis=1)
        n_items = int(paired.sum())
        if n_items == 0:
            raise StatsError("no item has both a judge label and a physician label",
                             item="judge")
        # Per-item confusion counts (human code x judge code): the bootstrap features. Added
        # physician by physician (an item's cell once per column: a plain increment), as
        # floats (integer counts: exact), with no item x pair index arrays (1.4M items at
        # 1M judgments: each array counts).
        # Each physician's judge x physician table (Light's kappas; without CIs, also the
        # pooled counts: no per-item features are needed then).
        # (unpaired cells counted in an extra last bin: no boolean selections)
        per_col = []
        for col in range(hc.shape[1]):
            t = np.bincount(np.where(ok[:, col], jc * q + hc[:, col], q * q),
                            minlength=q * q + 1)
            per_col.append((int(t[:-1].sum()), t[:-1].reshape(q, q)))
        feats: Any = None
        if ci:
            n = codes.shape[0]
            flat = np.zeros(n * q * q)
            at = np.arange(n, dtype=np.int64) * (q * q) + jc
            for col in range(hc.shape[1]):
                sel = np.flatnonzero(ok[:, col])
                flat[at[sel] + hc[sel, col] * q] += 1.0
            del at
            feats = flat.reshape(n, q * q)
            if n_items < n:
                feats = feats[paired]
            del flat
            m = feats.sum(axis=0).reshape(q, q)
        else:  # (integer counts: the same sums)
            m = np.zeros((q, q))
            for _, t in per_col:
                m += t.T
        labels = [str(c) for c in coded.categories]
        confusion = pd.DataFrame(m.astype(int), index=[f"physician={c}" for c in labels],
                                 columns=[f"judge={c}" for c in labels])
        names = ["neg", "pos"] if kind == "binary" else labels
        pooled = _class_metrics(m, names)
        n_pairs = int(m.sum())
        wts = ["identity"] + (["quadratic"] if kind == "ordinal" else [])
        for stat, val in pooled.items():
            ci_ = None
            if ci and stat in ("accuracy", "macro_f1"):
                key = stat

                def fin(s: FloatArray, key: str = key) -> FloatArray:
                    return _class_metric_batch(s.reshape(-1, q, q), key)

                b = bootstrap_ci(feats, fin, n_resamples=n_resamples, seed=seed, level=level)
                ci_ = (b.low, b.high) if b else None
            add(stat, "pooled", val, ci_, n_items, n_pairs)
        for wname in wts:
            w, _ = weight_matrix(wname, coded.values)
            kt = kappa_from_table(m.T, w)  # rows = judge, columns = physician
            stat = "cohen_kappa" if wname == "identity" else "cohen_kappa_quadratic"
            note = "" if math.isfinite(kt["kappa"]) else "undefined: no variation"
            add(stat, "pooled", kt["kappa"], None, n_items, n_pairs, note)
            # Light-style: kappa per physician, then the mean.
            ks = []
            for n_sel, t in per_col:
                if n_sel < 2:
                    continue
                kk = kappa_from_table(t.astype(np.float64), w)["kappa"]
                if math.isfinite(kk):
                    ks.append(kk)
            if ks:
                add(stat, "per_physician_mean", float(np.mean(ks)), None, n_items, n_pairs,
                    f"mean of {len(ks)} physicians' kappas")
        majority = _majority_rows(jc, hc, q, coded.values, kind, add)
        if kind == "ordinal":
            x = np.where(codes >= 0, coded.values[np.maximum(codes, 0)], np.nan)
            _rank_rows(x, add, level)
            _msd_rows(x, add, ci, n_resamples, seed, level)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return JudgeAgreement(kind, table, confusion, codes, majority)


def _majority_rows(jc: Any, hc: Any, q: int, values: FloatArray, kind: str,
                   add: Any) -> tuple[Any, Any]:
    """The rows against the physicians' strict majority; returns that majority."""
    maj, has = strict_majority(hc, q)
    answered = (hc >= 0).any(axis=1)
    sel = has & (jc >= 0)
    if sel.sum() == 0:
        return maj, has
    m = np.bincount(maj[sel] * q + jc[sel], minlength=q * q).reshape(q, q).astype(np.float64)
    note = majority_note(int((answered & ~has).sum()))
    names = ["neg", "pos"] if kind == "binary" else None
    n = int(sel.sum())
    for stat, val in _class_metrics(m, names).items():
        add(stat, "majority", val, None, n, n, note)
    kt = kappa_from_table(m.T, np.eye(q))
    add("cohen_kappa", "majority", kt["kappa"], None, n, n,
        note if math.isfinite(kt["kappa"]) else "undefined: no variation; " + note)
    if q == 2:
        add("pabak", "majority", 2 * float(np.trace(m)) / n - 1, None, n, n, note)
        add("prevalence_index", "majority", float(m[0, 0] - m[1, 1]) / n, None, n, n, note)
        add("bias_index", "majority", float(m[1, 0] - m[0, 1]) / n, None, n, n,
            "judge column vs physician-majority row; " + note)
    return maj, has


def _row_mean(v: FloatArray) -> FloatArray:
    """Per-row mean of the non-missing values (NaN for an all-missing row), warning-free."""
    ok = ~np.isnan(v)
    n = ok.sum(axis=1)
    tot = np.where(ok, v, 0.0).sum(axis=1)
    out: FloatArray = np.full(v.shape[0], np.nan)
    np.divide(tot, n, out=out, where=n > 0)
    return out


def _rank_rows(x: FloatArray, add: Any, level: float) -> None:
    jv = x[:, 0]
    hv = x[:, 1:]
    r, c = np.nonzero(~np.isnan(hv) & ~np.isnan(jv)[:, None])
    if r.size >= 3:
        a, b = jv[r], hv[r, c]
        n_it = int(np.count_nonzero(r[1:] != r[:-1])) + 1  # (nonzero's rows come sorted)
        rho = spearman_rho(a, b)
        tau = kendall_tau_b(a, b)
        add("spearman_rho", "pooled", rho, None, n_it, int(r.size),
            "pairs not independent: no analytic CI")
        add("kendall_tau_b", "pooled", tau, None, n_it, int(r.size),
            "pairs not independent: no analytic CI")
    hm = _row_mean(hv)
    sel = ~np.isnan(jv) & ~np.isnan(hm)
    n = int(sel.sum())
    if n >= 3:
        rho = spearman_rho(jv[sel], hm[sel])
        tau = kendall_tau_b(jv[sel], hm[sel])
        add("spearman_rho", "physician_mean", rho, _fisher_ci(rho, n, 1.06, level), n, n,
            "Fisher z CI, SE sqrt(1.06/(n-3))")
        add("kendall_tau_b", "physician_mean", tau, _fisher_ci(tau, n, 0.437, level), n, n,
            "Fisher z CI, SE sqrt(0.437/(n-4)) approx.")


def _msd_rows(x: FloatArray, add: Any, ci: bool, n_resamples: int, seed: int,
              level: float) -> None:
    jv = x[:, 0]
    hv = x[:, 1:]
    d = jv[:, None] - hv
    ok = ~np.isnan(d)
    feats = np.column_stack([np.where(ok, d, 0.0).sum(axis=1), ok.sum(axis=1)])
    feats = feats[feats[:, 1] > 0]
    if feats.shape[0] == 0:
        return
    val = float(feats[:, 0].sum() / feats[:, 1].sum())
    ci_ = None
    if ci:
        b = bootstrap_ci(feats, lambda s: s[:, 0] / s[:, 1], n_resamples=n_resamples,
                         seed=seed, level=level)
        ci_ = (b.low, b.high) if b else None
    add("mean_signed_difference", "pooled", val, ci_, int(feats.shape[0]),
        int(feats[:, 1].sum()), "judge - physician; positive = judge more lenient")


def _numeric_rows(x: FloatArray, add: Any, ci: bool, n_resamples: int, seed: int,
                  level: float) -> None:
    if np.all(np.isnan(x[:, 0])) or np.all(np.isnan(x[:, 1:])):
        raise StatsError("no item has both a judge score and a physician score", item="judge")
    _msd_rows(x, add, ci, n_resamples, seed, level)
    _rank_rows(x, add, level)
    hm = _row_mean(x[:, 1:])
    sel = ~np.isnan(x[:, 0]) & ~np.isnan(hm)
    if sel.sum() >= 3:
        ba = bland_altman(x[sel, 0], hm[sel], level=level)
        n = int(ba["n"])
        note = "judge - physician mean"
        add("bland_altman_bias", "physician_mean", ba["bias"],
            (ba["bias_ci_low"], ba["bias_ci_high"]), n, n, note)
        add("bland_altman_loa_low", "physician_mean", ba["loa_low"],
            (ba["loa_low_ci_low"], ba["loa_low_ci_high"]), n, n, note + "; bias - 1.96 SD")
        add("bland_altman_loa_high", "physician_mean", ba["loa_high"],
            (ba["loa_high_ci_low"], ba["loa_high_ci_high"]), n, n, note + "; bias + 1.96 SD")


def judge_vs_ceiling(human: Any, judge: Any, kind: Kind = "binary", *,
                     categories: Sequence[Any] | None = None,
                     coded: Coded | None = None, floats: FloatArray | None = None) -> Any:
    """The judge next to the physician-vs-physician ceiling on the same items.

    Items with >= 2 physician labels only. For each physician, their labels are scored against
    every *other* physician's (leave-one-out pairs, HealthBench baseline); the judge is scored
    against all physicians on the same items. Returns a DataFrame: statistic, judge,
    physician_mean, physician_min, physician_max, n_items, n_physicians.
    ``coded``: the judge's and the physicians' answers (judge first) already coded against
    the declared ``categories`` (as ``judge_agreement``'s); ``floats`` the same as floats for
    numeric answers.
    """
    import pandas as pd

    if kind == "binary" and categories is None:
        categories = (False, True)
    numeric = kind == "numeric"
    vals: Any
    if numeric and floats is not None and floats.shape == (len(judge), human.shape[1] + 1):
        vals = floats
    elif numeric:
        h, _ = _human_2d(human)
        j = np.asarray(judge, dtype=object).ravel()
        x = pd.DataFrame(np.column_stack([j, h])).apply(pd.to_numeric, errors="coerce")
        vals = x.to_numpy(np.float64)
    else:
        if coded is None or categories is None or not is_table(human) \
                or coded.codes.shape != (len(judge), human.shape[1] + 1) \
                or human.shape[0] != len(judge):
            h, _ = _human_2d(human)
            j = np.asarray(judge, dtype=object).ravel()
            coded = encode(np.column_stack([j, h]), categories)
        vals = coded.codes  # (integer codes, -1 = missing: no float copies of the table)
        q = coded.q

    def answered(a: Any) -> Any:
        return ~np.isnan(a) if numeric else a >= 0

    hv = vals[:, 1:]
    multi = answered(hv).sum(axis=1) >= 2
    if not multi.any():
        raise StatsError("no item has two or more physician labels: no ceiling",
                         item="human")
    if not multi.all():
        hv = hv[multi]
    jv = vals[multi, 0]

    def score(g: Any, ref: Any, cols: Sequence[int]) -> dict[str, float]:
        if numeric:
            ref = ref[:, list(cols)]
            ok = ~np.isnan(ref) & ~np.isnan(g)[:, None]
            r, c = np.nonzero(ok)
            a, b = g[r], ref[r, c]
            if a.size == 0:
                return {}
            return {"mean_absolute_difference": float(np.abs(a - b).mean()),
                    "mean_signed_difference": float((a - b).mean())}
        # Pair counts added column by column (integers: the same table as over all pairs at
        # once, without item-x-rater index arrays: 1.4M items at 1M judgments).
        # (pairs with a missing side counted in a spill bin, dropped: no boolean selections)
        pairs: Any = np.zeros(q * q + 1, dtype=np.int64)
        g_ok = g >= 0
        for col in cols:
            r_col = ref[:, col]
            pairs += np.bincount(np.where((r_col >= 0) & g_ok, r_col * q + g, q * q),
                                 minlength=q * q + 1)
        pairs = pairs[:-1]
        if not pairs.any():
            return {}
        m = pairs.reshape(q, q)
        out = _class_metrics(m.astype(np.float64), None)
        out["cohen_kappa"] = kappa_from_table(m.T.astype(np.float64), np.eye(q))["kappa"]
        return out

    judge_s = score(jv, hv, range(hv.shape[1]))
    per_phys = []
    for col in range(hv.shape[1]):
        if not answered(hv[:, col]).any():
            continue
        per_phys.append(score(hv[:, col], hv, [c for c in range(hv.shape[1]) if c != col]))
    rows = []
    for stat, val in judge_s.items():
        ps = np.array([p[stat] for p in per_phys if stat in p and math.isfinite(p[stat])])
        rows.append({"statistic": stat, "judge": val,
                     "physician_mean": float(ps.mean()) if ps.size else math.nan,
                     "physician_min": float(ps.min()) if ps.size else math.nan,
                     "physician_max": float(ps.max()) if ps.size else math.nan,
                     "n_items": int(multi.sum()), "n_physicians": int(ps.size)})
    return pd.DataFrame(rows)
