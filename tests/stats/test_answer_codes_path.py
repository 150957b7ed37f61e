"""``project_stats`` from the answers' codes (``stats.answer_codes``, ``stats.project_coded``)
gives the recorded answers and the same tables as the object path, and falls back to the
object path for every unit the codes cannot stand for."""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medreview.domain.rubric import Option, Question, QuestionKind
from medreview.stats import project_coded
from medreview.stats.answer_codes import AnswerCodes
from medreview.stats.project import _as_floats, project_stats
from medreview.stats.value_codes import MAX_DISTINCT, MISSING, OTHER, ValueCoder
from medreview.storage.ratings_read import LongColumns
from tests.stats.golden_cases import DATA, RUNS, SOURCES, run_name
from tests.stats.test_golden_project_stats import _diff

PER_JUDGMENT = ("output_id", "case_id", "case_external_id", "model", "rater", "rater_kind")


def coded_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, AnswerCodes]:
    """``df`` rebuilt the way the reader builds the table: one judgment at a time through
    ``LongColumns`` (question ids and text as categoricals, answers coded)."""
    names = [c for c in PER_JUDGMENT if c in df.columns]
    cols = LongColumns(names)
    for _, g in df.groupby(["output_id", "rater"], sort=False):
        first = g.iloc[0]
        answers = dict(zip(g["question_id"], g["value"], strict=True))
        conf = dict(zip(g["question_id"], g["confidence"], strict=True)) \
            if "confidence" in g.columns else None
        cols.add(tuple(first[c] for c in names), answers, None, conf)
    return cols.frame_and_codes([*names, "question_id", "value", "confidence"])


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        out: dict[str, Any] = json.load(f)
    return out


@pytest.fixture(scope="module")
def sources() -> dict[str, Any]:
    return {name: (coded_frame(make()[0]), make()) for name, make in SOURCES.items()}


