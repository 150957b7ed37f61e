"""Item keys of (output, question) tables: the same keys as read value by value, their int
and str objects shared between the key lists of one table (memory of big results)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medreview.stats.disagreement import item_keys, select


def test_keys_equal_and_objects_shared() -> None:
    rng = np.random.default_rng(3)
    outs = rng.integers(1_000, 2_000, 600)
    qids = [f"criterion:c{i % 50}-{i % 5}" for i in range(600)]
    index = pd.MultiIndex.from_arrays([outs, pd.Series(qids, dtype="str")],
                                      names=["output_id", "question_id"])
    a = item_keys(select(index, rng.random(600) < 0.5), "x")
    b = item_keys(select(index, rng.random(600) < 0.5), "x")
    for keys, mask in ((a, None), (b, None)):
        assert all(type(o) is int and type(q) is str for o, q in keys), mask
    want = list(zip(map(int, index.get_level_values(0)), map(str, index.get_level_values(1)),
                    strict=True))
    assert set(a) <= set(want) and set(b) <= set(want)
    assert item_keys(index, "x") == want
    common = {k[1] for k in a} & {k[1] for k in b}
    by_a = {q: q_obj for _, q_obj in a for q in [q_obj]}
    assert common and all(by_a[q] is next(k[1] for k in b if k[1] == q) for q in common)
    # a missing level value: read value by value, as before
    nan_index = pd.MultiIndex.from_arrays([[1, 2], ["a", None]])
    assert item_keys(nan_index, "x")[0] == (1, "a")
