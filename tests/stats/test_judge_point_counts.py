"""Without CIs the judge's pooled counts come from per-physician tables (no per-item
features): every point value and the confusion table equal the CI run's exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medreview.stats.judge import judge_agreement


@pytest.mark.parametrize(("kind", "cats"), [("binary", (False, True)),
                                            ("ordinal", (1, 2, 3, 4, 5)),
                                            ("nominal", ("a", "b", "c"))])
def test_point_values_equal_the_ci_runs(kind: str, cats: tuple[object, ...]) -> None:
    rng = np.random.default_rng(len(cats))
    n, raters = 400, 3
    values = np.array(cats, dtype=object)
    human = pd.DataFrame(values[rng.integers(0, len(cats), size=(n, raters))],
                         columns=[f"p{i}" for i in range(raters)])
    human = human.mask(rng.random((n, raters)) < 0.2)  # missing answers
    human.iloc[7] = None  # an item no physician answered
    judge = pd.Series(values[rng.integers(0, len(cats), size=n)], dtype=object)
    judge.iloc[[3, 11]] = None
    point = judge_agreement(human, judge, kind, categories=cats, ci=False)  # type: ignore[arg-type]
    full = judge_agreement(human, judge, kind, categories=cats, ci=True,  # type: ignore[arg-type]
                           n_resamples=50)
    assert point.confusion.equals(full.confusion)
    cols = ["statistic", "variant", "value", "n_items", "n_pairs", "note"]
    pd.testing.assert_frame_equal(point.table[cols], full.table[cols], check_exact=True)
    assert int(point.confusion.to_numpy().sum()) == int(
        ((human.notna().to_numpy()) & judge.notna().to_numpy()[:, None]).sum())
