"""Calibration of a judge's confidence: ECE, MCE, Brier score and reliability-diagram bins.

Bins are right-closed like ``sklearn.calibration_curve`` (a confidence equal to an inner edge
goes to the lower bin; 0 goes to the first bin, 1 to the last). Unlike sklearn, empty bins are
kept (count 0, NaN rates) so a bin's identity never shifts. ECE is count-weighted
(sum_b n_b/N |acc_b - conf_b|); MCE is the max over non-empty bins. Brier is the binary form
(mean squared error of the confidence against the 0/1 or soft outcome, range 0-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medreview.errors import StatsError

Strategy = Literal["uniform", "quantile"]


@dataclass(frozen=True)
class Calibration:
    ece: float
    mce: float
    brier: float
    n: int
    strategy: str
    n_bins: int
    bins: Any  # pandas DataFrame: bin, lower, upper, count, mean_confidence, observed_rate

    def to_dict(self) -> dict[str, Any]:
        rows = self.bins.astype(object).where(self.bins.notna(), None).to_dict("records")
        return {"ece": self.ece, "mce": self.mce, "brier": self.brier, "n": self.n,
                "strategy": self.strategy, "n_bins": self.n_bins, "bins": rows}


def calibration(confidence: Any, correct: Any, bins: int = 10,
                strategy: Strategy = "uniform") -> Calibration:
    """Reliability of ``confidence`` (P(met) in [0, 1]) against ``correct`` (0/1 or soft)."""
    import pandas as pd

    p = np.asarray(confidence, dtype=np.float64).ravel()
    y = np.asarray(correct, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise StatsError(f"confidence and outcome lengths differ ({p.size} vs {y.size})",
                         item="calibration")
    keep = ~(np.isnan(p) | np.isnan(y))
    p, y = p[keep], y[keep]
    if p.size == 0:
        raise StatsError("no item has both a confidence and an outcome", item="calibration")
    if np.any((p < 0) | (p > 1)) or np.any((y < 0) | (y > 1)):
        raise StatsError("confidences and outcomes must lie in [0, 1]", item="calibration")
    if bins < 1:
        raise StatsError("bins must be >= 1", item="bins")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1))
        edges[0], edges[-1] = min(edges[0], 0.0), max(edges[-1], 1.0)
    else:
        raise StatsError(f"unknown strategy {strategy!r}", item="strategy")
    ids = np.searchsorted(edges[1:-1], p, side="left")
    count = np.bincount(ids, minlength=bins).astype(np.float64)
    sum_p = np.bincount(ids, weights=p, minlength=bins)
    sum_y = np.bincount(ids, weights=y, minlength=bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        conf = np.where(count > 0, sum_p / count, np.nan)
        acc = np.where(count > 0, sum_y / count, np.nan)
    gap = np.abs(acc - conf)
    nonempty = count > 0
    ece = float((count[nonempty] / p.size * gap[nonempty]).sum())
    mce = float(gap[nonempty].max())
    brier = float(((p - y) ** 2).mean())
    table = pd.DataFrame({"bin": np.arange(bins), "lower": edges[:-1], "upper": edges[1:],
                          "count": count.astype(int), "mean_confidence": conf,
                          "observed_rate": acc})
    return Calibration(ece, mce, brier, int(p.size), strategy, bins, table)
