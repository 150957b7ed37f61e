"""The agreement panel for one items x raters table, chosen by the question's kind.

One coded table feeds every coefficient (the count matrix is built per coefficient from the
same codes). With three or more raters, nominal and ordinal panels add Conger's and Light's
kappa (quadratic weights for ordinal); numeric panels add the REML ICC(A,1). Failures on
degenerate data become rows with a NaN value and the reason in ``note`` so a
dashboard shows "undefined: ..." instead of crashing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medreview.errors import StatsError
from medreview.stats.alpha import alpha_coded
from medreview.stats.chance import gwet_family
from medreview.stats.coding import Coded, encode
from medreview.stats.cohen import kappa_coded
from medreview.stats.common import CIOptions
from medreview.stats.conger import conger_coded, light_coded
from medreview.stats.icc import icc
from medreview.stats.icc_forms import Form
from medreview.stats.results import AgreementResult

# kind -> list of (statistic key, function of (coded, opts))
Spec = list[tuple[str, Callable[[Any, CIOptions], AgreementResult]]]

NOMINAL: Spec = [
    ("percent_agreement", lambda c, o: gwet_family(c, "pa", None, o, "bootstrap")),
    ("fleiss_kappa", lambda c, o: gwet_family(c, "fleiss", None, o)),
    ("gwet_ac1", lambda c, o: gwet_family(c, "gwet", None, o)),
    ("brennan_prediger", lambda c, o: gwet_family(c, "bp", None, o)),
    ("krippendorff_alpha_nominal", lambda c, o: alpha_coded(c, "nominal", o)),
]
ORDINAL: Spec = [
    ("percent_agreement", lambda c, o: gwet_family(c, "pa", None, o, "bootstrap")),
    ("gwet_ac2_ordinal", lambda c, o: gwet_family(c, "gwet", "ordinal", o)),
    ("gwet_ac2_quadratic", lambda c, o: gwet_family(c, "gwet", "quadratic", o)),
    ("fleiss_kappa", lambda c, o: gwet_family(c, "fleiss", None, o)),
    ("krippendorff_alpha_ordinal", lambda c, o: alpha_coded(c, "ordinal", o)),
    ("krippendorff_alpha_interval", lambda c, o: alpha_coded(c, "interval", o)),
]
NUMERIC: Spec = [
    ("krippendorff_alpha_interval", lambda c, o: alpha_coded(c, "interval", o)),
]
# Rater-identity coefficients for three or more raters (with two, both equal Cohen's kappa on
# complete data and the Cohen row is shown instead).
MULTI_RATER: dict[str, Spec] = {
    "nominal": [
        ("conger_kappa", lambda c, o: conger_coded(c, None, o)),
        ("light_kappa", lambda c, o: light_coded(c, None, o)),
    ],
    "ordinal": [
        ("conger_kappa_quadratic", lambda c, o: conger_coded(c, "quadratic", o)),
        ("light_kappa_quadratic", lambda c, o: light_coded(c, "quadratic", o)),
    ],
}


def _failed(key: str, err: Exception, n_raters: int) -> AgreementResult:
    return AgreementResult(value=math.nan, ci=None, n_items=0, n_raters=n_raters, method=key,
                           ci_method=None, missing_rule="", note=f"undefined: {err}")


def panel(wide: Any, kind: str, categories: Sequence[Any] | None, opts: CIOptions,
          coded: Coded | None = None, floats: Any = None) -> list[tuple[str, AgreementResult]]:
    """Statistics for one items x raters table. ``kind``: nominal | ordinal | numeric.
    ``coded``: ``encode(wide, categories)`` when the caller has it already; ``floats``: for
    numeric answers, ``wide`` as a float DataFrame (NaN = missing), if made already."""
    n_raters = int(wide.shape[1]) if len(wide.shape) == 2 else 0
    out: list[tuple[str, AgreementResult]] = []
    try:
        if coded is None:
            coded = encode(wide, categories)
        per_item = (coded.codes >= 0).sum(axis=1)
        if coded.codes.shape[1] < 2 or not (per_item >= 2).any():
            raise StatsError("fewer than two raters on every item")
    except StatsError as e:
        return [("agreement", _failed("agreement", e, n_raters))]
    spec = {"nominal": NOMINAL, "ordinal": ORDINAL, "numeric": NUMERIC}[kind]
    if int(np.count_nonzero((coded.codes >= 0).any(axis=0))) >= 3:
        spec = spec + MULTI_RATER.get(kind, [])
    for key, fn in spec:
        try:
            out.append((key, fn(coded, opts)))
        except StatsError as e:
            out.append((key, _failed(key, e, n_raters)))
    if coded.codes.shape[1] == 2 and kind != "numeric":
        weights = "quadratic" if kind == "ordinal" else None
        key = "cohen_kappa_quadratic" if weights else "cohen_kappa"
        try:
            both = np.asarray((coded.codes >= 0).all(axis=1), dtype=bool)
            out.append((key, kappa_coded(coded.select_items(both), weights, opts)))
        except StatsError as e:
            out.append((key, _failed(key, e, n_raters)))
    if kind == "numeric":
        # Listwise ANOVA ICCs, then the REML ICC(A,1) that uses every available rating.
        forms: tuple[tuple[Form, str, str], ...] = (("ICC2", "icc_a1", "listwise"),
                                                   ("ICC1", "icc_1", "listwise"),
                                                   ("ICC2", "icc_a1_reml", "reml"))
        # One float table for the three forms (was converted per form, cell by cell).
        num: Any = None
        unconvertible: ValueError | TypeError | None = None
        try:
            num = floats if floats is not None else \
                wide.where(wide.notna(), math.nan).astype(float)
        except (ValueError, TypeError) as e:  # every form fails the same way
            unconvertible = e
        for form, key, missing in forms:
            try:
                if unconvertible is not None:
                    raise unconvertible
                out.append((key, icc(num.copy(), form, ci=opts.ci, level=opts.level,
                                     missing=missing,  # type: ignore[arg-type]
                                     n_resamples=opts.n_resamples, seed=opts.seed)))
            except (StatsError, ValueError, TypeError) as e:
                out.append((key, _failed(key, e, n_raters)))
    return out


def pair_panel_coded(columns: Sequence[str], codes: Any, kind: str,
                     categories: Sequence[Any] | None, opts: CIOptions
                     ) -> list[tuple[str, str, str, AgreementResult]]:
    """``pair_panel`` of a table coded against its declared ``categories`` (items x raters
    ``codes``, -1 = missing; every answer declared), read from the codes."""
    from medreview.stats.coding import declared

    cols = list(columns)
    rows = []
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            b = cols[j]
            both = None if kind == "numeric" else (codes[:, i] >= 0) & (codes[:, j] >= 0)
            for key, weights in _pair_statistics(kind):
                try:
                    if kind == "numeric" or both is None or categories is None:
                        raise StatsError("pairwise kappa not defined for numeric answers")
                    if not both.any():
                        raise StatsError("no item rated by both")
                    res = _pair_result(key, weights,
                                       declared(codes[both][:, [i, j]], categories), opts)
                except StatsError as e:
                    res = _failed(key, e, 2)
                rows.append((a, b, key, res))
    return rows


def _pair_statistics(kind: str) -> tuple[tuple[str, str | None], ...]:
    """The heat map's statistics of a pair: (result key, kappa weights)."""
    ordinal = kind == "ordinal"
    return (("percent_agreement", None),
            ("cohen_kappa_quadratic" if ordinal else "cohen_kappa",
             "quadratic" if ordinal else None))


def _pair_result(key: str, weights: str | None, coded: Any, opts: CIOptions) -> AgreementResult:
    return (gwet_family(coded, "pa", None, opts, "bootstrap")
            if key == "percent_agreement" else kappa_coded(coded, weights, opts))


def pair_panel(wide: Any, kind: str, categories: Sequence[Any] | None, opts: CIOptions
               ) -> list[tuple[str, str, str, AgreementResult]]:
    """Percent agreement and Cohen's kappa for every pair of raters (the heat map)."""
    cols = list(wide.columns)
    rows = []
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            sub = wide[[a, b]]
            sub = sub[sub.notna().all(axis=1)]
            for key, weights in _pair_statistics(kind):
                try:
                    if kind == "numeric":
                        raise StatsError("pairwise kappa not defined for numeric answers")
                    if sub.shape[0] == 0:
                        raise StatsError("no item rated by both")
                    res = _pair_result(key, weights, encode(sub, categories), opts)
                except StatsError as e:
                    res = _failed(key, e, 2)
                rows.append((a, b, key, res))
    return rows
