"""Rater quality over time: intra-rater test-retest, drift against the panel, time per item.

Plain values in, plain values out (no database, no Qt). The coefficients are the existing ones
(``cohen``, ``alpha``, ``icc``) applied to the right two-column tables:

* test-retest: a rater's first answer (column 1) against their blind re-rating (column 2);
* drift: a rater against the strict majority of the *other* physicians on the same item
  (leave-one-out), one coefficient per window of the rater's own work;
* operations: distribution-free summaries of time on task.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError
from medreview.stats.alpha import Level, krippendorff_alpha
from medreview.stats.bootstrap import bootstrap_ci
from medreview.stats.coding import FloatArray
from medreview.stats.cohen import cohen_kappa
from medreview.stats.distributions import norm_ppf
from medreview.stats.icc import icc
from medreview.stats.results import AgreementResult

Scale = Literal["nominal", "ordinal", "numeric"]
Window = Literal["week", "items"]

# Bounds so that no stored value can make a summary allocate or loop without bound.
MAX_TIME_S = 24 * 3600.0  # a time on task above a day is a clock error, not work
HIST_BINS = 12
MAX_CATEGORIES = 100  # undeclared categories beyond this are free text, not a scale
# A window with fewer compared units is reported but never flagged: its kappa is noise.
MIN_UNITS_TO_FLAG = 10


@dataclass(frozen=True, slots=True)  # millions at 1M judgments: no __dict__ each
class Answer:
    """One physician's final answer to one question of one item, with when it was made."""

    rater: str
    item: int  # the output id
    value: Any
    at: dt.datetime
    sub: str = ""  # the unit within the item (a case criterion's id), "" for one per item


@dataclass(frozen=True)
class Coefficient:
    """A named coefficient with its CI (NaN value only with ``note``)."""

    name: str
    value: float
    ci: tuple[float, float] | None
    n: int
    note: str = ""

    @classmethod
    def of(cls, name: str, res: AgreementResult) -> Coefficient:
        # Normal-approximation CIs of kappa can reach past its range; +-1 is the honest bound.
        ci = None if res.ci is None else (max(res.ci[0], -1.0), min(res.ci[1], 1.0))
        return cls(name, res.value, ci, res.n_items, res.note)

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else float(x)
        return {"name": self.name, "value": clean(self.value),
                "ci": None if self.ci is None else [clean(self.ci[0]), clean(self.ci[1])],
                "n": self.n, "note": self.note}


def _failed(name: str, err: Exception, n: int) -> Coefficient:
    return Coefficient(name, math.nan, None, n, f"undefined: {err}")


def _is_missing(v: Any) -> bool:
    """No usable answer: None, NaN, or anything but a scalar (a list or dict in a stored
    answer cannot be a category and is not hashable)."""
    if not isinstance(v, (str, int, float, bool)):
        return True
    return isinstance(v, float) and math.isnan(v)


def _too_many(values: Iterable[Any], categories: Sequence[Any] | None) -> str:
    """A note when undeclared categories are too many for a q x q table, else ""."""
    if categories is not None:
        return ""
    n = len(set(values))
    return (f"undefined: {n} distinct answers without declared categories (limit "
            f"{MAX_CATEGORIES})") if n > MAX_CATEGORIES else ""


