"""The dashboard's statistics in ``medreview.stats``: the strict majority, disagreements per
statistic row, the judge's disagreements per reference, leniency through ``stats.bootstrap``
and the κ/α paradox notes, each on tables small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medreview.domain import consensus
from medreview.stats.coding import encode
from medreview.stats.disagreement import Split, judge_splits, split_items
from medreview.stats.judge import judge_agreement
from medreview.stats.judge_reference import leniency
from medreview.stats.majority import strict_majority
from medreview.stats.paradox import annotate
from medreview.stats.results import DEFAULT_RESAMPLES, DEFAULT_SEED


def test_strict_majority_is_the_consensus_rule_on_random_tables() -> None:
    rng = np.random.default_rng(7)
    # four raters, three answers, some missing: 2-1-1 splits are pluralities, not majorities
    table = rng.choice(np.array(["a", "b", "c", None], dtype=object), size=(400, 4),
                       p=[0.4, 0.3, 0.2, 0.1])
    coded = encode(table, ("a", "b", "c"))
    code, has = strict_majority(coded.codes, coded.q)
    plurality_only = 0
    for row, c, h in zip(table, code, has, strict=True):
        answers = [v for v in row if v is not None]
        value, expected = consensus.majority(answers)
        assert bool(h) == expected
        if expected:
            assert coded.categories[c] == value
        else:
            assert c == -1
        plurality_only += consensus.plurality(answers)[1] and not expected
    assert plurality_only > 20  # the data do tell the two rules apart


def test_disagreements_per_statistic_row() -> None:
    wide = pd.DataFrame({"A": [1.0, 2.0, 3.0, 4.0, None],
                         "B": [1.0, 2.5, 3.0, None, 5.0],
                         "C": [1.0, 2.0, 3.5, 4.5, 5.0]}, index=[10, 11, 12, 13, 14])
    wide = wide.astype(object).where(wide.notna(), None)
    split = Split.of(wide, None, "score")
    # 11 and 12 differ among complete items; 13 differs with B missing; 14 agrees
    assert split.for_statistic("krippendorff_alpha_interval", 5) == [
        (11, "score"), (12, "score"), (13, "score")]
    # listwise ANOVA ICC: only items every rater answered
    assert split.for_statistic("icc_a1", 3) == [(11, "score"), (12, "score")]
    # an undefined statistic used no item: nothing to disagree on
    assert split.for_statistic("fleiss_kappa", 0) == []
    # a pair: both answered and differ (A, C differ on 12 and 13; 14 lacks A)
    assert split.pair(0, 2, 4) == [(12, "score"), (13, "score")]
    assert split_items(np.array([[0, 0, -1], [-1, -1, -1], [1, -1, 2]])).tolist() == [
        False, False, True]


def test_judge_disagreements_per_reference() -> None:
    human = np.array([["y", "y", "n", "n"],   # 2-2: no majority
                      ["y", "y", "c", "n"],   # 2-1-1: plurality y, no majority
                      ["n", "n", "n", "y"],   # majority n
                      ["y", "y", "y", "y"]], dtype=object)
    judge = np.array(["y", "y", "y", "y"], dtype=object)
    got = judge_splits(judge, human, "nominal", ("y", "n", "c"))
    assert got["any"].tolist() == [True, True, True, False]
    assert got["majority"].tolist() == [False, False, True, False]
    numbers = judge_splits(np.array([1.0, 2.0]), np.array([[1.0, 1.0], [1.0, 3.0]]),
                           "numeric", None)
    assert numbers["mean"].tolist() == [False, False]  # 2.0 is the mean of 1 and 3
    assert numbers["any"].tolist() == [False, True]


def test_leniency_is_the_bootstrapped_mean_signed_difference() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(1, 6, size=60).astype(float)
    jud = np.clip(ref + rng.integers(-1, 3, size=60), 1, 5)
    items = pd.DataFrame({"output_id": np.arange(60), "judge": jud, "reference": ref})
    value, (lo, hi) = leniency(items, DEFAULT_SEED, DEFAULT_RESAMPLES)
    assert value == pytest.approx(float((jud - ref).mean()))
    # one item per output: the same resampling as stats.judge's mean signed difference
    table = judge_agreement(ref, jud, "ordinal", categories=(1, 2, 3, 4, 5)).table
    msd = table[(table["statistic"] == "mean_signed_difference")].iloc[0]
    assert (lo, hi) == (msd["ci_low"], msd["ci_high"]) and lo < value < hi
    nan_value, nan_ci = leniency(items.iloc[:1], DEFAULT_SEED, DEFAULT_RESAMPLES)
    assert math.isnan(nan_ci[0]) and nan_value == pytest.approx(jud[0] - ref[0])


def _panel(pa: float, kappa: float, ac1: float) -> list[dict[str, object]]:
    return [{"statistic": "percent_agreement", "value": pa},
            {"statistic": "fleiss_kappa", "value": kappa},
            {"statistic": "gwet_ac1", "value": ac1},
            {"statistic": "krippendorff_alpha_nominal", "value": kappa + 0.01}]


def test_paradox_note_names_the_cause_and_gwets_ac1() -> None:
    skewed = pd.DataFrame({"A": ["yes"] * 29 + ["no"], "B": ["yes"] * 30, "C": ["yes"] * 30})
    rows = _panel(0.978, -0.01, 0.977)
    annotate(rows, skewed, "nominal", ("yes", "no"))
    notes = {r["statistic"]: r["paradox"] for r in rows}
    assert notes["percent_agreement"] == notes["gwet_ac1"] == ""
    assert "Fleiss' κ -0.01" in notes["fleiss_kappa"]
    assert "skewed prevalence" in notes["fleiss_kappa"] and "99% of all answers are yes" \
        in notes["fleiss_kappa"]
    assert "Gwet's AC1 = 0.98" in notes["krippendorff_alpha_nominal"]
    # restricted range on an ordinal scale: 4s and 5s on a 1-5 scale, no dominant answer
    narrow = pd.DataFrame({"A": [4, 5] * 10, "B": [4, 5] * 9 + [5, 4], "C": [5, 4] * 10})
    rows = _panel(0.85, 0.1, 0.8)
    annotate(rows, narrow, "ordinal", (1, 2, 3, 4, 5))
    assert "restricted range" in rows[1]["paradox"]
    # no paradox: low agreement, or κ that is not low
    for pa, kappa in ((0.6, 0.1), (0.95, 0.7)):
        rows = _panel(pa, kappa, 0.9)
        annotate(rows, skewed, "nominal", ("yes", "no"))
        assert all(r["paradox"] == "" for r in rows)


def test_no_paradox_note_where_every_answer_is_the_same() -> None:
    same = pd.DataFrame({"A": [False] * 10, "B": [False] * 10})
    rows = [{"statistic": "percent_agreement", "value": 1.0},
            {"statistic": "fleiss_kappa", "value": math.nan},
            {"statistic": "gwet_ac1", "value": 1.0}]
    annotate(rows, same, "nominal", (False, True))
    assert all(r["paradox"] == "" for r in rows)  # "undefined: no variation" says it already
