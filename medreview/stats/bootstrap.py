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
from typing import Any, Literal

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
# of statistics over one question's items draws the same counts several times, and drawing
# them (random integers + bincount) costs more than the statistics. Recent draws are kept (as
# uint8: an item is drawn more than 255 times in one replicate only in theory) up to this
# many bytes in all; ``clear_cache`` frees them when a batch of statistics is done
# (``project_stats`` does), so a long-lived process does not hold them.
_CACHE_BYTES = 400_000_000
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
    counts = np.empty((n_resamples, n), dtype=np.uint8)  # filled block by block: no int64
    done = 0                                               # copy of the whole draw
    for block in _count_blocks(n, n_resamples, seed):
        if int(block.max()) > 255:
            return None
        counts[done:done + block.shape[0]] = block
        done += block.shape[0]
    with _cache_lock:
        # Least recently stored first out, within the byte budget: statistics of one question
        # alternate between a few item counts (all items, pairable items, judged items).
        while _cache and sum(c.nbytes for c in _cache.values()) + counts.nbytes > _CACHE_BYTES:
            del _cache[next(iter(_cache))]
        _cache[key] = counts
    return counts


# Items whose feature rows are equal contribute alike: a resample's sums are then the group
# sums of its item counts times the distinct rows. Agreement features are functions of an
# item's few answers, so hundreds of thousands of items fall into a few dozen groups, and the
# group sums are counted straight from the drawn item indices (the same random draws, so the
# same replicates). The statistics of one table group its items differently (finer for
# per-rater coefficients, coarser for percent agreement), so the draw is made for the
# common refinement of the groupings seen for those items, and every grouping it refines is
# summed from it (integer counts: exact) instead of drawn again.
_MAX_GROUPS = 512
_PROJECTION_SEED = 17
_CHECK_ELEMENTS = 1 << 20
# From this many items on, a replicate's group counts are drawn directly from the
# multinomial distribution they follow (n draws over the groups, each with probability
# group size / n) instead of by drawing n item indices: the same distribution of replicates
# (so of intervals) from other random numbers, at a cost that no longer grows with the items
# (issue #17: 95 % CIs over a million judgments). Below it the replicates are the item draws,
# as they always were.
MULTINOMIAL_ITEMS = 50_000
_MAX_JOINED = 8192
_GROUP_CACHE_KEYS = 16
_group_cache: dict[tuple[int, int, int], tuple[npt.NDArray[np.int64], FloatArray]] = {}


def clear_cache() -> None:
    """Drop the kept resample counts and group sums."""
    with _cache_lock:
        _cache.clear()
        _group_cache.clear()