def _numbers(values: Iterable[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# ---------------------------------------------------------------- test-retest


def retest(pairs: Sequence[tuple[Any, Any]], scale: Scale,
           categories: Sequence[Any] | None = None, *, ci: bool = True,
           n_resamples: int = 1000, seed: int = 20240601) -> list[Coefficient]:
    """Agreement of a rater with themselves: ``pairs`` = (first answer, blind re-rating).

    Nominal: Cohen's kappa and nominal alpha. Ordinal: linear-weighted kappa, ordinal alpha and
    the ICCs when the categories are numbers. Numeric: interval alpha, ICC(3,1) (consistency)
    and ICC(A,1) (absolute agreement; a systematic shift between the sessions lowers it).
    """
    rows = [(a, b) for a, b in pairs if not _is_missing(a) and not _is_missing(b)]
    n = len(rows)
    out: list[Coefficient] = []
    crowd = "" if scale == "numeric" else _too_many((v for r in rows for v in r), categories)
    if crowd:
        return [Coefficient("kappa", math.nan, None, n, crowd)]
    if scale != "numeric":
        weights = "linear" if scale == "ordinal" else None
        name = "kappa (linear)" if weights else "kappa"
        try:
            out.append(Coefficient.of(name, cohen_kappa(rows, weights, categories=categories,
                                                        ci=ci)))
        except StatsError as err:
            out.append(_failed(name, err, n))
    if scale == "numeric":
        out.append(interval_alpha_two(rows, ci=ci, n_resamples=n_resamples, seed=seed))
    else:
        level: Level = scale
        try:
            out.append(Coefficient.of("alpha", krippendorff_alpha(
                rows, level, categories=categories, ci=ci, n_resamples=n_resamples,
                seed=seed)))
        except StatsError as err:
            out.append(_failed("alpha", err, n))
    if scale == "numeric" or (scale == "ordinal" and _numbers(v for r in rows for v in r)):
        x = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
        for form, name in (("ICC3", "ICC(3,1)"), ("ICC2", "ICC(A,1)")):
            try:
                out.append(Coefficient.of(name, icc(x, form, ci=ci)))  # type: ignore[arg-type]
            except StatsError as err:
                out.append(_failed(name, err, n))
    return out


def _alpha_from_sums(sums: FloatArray, n: int) -> FloatArray:
    """Interval alpha of two complete columns from per-unit sums of (a-b)^2, a+b, a^2+b^2."""
    big_n = 2.0 * n
    d_o = 2.0 * sums[..., 0] / big_n
    d_e = 2.0 * (sums[..., 2] - sums[..., 1] ** 2 / big_n) / (big_n - 1.0)
    out: FloatArray = 1.0 - d_o / d_e
    return out


def interval_alpha_two(rows: Sequence[tuple[Any, Any]], *, ci: bool = True,
                       n_resamples: int = 1000, seed: int = 20240601,
                       level: float = 0.95) -> Coefficient:
    """Krippendorff's interval alpha of two complete numeric columns in closed form.

    The general routine builds a values x values coincidence matrix, which for continuous
    answers (every value distinct) grows with the square of the number of pairs; this one is
    linear. Same value as ``krippendorff_alpha(rows, "interval")``; percentile bootstrap CI
    over units.
    """
    try:
        x = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        return Coefficient("alpha", math.nan, None, len(rows), "undefined: non-numeric answers")
    x = x[np.isfinite(x).all(axis=1)]
    n = int(x.shape[0])
    if n < 2:
        return Coefficient("alpha", math.nan, None, n, "undefined: fewer than 2 pairs")
    a, b = x[:, 0], x[:, 1]
    feats = np.column_stack([(a - b) ** 2, a + b, a * a + b * b])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(_alpha_from_sums(feats.sum(axis=0), n))
    if not math.isfinite(value):
        return Coefficient("alpha", math.nan, None, n, "undefined: no variation")
    interval = None
    if ci:
        boot = bootstrap_ci(feats, lambda s: _alpha_from_sums(s, n), n_resamples=n_resamples,
                            seed=seed, level=level)
        interval = None if boot is None else (boot.low, boot.high)
    return Coefficient("alpha", value, interval, n)


# ---------------------------------------------------------------- drift


@dataclass(frozen=True)
class DriftWindow:
    label: str  # "2026-W14" or "items 1-50"
    start: dt.datetime
    n_items: int  # the rater's items (outputs) in the window
    n_compared: int  # units (item x criterion) where the other physicians had a strict majority
    kappa: Coefficient
    flagged: bool  # point estimate below the threshold (on enough units to mean something)
    enough: bool = True  # compared at least the minimum units for a flag

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start": self.start.isoformat(), "n_items": self.n_items,
                "n_compared": self.n_compared, "kappa": self.kappa.to_dict(),
                "flagged": self.flagged, "enough_units": self.enough}


def _loo_majority(others: Sequence[Any]) -> Any | None:
    """The strict majority of the other raters' answers, or None (tie, nobody else)."""
    if not others:
        return None
    counts = Counter(others).most_common(2)
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def _window_keys(mine: Sequence[Answer], window: Window, size: int
                 ) -> list[tuple[str, list[Answer]]]:
    ordered = sorted(mine, key=lambda a: (a.at, a.item, a.sub))
    groups: dict[str, list[Answer]] = {}
    seen: dict[int, int] = {}  # output id -> its position in the rater's own order
    for a in ordered:
        i = seen.setdefault(a.item, len(seen))
        if window == "week":
            y, w, _ = a.at.isocalendar()
            key = f"{y}-W{w:02d}"
        else:
            lo = (i // size) * size
            key = f"items {lo + 1}-{lo + size}"
        groups.setdefault(key, []).append(a)
    return list(groups.items())


def drift(answers: Sequence[Answer], rater: str, scale: Scale,
          categories: Sequence[Any] | None = None, *, window: Window = "week",
          size: int = 50, threshold: float = 0.6, ci: bool = True,
          min_units: int = MIN_UNITS_TO_FLAG) -> list[DriftWindow]:
    """Cohen's kappa of ``rater`` against the leave-one-out majority, per window of their work.

    Windows are ISO calendar weeks of the answer's time, or runs of ``size`` items in the
    rater's own order. Items where the others tie or nobody else answered are counted but not
    compared. Ordinal questions use linear weights. A window is flagged when its kappa is
    below ``threshold`` and it compared at least ``min_units`` units.
    """
    return drift_by_rater(answers, (rater,), scale, categories, window=window, size=size,
                          threshold=threshold, ci=ci, min_units=min_units)[rater]


def drift_by_rater(answers: Sequence[Answer], raters: Iterable[str], scale: Scale,
                   categories: Sequence[Any] | None = None, *, window: Window = "week",
                   size: int = 50, threshold: float = 0.6, ci: bool = True,
                   min_units: int = MIN_UNITS_TO_FLAG) -> dict[str, list[DriftWindow]]:
    """``drift`` of each of ``raters``, the answers grouped by item once for all of them
    (one pass, not one per rater: a report at 100,000 answers asks for every rater)."""
    if scale == "numeric":
        raise StatsError("drift is computed for categorical questions", item="question")
    if window == "items" and not 1 <= size <= 100_000:
        raise StatsError(f"window of {size} items; choose 1 to 100000", item="window")
    wanted = set(raters)
    # (item, unit) -> (rater, value) of every usable answer, in the answers' order: the
    # others' answers of one rater are this list without theirs, in the same order. A unit
    # one rater answered holds that pair alone, not a list (most units, at 1M: memory); by
    # unit, then item (integer keys, no key tuple per answer).
    by_item: dict[str, dict[int, _Pairs]] = {}
    mine: dict[str, list[Answer]] = {r: [] for r in wanted}
    usable = (bool, int, str)  # never missing: no call to ask (floats may be NaN)
    for a in answers:
        value = a.value
        if value.__class__ not in usable and _is_missing(value):
            continue
        who = a.rater
        if who in wanted:
            mine[who].append(a)
        items = by_item.get(a.sub)
        if items is None:
            items = by_item[a.sub] = {}
        key = a.item
        found = items.get(key)
        if found is None:
            items[key] = (who, value)
        elif isinstance(found, list):
            found.append((who, value))
        else:
            items[key] = [found, (who, value)]
    return {r: _drift_windows(r, mine[r], by_item, scale, categories, window, size, threshold,
                              ci, min_units) for r in wanted}


_Pairs = tuple[str, Any] | list[tuple[str, Any]]  # (rater, value) of a unit: one, or several


def _drift_windows(rater: str, mine: list[Answer],
                   by_item: Mapping[str, Mapping[int, _Pairs]], scale: Scale,
                   categories: Sequence[Any] | None, window: Window, size: int,
                   threshold: float, ci: bool, min_units: int) -> list[DriftWindow]:
    weights = "linear" if scale == "ordinal" else None
    out: list[DriftWindow] = []
    for label, group in _window_keys(mine, window, size):
        rows = []
        for a in group:
            found = by_item[a.sub][a.item]
            if not isinstance(found, list):  # nobody else answered (the rater's own pair)
                continue
            ref = _loo_majority([v for who, v in found if who != rater])
            if ref is not None:
                rows.append((a.value, ref))
        try:
            if not rows:
                raise StatsError("no item with a majority of the other raters", item=label)
            crowd = _too_many((v for r in rows for v in r), categories)
            if crowd:
                raise StatsError(crowd.removeprefix("undefined: "), item=label)
            k = Coefficient.of("kappa", cohen_kappa(rows, weights, categories=categories,
                                                    ci=ci))
        except StatsError as err:
            k = _failed("kappa", err, len(rows))
        flagged = len(rows) >= min_units and not math.isnan(k.value) and k.value < threshold
        n_items = len({a.item for a in group})
        out.append(DriftWindow(label, group[0].at, n_items, len(rows), k, flagged,
                               len(rows) >= min_units))
    return out


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class TimeSummary:
    n: int  # finished items with a usable time
    n_unrecorded: int  # zero, negative, non-finite or implausibly long times, left out
    median: float
    median_ci: tuple[float, float] | None  # distribution-free (order statistics)
    q1: float
    q3: float
    histogram: tuple[tuple[float, float, int], ...]  # (low, high, count)

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else float(x)
        return {"n": self.n, "n_unrecorded": self.n_unrecorded, "median": clean(self.median),
                "median_ci": None if self.median_ci is None else list(self.median_ci),
                "q1": clean(self.q1), "q3": clean(self.q3),
                "histogram": [list(b) for b in self.histogram]}


def _median_ci(x: np.ndarray[Any, np.dtype[np.float64]], level: float
               ) -> tuple[float, float] | None:
    """Order-statistic CI of the median (normal approximation to the binomial ranks)."""
    n = x.size
    if n < 6:
        return None
    z = norm_ppf(0.5 + level / 2.0)
    lo = max(math.floor(n / 2.0 - z * math.sqrt(n) / 2.0), 1)
    hi = min(math.ceil(n / 2.0 + z * math.sqrt(n) / 2.0) + 1, n)
    return float(x[lo - 1]), float(x[hi - 1])


def usable_times(times: Iterable[Any]) -> tuple[list[float], int]:
    """(plausible times in seconds, how many were left out as unrecorded or impossible)."""
    good: list[float] = []
    bad = 0
    for t in times:
        v = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else math.nan
        if math.isfinite(v) and 0.0 < v <= MAX_TIME_S:
            good.append(v)
        else:
            bad += 1
    return good, bad


def time_summary(times: Iterable[Any], *, level: float = 0.95) -> TimeSummary:
    """Median (with CI), quartiles and a histogram of times on task in seconds."""
    good, bad = usable_times(times)
    x = np.sort(np.asarray(good, dtype=np.float64))
    if x.size == 0:
        return TimeSummary(0, bad, math.nan, None, math.nan, math.nan, ())
    q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
    top = float(np.quantile(x, 0.99)) if x.size >= 100 else float(x[-1])
    edges = np.linspace(0.0, max(top, 1e-9), HIST_BINS + 1)
    counts = np.histogram(np.minimum(x, edges[-1]), bins=edges)[0]
    hist = tuple((float(edges[i]), float(edges[i + 1]), int(counts[i]))
                 for i in range(HIST_BINS))
    return TimeSummary(int(x.size), bad, med, _median_ci(x, level), q1, q3, hist)


def done_per_day(times: Iterable[dt.datetime]) -> list[tuple[dt.date, int, int]]:
    """(day, items finished that day, cumulative) in date order."""
    counts = Counter(t.date() for t in times)
    out: list[tuple[dt.date, int, int]] = []
    total = 0
    for day in sorted(counts):
        total += counts[day]
        out.append((day, counts[day], total))
    return out


def scale_of(kind: str) -> Scale | None:
    """The measurement scale of a question kind (``QuestionKind`` value), None if not rated."""
    scales: dict[str, Scale] = {"criterion": "nominal", "single_choice": "nominal",
                                "pairwise": "nominal", "ordinal": "ordinal", "number": "numeric"}
    return scales.get(kind)


def categories_of(kind: str, option_values: Sequence[Any]) -> tuple[Any, ...] | None:
    """Declared categories (criterion: False/True), None for numbers or undeclared options."""
    if kind == "criterion":
        return (False, True)
    if kind == "pairwise" and not option_values:
        return ("A", "B", "tie")
    if option_values and kind != "number":
        return tuple(option_values)
    return None


def busiest(counts: Mapping[str, int]) -> str | None:
    """The key with the most units (ties: first in name order)."""
    if not counts:
        return None
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
