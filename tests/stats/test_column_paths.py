"""The column-wise fast paths give what the row-wise code they replace gives, value for value
(types included): ``to_wide`` against ``DataFrame.pivot``, answer coding against the per-value
path, item keys against the per-key rule, rank correlations against the sort-based ones."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medreview.errors import StatsError
from medreview.stats import coding, distributions, tables
from medreview.stats.disagreement import item_keys

VALUES: list[Any] = [None, float("nan"), True, False, 1, 0, 2.5, 3.0, "x", "True", [1],
                     {"category": "omission"}]


def _long(rng: np.random.Generator, n: int, values: list[Any]) -> pd.DataFrame:
    df = pd.DataFrame({"output_id": rng.integers(0, 15, n),
                       "question_id": rng.choice(["q1", "q2", "crit:b", "crit:a"], n),
                       "rater": rng.choice(["Dr B", "Dr A", "judge: x", "z"], n)})
    df = df.drop_duplicates(["output_id", "question_id", "rater"])
    pick = rng.integers(0, len(values), len(df))
    return df.assign(value=pd.Series([values[i] for i in pick], dtype=object, index=df.index))


def _pivot(long: pd.DataFrame, index: Any) -> pd.DataFrame:
    w = long.pivot(index=index, columns="rater", values="value")
    w = w.astype(object).where(w.notna(), None)
    w.columns = [str(c) for c in w.columns]
    return w


def _same_cells(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
    assert a.shape == b.shape
    for x, y in zip(a.ravel(), b.ravel(), strict=True):
        assert x is y or (type(x) is type(y) and x == y), (x, y)


@pytest.mark.parametrize("seed", range(40))
def test_to_wide_equals_pivot(seed: int) -> None:
    rng = np.random.default_rng(seed)
    df = _long(rng, int(rng.integers(1, 80)), VALUES)
    for index in ("output_id", ["output_id", "question_id"]):
        sub = df if index != "output_id" else df.drop_duplicates(["output_id", "rater"])
        got, want = tables.to_wide(sub, index), _pivot(sub, index)
        assert tables._wide_by_codes(sub, index, "value") is not None  # the fast path ran
        assert got.index.equals(want.index) and got.index.names == want.index.names
        assert list(got.columns) == list(want.columns)
        assert list(got.dtypes) == list(want.dtypes) and got.index.dtype == want.index.dtype
        _same_cells(got.to_numpy(), want.to_numpy())


def test_to_wide_leaves_duplicates_and_typed_columns_to_pivot() -> None:
    dup = pd.DataFrame({"output_id": [1, 1], "rater": ["a", "a"],
                        "value": pd.Series([True, False], dtype=object)})
    assert tables._wide_by_codes(dup, "output_id", "value") is None
    with pytest.raises(ValueError):
        tables.to_wide(dup)
    ints = pd.DataFrame({"output_id": [1, 2], "rater": ["a", "b"], "value": [1, 2]})
    assert tables._wide_by_codes(ints, "output_id", "value") is None
    _same_cells(tables.to_wide(ints).to_numpy(), _pivot(ints, "output_id").to_numpy())


def _slow_encode(arr: np.ndarray[Any, Any], cats: Any) -> Any:
    saved = coding._factorized_codes
    coding._factorized_codes = lambda *a: None  # type: ignore[assignment]
    try:
        return coding.encode(arr, cats)
    finally:
        coding._factorized_codes = saved


@pytest.mark.parametrize("seed", range(40))
def test_encode_fast_path_equals_the_per_value_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pools: list[list[Any]] = [[True, False, None, 1, 0, float("nan")],
                              [1, 2, 3, 2.0, None, np.int64(3), float("nan")],
                              ["A", "B", "tie", None], [1, 2, "x", None, 7]]
    pool = pools[seed % len(pools)]
    shape = (int(rng.integers(1, 30)), int(rng.integers(1, 5)))
    arr = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        arr[idx] = pool[int(rng.integers(0, len(pool)))]
    for cats in (None, (False, True), (1, 2, 3), ("A", "B", "tie")):
        try:
            want = _slow_encode(arr, cats)
        except StatsError as e:
            with pytest.raises(StatsError) as got_err:
                coding.encode(arr, cats)
            assert str(got_err.value) == str(e)
            continue
        got = coding.encode(arr, cats)
        assert np.array_equal(got.codes, want.codes)
        assert got.categories == want.categories
        assert [type(c) for c in got.categories] == [type(c) for c in want.categories]
        assert np.array_equal(got.values, want.values) and got.numeric == want.numeric


def test_item_keys_by_level_equal_the_per_key_rule() -> None:
    mi = pd.MultiIndex.from_arrays([[3, 1, 2], ["b", "a", "c"]], names=["o", "q"])
    assert item_keys(mi, "x") == [(3, "b"), (1, "a"), (2, "c")]
    assert item_keys(pd.Index([5, 4]), "q") == [(5, "q"), (4, "q")]
    assert item_keys([(7, "z"), 8], "q") == [(7, "z"), (8, "q")]
    assert all(type(o) is int and type(q) is str for o, q in item_keys(mi, "x"))


@pytest.mark.parametrize("seed", range(60))
def test_rank_correlations_from_tables_equal_the_sort_based_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    kind = seed % 4
    if kind == 0:
        x, y = rng.integers(1, 6, n).astype(float), rng.integers(0, 3, n).astype(float)
    elif kind == 1:
        x, y = rng.integers(1, 6, n) * 0.2, np.round(rng.normal(size=n), 1)
    elif kind == 2:
        x, y = rng.normal(size=n), rng.integers(0, 2, n).astype(float)
    else:
        x, y = np.full(n, 3.0), rng.integers(-3, 3, n).astype(float)
    fast = distributions.kendall_tau_b(x, y), distributions.spearman_rho(x, y)
    saved = distributions._dense_codes
    distributions._dense_codes = lambda v: None  # type: ignore[assignment]
    try:
        slow = distributions.kendall_tau_b(x, y), distributions.spearman_rho(x, y)
    finally:
        distributions._dense_codes = saved
    for a, b in zip(fast, slow, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == b


def _ungrouped(features: np.ndarray[Any, Any], n_resamples: int, seed: int) -> Any:
    from medreview.stats import bootstrap as bs

    saved = bs._groups
    bs._groups = lambda f: None  # type: ignore[assignment]
    try:
        return bs.resample_sums(features, n_resamples, seed)
    finally:
        bs._groups = saved


def test_grouped_resampling_gives_the_item_resampling_sums() -> None:
    """Sums from per-group draw counts equal the (replicates x items) count matrix's, for
    groupings drawn fresh, refined, joined and summed from a kept draw; only 3 draws."""
    from medreview.stats import bootstrap as bs

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, (3000, 4))
    features = [codes[:, :1], codes.sum(axis=1, keepdims=True), codes, codes[:, 2:],
                np.column_stack([codes[:, 0] == codes[:, 1], codes[:, 3]]), codes[:, :1]]
    bs.clear_cache()
    draws = []
    real = bs._draw_group_sums

    def counted(*a: Any) -> Any:
        draws.append(a[1])
        return real(*a)

    bs._draw_group_sums = counted  # type: ignore[assignment]
    try:
        for f in features:
            f = f.astype(np.float64)
            assert np.array_equal(bs.resample_sums(f, 300, 5), _ungrouped(f, 300, 5))
    finally:
        bs._draw_group_sums = real  # type: ignore[assignment]
        bs.clear_cache()
    assert len(draws) == 3


def test_grouped_resampling_with_fractional_features_within_rounding() -> None:
    rng = np.random.default_rng(2)
    f = rng.integers(0, 4, (2000, 3)) / 3.0
    from medreview.stats import bootstrap as bs

    got, want = bs.resample_sums(f, 200, 9), _ungrouped(f, 200, 9)
    assert np.allclose(got, want, rtol=1e-13, atol=0)
    assert bs._groups(rng.normal(size=(2000, 2))) is None  # continuous: the item path


@pytest.mark.parametrize("seed", range(6))
def test_projected_groups_equal_the_column_groups(seed: int) -> None:
    """One hash of a projection of the rows gives the groups (and their numbering) the
    column-by-column coding gives; many columns (their value counts' product beyond 2**40,
    as a two-way ICC's 63) are grouped too; a shared projection falls back to the columns."""
    from medreview.stats import bootstrap as bs

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, (4000, 3)).astype(np.float64)
    f = np.column_stack([base] + [base[:, i % 3:i % 3 + 1] * (i + 1) for i in range(60)])
    if seed % 2:
        f[rng.random(4000) < 0.5] *= -1.0  # negative values and signed zeros
    got = bs._projected_groups(f, 512)
    want = bs._column_groups(f, 512)
    assert got and want is not None
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert bs._groups(f) is not None and len(want[1]) > 20
    v = np.random.default_rng(bs._PROJECTION_SEED).uniform(1.0, 2.0, 2)
    clash = np.array([[v[1], 0.0], [0.0, v[0]]] * 50)  # two rows, one projection
    assert bs._projected_groups(clash, 64) is False
    saved = bs._CHECK_ELEMENTS
    bs._CHECK_ELEMENTS = 6  # rows checked three at a time: the clash found in a later block
    try:
        late = np.vstack([np.tile(clash[:1], (40, 1)), clash])
        assert bs._projected_groups(late, 64) is False
        assert bs._projected_groups(f, 512) is not False
    finally:
        bs._CHECK_ELEMENTS = saved
    labels, rows = bs._groups(clash)  # type: ignore[misc]
    assert labels.tolist() == [0, 1] * 50 and np.array_equal(rows, clash[:2])
    assert bs._projected_groups(rng.integers(0, 9, (4000, 4)).astype(float), 512) is None