@pytest.fixture
def units(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The labels of the units computed from codes."""
    seen: list[str] = []
    real = project_coded.unit_rows

    def spy(*args: Any, **kwargs: Any) -> None:
        seen.append(kwargs["label"])
        real(*args, **kwargs)

    monkeypatch.setattr("medreview.stats.project.unit_rows", spy)
    return seen


@pytest.mark.parametrize(("source", "kwargs"), RUNS, ids=[run_name(*r) for r in RUNS])
def test_codes_give_the_recorded_answers(recorded: dict[str, Any], sources: dict[str, Any],
                                         units: list[str], source: str,
                                         kwargs: dict[str, Any]) -> None:
    (frame, codes), (_, qs, gold) = sources[source]
    got = json.loads(project_stats(frame, qs, gold, codes=codes, **kwargs).to_json())
    want = recorded[run_name(source, kwargs)]
    for table in want:
        d = _diff(want[table], got.get(table), f"{source}:{table}")
        assert d is None, d
    assert units, "no unit took the codes' path"
    # ... and exactly the object path's tables on the same frame
    plain = json.loads(project_stats(frame, qs, gold, **kwargs).to_json())
    assert got == plain


def test_which_units_take_the_codes(sources: dict[str, Any], units: list[str]) -> None:
    (frame, codes), (_, qs, gold) = sources["mixed"]
    project_stats(frame, qs, gold, codes=codes, ci=False)
    # declared answers and plain numbers: codes; lists, text, and a number question with a
    # text answer ("n/a"): the object path
    assert set(units) == {"pref", "topic", "grade", "flag", "criterion:*"}
    units.clear()
    (frame, codes), (_, qs, _) = sources["bench_like"]
    project_stats(frame, qs, None, codes=codes, ci=False)
    assert units == ["overall", "safe", "score", "criterion:*"]


def test_codes_of_another_frame_are_ignored(sources: dict[str, Any], units: list[str]) -> None:
    (frame, codes), (_, qs, _) = sources["bench_like"]
    copy = frame.copy()
    a = project_stats(copy, qs, None, codes=codes, ci=False).to_json()
    assert units == []
    assert a == project_stats(frame, qs, None, codes=codes, ci=False).to_json()
    assert units  # (the frame itself does take them)


def _bench(values: dict[str, list[Any]]) -> tuple[pd.DataFrame, dict[str, Question]]:
    rows = []
    for qid, vals in values.items():
        for i, v in enumerate(vals):
            o, r = divmod(i, 4)
            rows.append({"output_id": o, "case_id": o, "model": "m", "rater": f"r{r}",
                         "rater_kind": "judge" if r == 3 else "physician",
                         "question_id": qid, "value": v, "confidence": 0.5 + 0.1 * r})
    qs = {"n": Question("n", QuestionKind.NUMBER, "N"),
          "g": Question("g", QuestionKind.ORDINAL, "G",
                        options=tuple(Option(v, str(v)) for v in (1, 2, 3)))}
    return pd.DataFrame(rows), {k: qs[k] for k in values}


@pytest.mark.parametrize("values", [
    {"n": [1.0, 2, True, 1.5] * 6},  # a bool in a number question: object path
    {"n": [2 ** 60, 1, 2, 3] * 6},  # an int beyond float precision: object path
    {"g": [1, 2, 3, 4] * 6},  # an undeclared answer: the object path words the error
    {"g": [1, True, 2.0, None] * 6, "n": [0.0, -0.0, float("nan"), 2] * 6},  # equal values
])
def test_odd_answers_give_the_object_paths_tables(values: dict[str, list[Any]]) -> None:
    df, qs = _bench(values)
    frame, codes = coded_frame(df)
    for by in (None, "rater+model"):
        got = json.loads(project_stats(frame, qs, codes=codes, by=by, ci=False).to_json())
        want = json.loads(project_stats(frame, qs, by=by, ci=False).to_json())
        assert got == want


def test_value_codes() -> None:
    coder = ValueCoder()
    codes = [coder.code(v) for v in (True, 1, 1.0, "1", None, float("nan"), [1], 0.0, -0.0)]
    assert codes[:3] == [0, 0, 0] and codes[3] == 1  # Python equality, as encode's dicts
    assert codes[4:7] == [MISSING, MISSING, OTHER]
    assert codes[7] == codes[8] == 2
    assert coder.uniques == [True, "1", 0.0]
    many = ValueCoder()
    got = [many.code(i) for i in range(MAX_DISTINCT + 2)]
    assert got[MAX_DISTINCT - 1] == MAX_DISTINCT - 1
    assert got[-2:] == [OTHER, OTHER]  # bounded: past the cap, the object path
    assert many.code(3) == 3 and len(many.uniques) == MAX_DISTINCT


def test_frame_codes_name_every_answer(sources: dict[str, Any]) -> None:
    (frame, codes), _ = sources["mixed"]
    assert codes.of(frame) and not codes.of(frame.copy())
    for v, c in zip(frame["value"], codes.codes.tolist(), strict=True):
        if c == MISSING:
            assert v is None or (isinstance(v, float) and math.isnan(v))
        elif c == OTHER:
            assert isinstance(v, list)
        else:
            u = codes.uniques[c]
            assert u == v
            assert type(u) is type(v) or {type(u), type(v)} <= {bool, int, float}
    floats, exact = codes.float_lut()
    assert np.isnan(floats[OTHER]) and np.isnan(floats[MISSING])
    assert exact[MISSING] and not exact[OTHER]
    # every row's float by look-up is the object path's conversion of its answer
    want = _as_floats(frame["value"].to_numpy(dtype=object))
    np.testing.assert_array_equal(floats[codes.codes], want)


def test_majority_by_category_equals_the_count_matrix_path() -> None:
    from medreview.stats import majority

    rng = np.random.default_rng(7)
    for q in (1, 2, 3, 5, 8):
        codes = rng.integers(-1, q, size=(500, 4))
        codes[:7] = -1  # unanswered items
        got = majority._few(codes, q)
        cnt = majority.count_matrix(codes, q)
        has = 2 * cnt.max(axis=1) > cnt.sum(axis=1)
        want = np.where(has, cnt.argmax(axis=1), -1)
        np.testing.assert_array_equal(got[1], has)
        np.testing.assert_array_equal(got[0], want)
        assert got[0].dtype == np.int64


def test_sorted_keys_are_coded_as_factorize_codes_them() -> None:
    rng = np.random.default_rng(3)
    for keys in (np.sort(rng.integers(0, 50, 300)), rng.integers(0, 50, 300),
                 np.array([5]), np.array([2, 2, 2])):
        got_row, got_keys = project_coded._sorted_codes(keys.astype(np.int64))
        want_row, want_keys = pd.factorize(keys.astype(np.int64), sort=True)
        np.testing.assert_array_equal(got_row, want_row)
        np.testing.assert_array_equal(got_keys, want_keys)


def test_dense_codes_by_hash_equal_the_sorted_ones() -> None:
    from medreview.stats.distributions import _dense_codes

    rng = np.random.default_rng(11)
    for v in (rng.integers(0, 6, 400) / 5.0, np.array([0.5, -0.0, 0.0, 0.5, -1.25]),
              rng.normal(size=300)):
        got = _dense_codes(v)
        uniq, inv = np.unique(v, return_inverse=True)
        assert got is not None
        np.testing.assert_array_equal(got[0], inv.reshape(-1))
        assert got[1] == uniq.size


def test_picked_items_know_their_outputs() -> None:
    from medreview.stats import disagreement as d

    rng = np.random.default_rng(5)
    multi = pd.MultiIndex.from_tuples(sorted({(int(o), f"criterion:k{q}") for o, q in
                                              rng.integers(0, 40, (300, 2))}),
                                      names=["output_id", "question_id"])
    for index in (multi, pd.Index(np.arange(0, 600, 3), name="output_id")):
        cache = d.KeyCache(index, "q")
        for _ in range(5):
            mask = rng.random(len(index)) < 0.3
            items = cache.pick(mask)
            assert d._PICKED[id(items)][0] is items  # (registered: no pass over the tuples)
            assert d.output_ids_of(items) == sorted({k[0] for k in items})
            assert d.output_ids_of(list(items)) == sorted({k[0] for k in items})


@pytest.mark.parametrize("undeclared", [False, True])
def test_pooled_criteria_by_their_run_of_ids(sources: dict[str, Any], undeclared: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, (df, qs, _) = sources["bench_like"]
    if undeclared:  # a criterion answered but not declared: never pooled
        extra = df[df["question_id"] == "criterion:c0-0"].assign(question_id="criterion:zz")
        df = pd.concat([df, extra], ignore_index=True)
    frame, codes = coded_frame(df)
    got = project_stats(frame, qs, codes=codes, ci=False).to_json()
    monkeypatch.setattr("medreview.stats.project._prefix_block", lambda *a: None)
    assert got == project_stats(frame, qs, codes=codes, ci=False).to_json()


@pytest.mark.parametrize("source", ["mixed", "bench_like"])
def test_many_distinct_answers_look_up_only_those_present(
        sources: dict[str, Any], units: list[str], source: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``_FULL_LUT`` distinct answers no table over all of them is made per category
    list (bounded work on projects of many questions and free text): same tables."""
    from medreview.stats import answer_codes

    (frame, codes), (_, qs, gold) = sources[source]
    want = project_stats(frame, qs, gold, ci=False, by="rater+model").to_json()
    monkeypatch.setattr(answer_codes, "_FULL_LUT", 0)
    codes._luts.clear()
    got = project_stats(frame, qs, gold, codes=codes, ci=False, by="rater+model").to_json()
    assert units and not codes._luts  # (the codes' path, with no full table)
    assert got == want
