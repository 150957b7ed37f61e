"""Splits by case: disjoint, exhaustive, exact counts, seeded, independent of input order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medreview.errors import InputError
from medreview.exporters.splits import SPLITS, assign_splits, split_records


@given(keys=st.lists(st.text(min_size=1, max_size=6), max_size=60), seed=st.integers(0, 999),
       a=st.integers(0, 10), b=st.integers(0, 10), c=st.integers(1, 10))
def test_property_every_case_in_exactly_one_split(keys: list[str], seed: int, a: int, b: int,
                                                  c: int) -> None:
    total = a + b + c
    fractions = (a / total, b / total, c / total)
    splits = assign_splits(keys, fractions, seed)
    assert set(splits) == set(keys)
    assert set(splits.values()) <= set(SPLITS)
    n = len(set(keys))
    for name, f in zip(SPLITS, fractions, strict=True):
        assert abs(sum(1 for v in splits.values() if v == name) - f * n) < 1.0 + 1e-9
    assert assign_splits(list(reversed(keys)), fractions, seed) == splits
    records = [(k, {"k": k, "i": i}) for i, k in enumerate(keys)]
    grouped = split_records(records, splits)
    seen = [{r["k"] for r in grouped[name]} for name in SPLITS]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    assert sum(len(v) for v in grouped.values()) == len(keys)


def test_seed_changes_the_split_and_bad_fractions_are_refused() -> None:
    keys = [f"case-{i}" for i in range(50)]
    assert assign_splits(keys, seed=1) != assign_splits(keys, seed=2)
    with pytest.raises(InputError, match="add up to 1"):
        assign_splits(keys, (0.5, 0.5, 0.5))
    with pytest.raises(InputError, match="three"):
        assign_splits(keys, (0.5, 0.5))