@pytest.mark.parametrize("seed", range(30))
def test_duplicate_check_equals_dataframe_duplicated(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50))
    df = pd.DataFrame({"output_id": rng.integers(0, 5, n),
                       "rater": rng.choice(np.array(["a", "b", None], dtype=object), n),
                       "question_id": rng.choice(["q", "r"], n)})
    if seed % 3 == 0:
        df["output_id"] = df["output_id"].astype(float).where(rng.random(n) > 0.3)
    cols = ["output_id", "rater", "question_id"]
    assert tables._duplicated(df, cols).equals(df.duplicated(cols))
    assert tables._repeats(tables._row_keys(df, cols)) == bool(df.duplicated(cols).any())


@pytest.mark.parametrize("seed", range(20))
def test_score_values_as_the_per_answer_rule(seed: int) -> None:
    from medreview.stats.project import _as_floats

    rng = np.random.default_rng(seed)
    pools: list[list[Any]] = [[True, False, 1, 0, 2.5, None],
                              [True, "3", 3, None, [1], np.int64(3), np.float64(2.5), 2**80]]
    pool = pools[seed % 2]
    values = np.empty(int(rng.integers(0, 40)), dtype=object)
    for i in range(values.size):
        values[i] = pool[int(rng.integers(0, len(pool)))]
    want = [float(v) if isinstance(v, (bool, int, float)) else math.nan for v in values]
    np.testing.assert_array_equal(_as_floats(values), np.asarray(want, dtype=np.float64))


def test_score_values_when_every_answer_is_a_number() -> None:
    """The one-conversion path (no missing answer) gives the per-answer rule too, and an
    integer beyond float range still falls back to NaN for that answer only."""
    from medreview.stats.project import _as_floats

    values = np.array([True, 0, 3, 2.5, np.float64(1.5), -0.0], dtype=object)
    np.testing.assert_array_equal(_as_floats(values), [1.0, 0.0, 3.0, 2.5, 1.5, -0.0])
    huge = np.array([1, 10**400, 2.0], dtype=object)
    np.testing.assert_array_equal(_as_floats(huge), [1.0, math.nan, 2.0])
