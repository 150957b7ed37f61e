"""Seeded, vectorised item (cluster) bootstrap for statistics that are functions of sums.

Every statistic here is ``finalize(sum_i features[i])``: per-item additive contributions
(coincidence rows, p_a terms, confusion counts). A resample is a vector of multinomial item
counts ``c``; its statistic is ``finalize(c @ features)``. Drawing the counts for a block of
replicates and one matrix product per block replaces B separate recomputations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medreview.stats.coding import FloatArray

Finalize = Callable[[FloatArray], FloatArray]

# Elements of the (replicates x items) count block held in memory at once (~32 MB float64).
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class BootstrapCI:
    low: float
    high: float
    n_resamples: int
    dropped: int
    seed: int

    @property
    def method(self) -> str:
        return (f"percentile bootstrap over items (B={self.n_resamples}, seed={self.seed}, "
                f"{self.dropped} undefined replicates dropped)")


def resample_sums(features: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """``(n_resamples, d)`` sums of features over multinomially resampled items."""
    n, d = features.shape
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, d), dtype=np.float64)
    block = max(1, min(n_resamples, _BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        out[done:done + b] = counts @ features
        done += b
    return out


def bootstrap_ci(
    features: FloatArray,
    finalize: Finalize,
    *,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
) -> BootstrapCI | None:
    """Percentile CI; None when fewer than 2 items or every replicate is undefined."""
    if features.shape[0] < 2 or n_resamples < 1:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = finalize(resample_sums(features, n_resamples, seed))
    ok = np.isfinite(stats)
    kept = stats[ok]
    if kept.size == 0:
        return None
    a = (1.0 - level) / 2.0
    low, high = np.quantile(kept, [a, 1.0 - a])
    return BootstrapCI(float(low), float(high), n_resamples, int((~ok).sum()), seed)
