"""The chance family's per-item features made per distinct count row equal the row-by-row
ones exactly (bit for bit), and odd count matrices fall back to the row-by-row path."""

from __future__ import annotations

import numpy as np
import pytest

from medreview.stats.chance import _DISTINCT_MIN, _distinct_rows, _features, _row_features
from medreview.stats.weights import weight_matrix


def _counts(rng: np.random.Generator, n: int, q: int, raters: int) -> np.ndarray:
    """Per item, how many of ``raters`` (some missing) chose each of ``q`` categories."""
    codes = rng.integers(-1, q, size=(n, raters))
    codes[:, 0] = rng.integers(0, q, size=n)  # (every item rated: as the family reads them)
    c = np.zeros((n, q))
    for k in range(q):
        c[:, k] = (codes == k).sum(axis=1)
    return c


@pytest.mark.parametrize(("q", "raters", "weights"),
                         [(2, 3, None), (3, 4, None), (5, 3, "quadratic"), (4, 7, "linear"),
                          (12, 30, None)])
def test_distinct_rows_match_row_by_row(q: int, raters: int, weights: str | None) -> None:
    rng = np.random.default_rng(q * 100 + raters)
    c = _counts(rng, 3 * _DISTINCT_MIN + 17, q, raters)
    w, _ = weight_matrix(weights, np.arange(q, dtype=float))
    got, want = _features(c, w), _row_features(c, w)
    assert got.shape == want.shape
    assert np.array_equal(got, want)  # NaN-free: the same bits
    rows, which = _distinct_rows(c)  # type: ignore[misc]
    assert np.array_equal(rows[which], c)
    assert len(rows) < len(c)


def test_odd_counts_fall_back() -> None:
    rng = np.random.default_rng(1)
    c = _counts(rng, _DISTINCT_MIN, 3, 3)
    frac = c.copy()
    frac[5, 1] += 0.5
    neg = c.copy()
    neg[7, 0] = -1.0
    inf = c.copy()
    inf[9, 2] = np.inf
    huge = c.copy()
    huge[0, 0] = 2.0**40  # base**q past int64
    for odd in (frac, neg, inf, huge):
        assert _distinct_rows(odd) is None
    w, _ = weight_matrix(None, np.arange(3, dtype=float))
    assert np.array_equal(_features(frac, w), _row_features(frac, w))
