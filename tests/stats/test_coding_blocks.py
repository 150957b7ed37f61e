"""``coding.encode``'s small-integer look-up converts a block of rows at a time (bounded
temporaries on 1M x 40 tables): every block size gives the codes of one pass, and a bad cell
in any block sends the whole table to the general path (which reports it) as before."""

from __future__ import annotations

import numpy as np
import pytest

from medreview.errors import StatsError
from medreview.stats import coding


def _table(rng: np.random.Generator, n: int = 257, r: int = 7) -> np.ndarray:
    x = rng.integers(1, 6, size=(n, r)).astype(np.float64)
    x[rng.random((n, r)) < 0.3] = np.nan
    return x


@pytest.mark.parametrize("block", [1, 7, 8, 50, 10_000])
@pytest.mark.parametrize("declared", [None, [1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5, 6]])
def test_every_block_size_gives_the_same_codes(monkeypatch: pytest.MonkeyPatch, block: int,
                                                declared: list[int] | None) -> None:
    x = _table(np.random.default_rng(block))
    whole = coding.encode(x, declared)
    monkeypatch.setattr(coding, "_LOOKUP_BLOCK", block)
    got = coding.encode(x, declared)
    assert got.codes.dtype == whole.codes.dtype
    np.testing.assert_array_equal(got.codes, whole.codes)
    assert got.categories == whole.categories
    # and the codes are right: each present cell's code names its value
    present = ~np.isnan(x)
    cats = np.asarray(got.categories, dtype=np.float64)
    np.testing.assert_array_equal(cats[got.codes[present]], x[present])
    assert (got.codes[~present] == -1).all()


@pytest.mark.parametrize("bad", [2.5, 9.0])
def test_a_bad_cell_in_a_late_block_is_reported_as_before(monkeypatch: pytest.MonkeyPatch,
                                                          bad: float) -> None:
    x = _table(np.random.default_rng(3))
    x[-1, -1] = bad  # last row: the last block of any size
    with pytest.raises(StatsError) as whole:
        coding.encode(x, [1, 2, 3, 4, 5])
    monkeypatch.setattr(coding, "_LOOKUP_BLOCK", 7)
    lookups: list[object] = []
    real = coding._small_int_lookup

    def spy(*args: object) -> object:
        out = real(*args)  # type: ignore[arg-type]
        lookups.append(out)
        return out

    monkeypatch.setattr(coding, "_small_int_lookup", spy)
    with pytest.raises(StatsError) as blocks:
        coding.encode(x, [1, 2, 3, 4, 5])
    assert str(blocks.value) == str(whole.value)
    assert lookups == [None]  # the look-up gave up: the general path worded the error
