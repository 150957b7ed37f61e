"""Seeded, vectorised item (cluster) bootstrap for statistics that are functions of sums.

Every statistic here is ``finalize(sum_i features[i])``: per-item additive contributions
(coincidence rows, p_a terms, confusion counts). A resample is a vector of multinomial item
counts ``c``; its statistic is ``finalize(c @ features)``. Drawing the counts for a block of
replicates and one matrix product per block replaces B separate recomputations.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

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


# The resample counts depend only on (items, replicates, seed), not on the statistic: a panel
# of statistics over one question's items draws the same counts several times. Recent draws
# are kept (as uint8: an item is drawn more than 255 times in one replicate only in theory)
# up to this many bytes in all.
_CACHE_BYTES = 96_000_000
_cache_lock = threading.Lock()
_cache: dict[tuple[int, int, int], npt.NDArray[np.uint8]] = {}


def _count_blocks(n: int, n_resamples: int, seed: int) -> Iterator[npt.NDArray[Any]]:
    """Blocks of multinomial item counts, (replicates x items), in replicate order."""
    rng = np.random.default_rng(seed)
    block = max(1, min(n_resamples, _BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
        idx += (np.arange(b, dtype=np.int64) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        done += b


def _cached_counts(n: int, n_resamples: int, seed: int) -> npt.NDArray[np.uint8] | None:
    if n * n_resamples > _CACHE_BYTES:
        return None
    key = (n, n_resamples, seed)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    blocks = list(_count_blocks(n, n_resamples, seed))
    if max(int(b.max()) for b in blocks) > 255:
        return None
    counts = np.concatenate(blocks).astype(np.uint8)
    with _cache_lock:
        # Least recently stored first out, within the byte budget: statistics of one question
        # alternate between a few item counts (all items, pairable items, judged items).
        while _cache and sum(c.nbytes for c in _cache.values()) + counts.nbytes > _CACHE_BYTES:
            del _cache[next(iter(_cache))]
        _cache[key] = counts
    return counts


def resample_sums(features: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """``(n_resamples, d)`` sums of features over multinomially resampled items."""
    n, d = features.shape
    out = np.empty((n_resamples, d), dtype=np.float64)
    cached = _cached_counts(n, n_resamples, seed)
    if cached is not None:
        block = max(1, min(n_resamples, _BLOCK_ELEMENTS // max(n, 1)))
        for start in range(0, n_resamples, block):
            stop = min(start + block, n_resamples)
            out[start:stop] = cached[start:stop].astype(np.float64) @ features
        return out
    done = 0
    for counts in _count_blocks(n, n_resamples, seed):
        b = counts.shape[0]
        out[done:done + b] = counts.astype(np.float64) @ features
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
