"""The strict majority by one look-up per answer row equals the category-by-category count."""

from __future__ import annotations

import numpy as np
import pytest

from medreview.stats.majority import _by_row_key, _few, strict_majority


@pytest.mark.parametrize(("q", "raters", "dtype"),
                         [(2, 3, np.int64), (3, 3, np.int64), (2, 5, np.int32),
                          (5, 4, np.int8), (1, 2, np.int64), (7, 3, np.int64)])
def test_lookup_equals_counting(q: int, raters: int, dtype: type) -> None:
    rng = np.random.default_rng(q * 10 + raters)
    codes = rng.integers(-1, q, size=(8000, raters)).astype(dtype)
    got = _by_row_key(codes, q)
    assert got is not None
    want = _few(codes, q)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[0].dtype == want[0].dtype and got[1].dtype == want[1].dtype
    s = strict_majority(codes, q)
    assert np.array_equal(s[0], want[0]) and np.array_equal(s[1], want[1])


def test_odd_tables_are_counted() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 2, size=(5000, 3))
    codes[10, 1] = 2  # a code outside the categories: counted as before (ignored)
    assert _by_row_key(codes, 2) is None
    assert _by_row_key(rng.integers(-1, 8, size=(5000, 6)), 8) is None  # too many rows
    assert _by_row_key(codes[:20, :], 2) is None  # too few items to pay for a table
    s = strict_majority(codes, 2)
    want = _few(codes, 2)
    assert np.array_equal(s[0], want[0]) and np.array_equal(s[1], want[1])
