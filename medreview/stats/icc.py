"""Intraclass correlations (Shrout & Fleiss 1979; McGraw & Wong 1996) on complete rows.

Two-way ANOVA mean squares from the n x k matrix of items with every rater present; items with
a missing rating are excluded and the result says how many (explicit listwise deletion). With
``missing="reml"`` the ICC comes from REML variance components on all available ratings
(``icc_reml.py``); ``krippendorff_alpha(level="interval")`` is another tolerant alternative.
F-based CIs as in psych / pingouin (Satterthwaite df for the ICC(2,*) forms).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.coding import encode
from medreview.stats.common import make_result
from medreview.stats.distributions import f_ppf
from medreview.stats.icc_forms import FORM_NAMES, Form
from medreview.stats.icc_reml import icc_reml
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED, AgreementResult


def mean_squares(x: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float]:
    n, k = x.shape
    grand = x.mean()
    row = x.mean(axis=1)
    col = x.mean(axis=0)
    ssr = k * float(((row - grand) ** 2).sum())
    ssc = n * float(((col - grand) ** 2).sum())
    sst = float(((x - grand) ** 2).sum())
    sse = sst - ssr - ssc
    return {"MSR": ssr / (n - 1), "MSC": ssc / (k - 1), "MSE": sse / ((n - 1) * (k - 1)),
            "MSW": (ssc + sse) / (n * (k - 1)), "n": float(n), "k": float(k)}


def _value(form: str, m: dict[str, float]) -> float:
    msr, msc, mse, msw, n, k = (m[s] for s in ("MSR", "MSC", "MSE", "MSW", "n", "k"))
    num_den = {
        "ICC1": (msr - msw, msr + (k - 1) * msw),
        "ICC2": (msr - mse, msr + (k - 1) * mse + k * (msc - mse) / n),
        "ICC3": (msr - mse, msr + (k - 1) * mse),
        "ICC1k": (msr - msw, msr),
        "ICC2k": (msr - mse, msr + (msc - mse) / n),
        "ICC3k": (msr - mse, msr),
    }[form]
    return num_den[0] / num_den[1] if num_den[1] != 0 else math.nan


def _ci(form: str, m: dict[str, float], value: float, level: float) -> tuple[float, float]:
    msr, msc, mse, msw, n, k = (m[s] for s in ("MSR", "MSC", "MSE", "MSW", "n", "k"))
    a = 1.0 - level
    df1 = n - 1
    if form in ("ICC1", "ICC1k", "ICC3", "ICC3k"):
        one = form.startswith("ICC1")
        fobs = msr / (msw if one else mse)
        df2 = n * (k - 1) if one else (n - 1) * (k - 1)
        fl = fobs / f_ppf(1 - a / 2, df1, df2)
        fu = fobs * f_ppf(1 - a / 2, df2, df1)
        if form.endswith("k"):
            return 1 - 1 / fl, 1 - 1 / fu
        return (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    icc2 = _value("ICC2", m)
    fj = msc / mse
    df2 = (n - 1) * (k - 1)
    vn = df2 * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = df1 * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    f2u = f_ppf(1 - a / 2, n - 1, v)
    f2l = f_ppf(1 - a / 2, v, n - 1)
    lo = n * (msr - f2u * mse) / (f2u * (k * msc + (k * n - k - n) * mse) + n * msr)
    hi = n * (f2l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f2l * msr)
    if form == "ICC2k":
        return lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
    return lo, hi


def icc(ratings: Any, form: Form = "ICC2", *, ci: bool = True, level: float = 0.95,
        missing: Literal["listwise", "reml"] = "listwise",
        n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> AgreementResult:
    """Shrout-Fleiss ICC of an items x raters numeric table.

    ``missing="listwise"``: ANOVA mean squares on complete rows, F-based CI.
    ``missing="reml"``: REML variance components on all available ratings
    (``medreview.stats.icc_reml``), percentile item-bootstrap CI (``n_resamples``, ``seed``).
    """
    if missing == "reml":
        return icc_reml(ratings, form, ci=ci, n_resamples=n_resamples, seed=seed, level=level)
    if missing != "listwise":
        raise StatsError(f"missing must be 'listwise' or 'reml', got {missing!r}",
                         item="missing")
    if form not in FORM_NAMES:
        raise StatsError(f"unknown ICC form {form!r}; choose one of {list(FORM_NAMES)}",
                         item="form")
    coded = encode(ratings, None)
    if not coded.numeric and coded.q:
        raise StatsError("ICC needs numeric ratings", item="ratings")
    codes = coded.codes
    complete = (codes >= 0).all(axis=1)
    n_all, k = codes.shape
    if k < 2:
        raise StatsError(f"ICC needs at least 2 raters, got {k}", item="ratings")
    n = int(complete.sum())
    if n < 2:
        raise StatsError(f"ICC needs at least 2 items rated by every rater, got {n}",
                         item="ratings")
    x = coded.values[codes[complete]]
    m = mean_squares(x)
    value = _value(form, m)
    dropped = n_all - n
    rule = (f"listwise: items missing any rating excluded ({dropped} of {n_all} dropped)")
    details = {k_: v for k_, v in m.items() if k_ not in ("n", "k")}
    if math.isnan(value) or not math.isfinite(value):
        return make_result(value=math.nan, coded=coded, method=FORM_NAMES[form],
                           missing_rule=rule, n_items=n, details=details,
                           note="undefined: no variation between or within items")
    ci_fields: dict[str, Any] = {}
    if ci:
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = _ci(form, m, value, level)
        ci_fields = {"ci": (float(lo), float(hi)),
                     "ci_method": "F-distribution (Shrout & Fleiss 1979; McGraw & Wong 1996; "
                                  "psych/pingouin formulas)"}
    res = make_result(value=value, coded=coded, method=FORM_NAMES[form], missing_rule=rule,
                      n_items=n, ci_fields=ci_fields, details=details)
    # ICC has no categories: drop the "categories inferred" remark make_result adds.
    from dataclasses import replace

    return replace(res, note="", categories=(), categories_source="not applicable")
