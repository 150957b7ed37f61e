"""A unit's rows by question code: the sorted-slices path (many units, per criterion) gives
the rows the one-pass mask gives, and the project tables are the same either way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medreview.stats import project
from medreview.stats.project import _RowsByQuestion, project_stats
from tests.stats import synthetic


def test_slices_equal_masks() -> None:
    rng = np.random.default_rng(5)
    qcode = rng.integers(-1, 40, 5_000)  # -1: a missing question id
    qpos = {f"q{i}": i for i in range(41)}  # q40 has no rows

    def wanted(ids: list[str]) -> np.ndarray:
        want = np.zeros(len(qpos) + 1, dtype=bool)
        want[[qpos[q] for q in ids if q in qpos]] = True
        return want

    rows = _RowsByQuestion(qcode, qpos)
    asks = [[f"q{i}"] for i in range(41)] * 2 + [["q1", "q7"], ["nope"], []]
    for ids in asks:
        got = rows(ids, wanted)
        assert np.array_equal(got, np.flatnonzero(wanted(ids)[qcode])), ids
    assert rows._order is not None  # the sorted path was taken


def test_per_criterion_tables_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    df = synthetic.ratings()
    qs = synthetic.questions()
    monkeypatch.setattr(project, "_MASK_CALLS", 0)  # every single question by slices
    fast = project_stats(df, qs, synthetic.gold(df), by="rater", ci=False, per_criterion=True)
    monkeypatch.setattr(project, "_MASK_CALLS", 10**9)
    masks = project_stats(df, qs, synthetic.gold(df), by="rater", ci=False, per_criterion=True)
    for name, table in fast.tables().items():
        pd.testing.assert_frame_equal(table, masks.tables()[name], obj=name)
