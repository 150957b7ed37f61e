"""The duplicate check's integer columns coded by offset give the same duplicates as
``DataFrame.duplicated`` (negative, sparse and huge ids included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medreview.stats import tables


@pytest.mark.parametrize(("lo", "hi"), [(0, 5), (-7, 3), (-2**62, 2**62), (10**12, 10**12 + 40)])
def test_offsets_find_the_same_duplicates(lo: int, hi: int) -> None:
    rng = np.random.default_rng(abs(lo) % 97)
    n = 400
    df = pd.DataFrame({"output_id": rng.integers(lo, hi, n, dtype=np.int64),
                       "rater": rng.choice(["a", "b"], n),
                       "question_id": rng.choice(["q", "r", "s"], n)})
    cols = ["output_id", "rater", "question_id"]
    assert tables._duplicated(df, cols).equals(df.duplicated(cols))
    codes, width = tables._offsets(df["output_id"])
    assert (codes is None) == (hi - lo > 4 * n + 1024)
    if codes is not None:
        assert codes.min() >= 0 and codes.max() < width
    unique = df.drop_duplicates(cols)
    assert not tables._repeats(tables._row_keys(unique, cols))


def test_nullable_integers_are_hashed() -> None:
    df = pd.DataFrame({"output_id": pd.array([1, None, 1, None, 2], dtype="Int64"),
                       "rater": ["a", "a", "a", "a", "a"], "question_id": ["q"] * 5})
    cols = ["output_id", "rater", "question_id"]
    assert tables._offsets(df["output_id"])[0] is None
    assert tables._duplicated(df, cols).equals(df.duplicated(cols))