def _groups(features: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray] | None:
    """(group of each item, the distinct feature rows) when the rows take few distinct
    values; None otherwise. Groups are numbered in order of first appearance."""
    n = features.shape[0]
    limit = min(_MAX_GROUPS, n // 4)
    if limit < 2 or not np.all(np.isfinite(features)):
        return None
    got = _projected_groups(features, limit)
    return _column_groups(features, limit) if got is False else got


def _projected_groups(features: FloatArray, limit: int
                      ) -> tuple[npt.NDArray[np.int64], FloatArray] | Literal[False] | None:
    """The groups from one hash pass over a fixed random projection of the rows (distinct
    projections are distinct rows), checked row by row: False when two distinct rows share
    a projection (then ``_column_groups``), None when there are too many groups. One pass
    instead of one per column (63 columns for a two-way ICC)."""
    import pandas as pd

    d = features.shape[1]
    proj = features @ np.random.default_rng(_PROJECTION_SEED).uniform(1.0, 2.0, d)
    labels, first = pd.factorize(proj)
    if len(first) > limit:
        return None
    rows = np.empty((len(first), d), dtype=np.float64)
    rows[labels] = features
    step = max(1, _CHECK_ELEMENTS // max(d, 1))  # (no second copy of the features)
    for lo in range(0, features.shape[0], step):
        if not np.array_equal(rows.take(labels[lo:lo + step], axis=0), features[lo:lo + step]):
            return False
    return labels.astype(np.int64), rows


def _column_groups(features: FloatArray, limit: int
                   ) -> tuple[npt.NDArray[np.int64], FloatArray] | None:
    """The groups from the columns coded one by one (hashing, no sort of the rows)."""
    import pandas as pd

    n, d = features.shape
    key = np.zeros(n, dtype=np.int64)
    width = 1
    for col in range(d):
        codes, uniq = pd.factorize(features[:, col])
        if len(uniq) > limit:
            return None
        if width * len(uniq) > 2**40:  # recode the key so far: its distinct values only
            key, first = pd.factorize(key)
            width = len(first)
        key = key * len(uniq) + codes
        width *= len(uniq)
    labels, first = pd.factorize(key)
    if len(first) > limit:
        return None
    rows = np.empty((len(first), d), dtype=np.float64)
    rows[labels] = features  # every item writes its group's row: equal rows, same values
    return labels.astype(np.int64), rows


def _coarsening(fine: npt.NDArray[np.int64], n_fine: int, coarse: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.int64] | None:
    """The map fine group -> coarse group when every fine group lies in one coarse group."""
    m = np.zeros(n_fine, dtype=np.int64)
    m[fine] = coarse
    return m if np.array_equal(m.take(fine), coarse) else None


def _draw_group_sums(labels: npt.NDArray[np.int64], g: int, n_resamples: int,
                     seed: int) -> FloatArray:
    """(replicates x groups) counts of draws per group: ``_count_blocks`` summed by group,
    from the same draws without the (replicates x items) count matrix."""
    n = labels.shape[0]
    out = np.empty((n_resamples, g), dtype=np.float64)
    rng = np.random.default_rng(seed)
    block = max(1, min(n_resamples, _BLOCK_ELEMENTS // max(n, 1)))  # as _count_blocks
    done = 0
    while done < n_resamples:
        b = min(block, n_resamples - done)
        idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
        cell = labels.take(idx)
        cell += (np.arange(b, dtype=np.int64) * g)[:, None]
        out[done:done + b] = np.bincount(cell.ravel(), minlength=b * g).reshape(b, g)
        done += b
    return out


def _group_sums(labels: npt.NDArray[np.int64], g: int, n_resamples: int,
                seed: int) -> FloatArray:
    """(replicates x groups) draws per group, from the kept draw of a refinement if any."""
    import pandas as pd

    if labels.shape[0] >= MULTINOMIAL_ITEMS:
        return _multinomial_group_sums(labels, g, n_resamples, seed)
    key = (labels.shape[0], n_resamples, seed)
    with _cache_lock:
        kept = _group_cache.get(key)
    draw_labels, n_draw = labels, g
    if kept is not None:
        m = _coarsening(kept[0], kept[1].shape[1], labels)
        if m is not None:
            return _merge(kept[1], m, g)
        joined, uniq = pd.factorize(kept[0] * g + labels)
        if len(uniq) <= _MAX_JOINED:  # draw once for both groupings (and what they refine)
            draw_labels, n_draw = joined.astype(np.int64), len(uniq)
    sums = _draw_group_sums(draw_labels, n_draw, n_resamples, seed)
    with _cache_lock:
        _group_cache.pop(key, None)
        while len(_group_cache) >= _GROUP_CACHE_KEYS:
            del _group_cache[next(iter(_group_cache))]
        _group_cache[key] = (draw_labels, sums)
    if n_draw == g:
        return sums
    m = _coarsening(draw_labels, n_draw, labels)
    assert m is not None  # the joined grouping refines ``labels`` by construction
    return _merge(sums, m, g)


def _multinomial_group_sums(labels: npt.NDArray[np.int64], g: int, n_resamples: int,
                            seed: int) -> FloatArray:
    """(replicates x groups) counts ~ Multinomial(n, group sizes / n), one row a replicate:
    the distribution of the draws per group when n items are drawn with replacement."""
    n = labels.shape[0]
    sizes = np.bincount(labels, minlength=g)
    rng = np.random.default_rng(seed)
    out: FloatArray = rng.multinomial(n, sizes / n, size=n_resamples).astype(np.float64)
    return out


def _merge(sums: FloatArray, m: npt.NDArray[np.int64], g: int) -> FloatArray:
    """Columns of ``sums`` added into ``g`` groups by the map ``m`` (exact: integer counts)."""
    out = np.zeros((sums.shape[0], g), dtype=np.float64)
    np.add.at(out.T, m, sums.T)
    return out


def resample_sums(features: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """``(n_resamples, d)`` sums of features over multinomially resampled items."""
    n, d = features.shape
    grouped = _groups(features)
    if grouped is not None:
        labels, rows = grouped
        summed: FloatArray = _group_sums(labels, rows.shape[0], n_resamples, seed) @ rows
        return summed
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
