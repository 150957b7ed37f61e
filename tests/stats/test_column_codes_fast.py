"""The fast paths of the statistics' column coding give what the plain code gave (issue #17):
the pooled per-case criteria by two binary searches over sorted categories, the items x
raters table's rows by a hash factorisation, the judge's rank rows' item count."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from medreview.domain.rubric import CASE_CRITERION_PREFIX
from medreview.stats.project import POOLED_CRITERIA, _pooled_categories, _prefix_block
from medreview.stats.tables import to_wide


def _reference_pooled(qid: pd.Series) -> tuple[list[str], list[object]]:
    """The plain version: each category mapped one by one, the new ones sorted."""
    new = sorted({POOLED_CRITERIA if str(c).startswith(CASE_CRITERION_PREFIX) else str(c)
                  for c in qid.cat.categories})
    values = [None if pd.isna(v) else
              POOLED_CRITERIA if str(v).startswith(CASE_CRITERION_PREFIX) else str(v)
              for v in qid.tolist()]
    return new, values


@pytest.mark.parametrize("seed", range(12))
def test_pooled_categories_equal_the_plain_mapping(seed: int) -> None:
    rnd = random.Random(seed)
    pool = ["a", "z", "criterion", "criterion;", "criterion:*", "criterio", "crit", "é",
            "criterion:\u00e9", "Criterion:x", "overall", "score", "safe"]
    pool += [f"{CASE_CRITERION_PREFIX}c{rnd.randrange(50)}-{k}" for k in range(20)]
    cats = sorted(set(rnd.sample(pool, rnd.randrange(0, len(pool)))))
    codes = [rnd.randrange(-1, len(cats)) if cats else -1 for _ in range(60)]
    for dtype in ("str", object):
        qid = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(cats,
                                                                             dtype=dtype)))
        got = _pooled_categories(qid)
        new, values = _reference_pooled(qid)
        assert [str(c) for c in got.cat.categories] == new
        assert [None if pd.isna(v) else v for v in got.tolist()] == values


def test_prefix_block_needs_sorted_distinct_text() -> None:
    assert _prefix_block(pd.Index(["b", "a"]), "a") is None
    assert _prefix_block(pd.Index([1, 2]), "a") is None
    assert _prefix_block(pd.Index(["a", "ab", "ac", "b"]), "a") == (0, 3)
    assert _prefix_block(pd.Index(["a", "b"]), "x") == (2, 2)


@pytest.mark.parametrize("seed", range(6))
def test_to_wide_rows_sorted_and_missing_as_none(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    long = pd.DataFrame({
        "output_id": rng.integers(0, 60, n),
        "question_id": rng.choice(["criterion:a", "criterion:b", "criterion:c"], n),
        "rater": rng.choice(["Dr A", "Dr B", "Dr C"], n),
        "value": pd.Series(rng.choice([True, False, None, float("nan"), 2, "x"], n),
                           dtype=object),
    }).drop_duplicates(["output_id", "question_id", "rater"])
    wide = to_wide(long, ["output_id", "question_id"])
    ref = long.pivot(index=["output_id", "question_id"], columns="rater", values="value")
    ref = ref.astype(object).where(ref.notna(), None)
    assert list(wide.index) == list(ref.index)
    assert list(wide.columns) == [str(c) for c in ref.columns]
    got = wide.to_numpy(dtype=object)
    want = ref.to_numpy(dtype=object)
    assert all(type(a) is type(b) and (a == b or a is None) for a, b in
               zip(got.ravel(), want.ravel(), strict=True))


@pytest.mark.parametrize("seed", range(6))
def test_judge_rows_reuse_the_majority_they_counted(seed: int) -> None:
    """The judge's disagreement masks from ``JudgeAgreement.majority`` equal the recounted
    ones (the majority does not depend on the category count it was counted with)."""
    from medreview.stats.disagreement import judge_splits
    from medreview.stats.judge import judge_agreement

    rng = np.random.default_rng(seed)
    n = 300
    cats = ("a", "b", "c", "d")
    human = pd.DataFrame(rng.choice([*cats, None], (n, 3)), columns=["A", "B", "C"],
                         dtype=object)
    judge = rng.choice(["a", "b", None], n).astype(object)
    res = judge_agreement(human, judge, "nominal", categories=cats, ci=False)
    assert res.majority is not None
    reused = judge_splits(judge, human, "nominal", cats, res.codes, res.majority)
    recount = judge_splits(judge, human, "nominal", cats, res.codes)
    plain = judge_splits(judge, human, "nominal", cats)
    for key in ("any", "majority"):
        assert np.array_equal(reused[key], recount[key])
        assert np.array_equal(reused[key], plain[key])
