"""The long table built a batch at a time (``storage.ratings_read.LongColumns``) equals the
one-judgment-at-a-time builder it replaced (``ratings_read_reference``): every column, dtype,
category and row; each answer the same type and value (True, 1 and 1.0 apart; -0.0 and 0.0
apart; NaN as NaN); the answers' codes and the coder's distinct values. On hostile answer dicts
(mixed types with equal values, unhashable answers, long and unicode text, new question sets
mid-stream, per-question and missing confidences), across batch ends, past the bounds of the
shared values and of the coder, and on a real project read through ``read_ratings_long`` and
``read_ratings_coded``."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from medreview.stats import value_codes
from medreview.storage import ratings_read
from medreview.storage.project import open_project
from medreview.storage.ratings_read import LongColumns, read_ratings_coded, read_ratings_long
from tests.storage import ratings_read_reference as reference
from tests.storage.test_ratings_read import demo  # noqa: F401 (the odd demo project fixture)

PER_JUDGMENT = ("output_id", "case_id", "case_external_id", "model", "rater", "rater_kind")
COLUMNS = [*PER_JUDGMENT, "question_id", "value", "confidence"]
Judgment = tuple[tuple[Any, ...], dict[str, Any], Any, dict[str, Any] | None]


def _cell(v: Any) -> tuple[type, str]:
    """A value as its type and repr: True, 1 and 1.0 differ, so do -0.0 and 0.0."""
    return type(v), repr(v)


def _same_values(got: list[Any], want: list[Any]) -> None:
    assert [_cell(v) for v in got] == [_cell(v) for v in want]


def _same_frames(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert list(got.dtypes) == list(want.dtypes)
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_categorical=True)
    for name in got.columns:
        g, w = got[name], want[name]
        if isinstance(g.dtype, pd.CategoricalDtype):
            assert list(g.cat.categories) == list(w.cat.categories)  # same order
            assert g.cat.categories.dtype == w.cat.categories.dtype
            assert np.array_equal(g.cat.codes.to_numpy(), w.cat.codes.to_numpy())
        else:
            _same_values(g.tolist(), w.tolist())
    # the confidences bit for bit (NaN and signed zeros included)
    assert got["confidence"].to_numpy().tobytes() == want["confidence"].to_numpy().tobytes()


def _same_codes(got: Any, want: Any) -> None:
    assert got.codes.dtype == want.codes.dtype
    assert np.array_equal(got.codes, want.codes)
    _same_values(list(got.uniques), list(want.uniques))


def _build(cls: Callable[[list[str]], Any], judgments: list[Judgment],
           names: tuple[str, ...] = PER_JUDGMENT) -> Any:
    cols = cls(list(names))
    for judgment, answers, conf, per_question in judgments:
        # each builder its own copies: the reference shares values in place
        cols.add(judgment, dict(answers), conf,
                 dict(per_question) if per_question is not None else None)
    return cols


def _compare(judgments: list[Judgment],
             names: tuple[str, ...] = PER_JUDGMENT) -> tuple[pd.DataFrame, Any]:
    columns = [*names, "question_id", "value", "confidence"]
    got_df, got_codes = _build(LongColumns, judgments, names).frame_and_codes(columns)
    want_df, want_codes = _build(reference.LongColumns, judgments,
                                 names).frame_and_codes(columns)
    _same_frames(got_df, want_df)
    _same_codes(got_codes, want_codes)
    only = _build(LongColumns, judgments, names).frame(columns)  # ``frame`` alone too
    _same_frames(only, want_df)
    return got_df, got_codes


def _hostile_values(rng: random.Random) -> Iterator[Any]:
    pool: list[Callable[[], Any]] = [
        lambda: True, lambda: False, lambda: 1, lambda: 0, lambda: 1.0, lambda: 0.0,
        lambda: -0.0, lambda: -1.0 * 0.0, lambda: float("nan"), lambda: None,
        lambda: rng.choice([0.25, 0.5, 0.75]) + 0.0,  # new float objects of equal value
        lambda: float(rng.randint(1, 5)), lambda: rng.randint(-3, 300),
        lambda: 10**30, lambda: -(2**63), lambda: float("inf"), lambda: -float("inf"),
        lambda: "".join(["ye", "s"]), lambda: "1", lambda: "", lambda: "not_applicable_x",
        lambda: "é" * rng.randint(1, 3) + "\u202e\x00", lambda: "x" * 5_000,
        lambda: [1, 2], lambda: {"k": [1.0]}, list, dict,
        lambda: rng.random(),
        # not from JSON (callers in memory): equal values of another sign or type kept apart
        lambda: np.float64(-0.0), lambda: np.float64(0.0), lambda: np.float32(-0.0),
        lambda: np.float64(0.5), lambda: np.int64(1), lambda: np.bool_(True),
        lambda: Decimal("-0"), lambda: Decimal("0.0"), lambda: (1, 2),
    ]
    while True:
        yield rng.choice(pool)()


def _hostile(n: int, seed: int) -> list[Judgment]:
    rng = random.Random(seed)
    values = _hostile_values(rng)
    forms = [["overall", "safe", "score"], ["q1", "q2"], ["é-q", "q\x00", "overall"]]
    out: list[Judgment] = []
    for i in range(n):
        if i % 97 == 0:  # a new question set mid-stream
            forms.append([f"new-{i}-{k}" for k in range(rng.randint(1, 12))])
        keys = list(rng.choice(forms))
        rng.shuffle(keys)
        keys = keys[:rng.randint(0, len(keys))]  # empty answers too
        answers = {k: next(values) for k in keys}
        conf: Any = rng.choice([None, 0.5, 1, 0.0, -0.0, float("nan"), rng.random()])
        per_q = None
        if i % 5 == 0 and keys:  # a judge's per-question confidences (some missing)
            per_q = {k: rng.choice([0.1, 0.9, float("nan"), -0.0])
                     for k in keys if rng.random() < 0.7}
        judgment = (i // 3, (i // 3) // 2, rng.choice(["c-1", "c-2", "é", None]),
                    rng.choice(["m1", "m2"]), rng.choice(["Dr A", "Dr B", "judge: x"]),
                    rng.choice(["physician", "judge"]))
        out.append((judgment, answers, conf, per_q))
    return out


@pytest.mark.parametrize("flush", [1, 3, 256])
def test_hostile_answers_equal_the_reference(flush: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratings_read, "_FLUSH", flush)
    df, codes = _compare(_hostile(1_500, seed=flush))
    kinds = {type(v) for v in df["value"]}
    assert {bool, int, float, str, list, dict, type(None)} <= kinds  # all of them met
    assert (codes.codes == value_codes.OTHER).any() and (codes.codes == value_codes.MISSING).any()


def test_bounds_shared_values_and_coder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the shared values' bound (cleared: new objects, same values) and the coder's
    (``OTHER`` from then on) the table and codes are still the reference's."""
    monkeypatch.setattr(ratings_read, "_SHARED_MAX", 7)
    monkeypatch.setattr(reference, "_SHARED_MAX", 7)
    monkeypatch.setattr(value_codes, "MAX_DISTINCT", 40)
    monkeypatch.setattr(ratings_read, "_FLUSH", 16)
    judgments = _hostile(600, seed=3)
    judgments += [((9_999, 1, "c", "m", "r", "k"), {"t": f"text {i}", "f": i + 0.5, "b": True,
                                                    "i": 1, "z": 0.0}, 0.5, None)
                  for i in range(200)]
    _, codes = _compare(judgments)
    assert len(codes.uniques) == 40


def test_per_judgment_columns_of_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts (with None) as categoricals; a text column that meets a number or bytes
    mid-stream, None alone, numbers, True/1/1.0 and too many distinct texts: as pandas
    infers them from all the values, each value its own type."""
    monkeypatch.setattr(ratings_read, "_FLUSH", 8)
    monkeypatch.setattr(ratings_read, "_TEXTS_MAX", 30)
    names = ("texts", "turns_mixed", "turns_bytes", "none", "ints", "bool_int", "many",
             "late_many")
    rng = random.Random(5)
    judgments: list[Judgment] = []
    for i in range(300):
        row = (rng.choice(["b", "a", "é", "", None]),
               rng.choice(["x", "y"]) if i < 150 else rng.choice(["x", 7, None, 2.5]),
               rng.choice(["x", "y"]) if i != 77 else b"x",
               None, i * 3, rng.choice([True, 1, 1.0, False, 0]),
               f"t{i}", f"t{i % 20}" if i < 200 else f"u{i}")
        judgments.append((row, {"q": i % 4, "r": "x"}, 0.5, None))
    df, _ = _compare(judgments, names)
    assert isinstance(df["texts"].dtype, pd.CategoricalDtype)
    assert df["turns_mixed"].dtype == object and df["turns_bytes"].dtype == object
    assert df["none"].dtype == object and df["ints"].dtype == np.int64
    assert isinstance(df["many"].dtype, pd.CategoricalDtype)  # through the list, as before
    cols = _build(LongColumns, judgments, names)
    cols._flush()
    coded = [c._texts is not None for c in cols._cols]  # bounded: "many" became a list
    assert coded == [True, False, False, True, False, False, False, False]


def test_shared_objects() -> None:
    """Equal floats and texts are one object (the memory a parsed object per answer pinned),
    one zero per sign; types are never merged."""
    cols = LongColumns(list(PER_JUDGMENT))
    j = (1, 1, "c", "m", "r", "k")
    for _ in range(3):
        cols.add(j, {"x": float("0.4"), "s": "".join(["ti", "e"]), "z": -1.0 * 0.0,
                     "p": 1.0 - 1.0, "b": True, "i": 1, "f": 1.0}, None)
    values = cols.frame(COLUMNS)["value"].tolist()
    xs, ss, zs, ps = values[0::7], values[1::7], values[2::7], values[3::7]
    assert xs[0] is xs[1] is xs[2] and ss[0] is ss[1] is ss[2]
    assert zs[0] is zs[2] and ps[0] is ps[2] and math.copysign(1, zs[0]) == -1.0
    assert math.copysign(1, ps[0]) == 1.0
    assert [type(v) for v in values[4:7]] == [bool, int, float]


@pytest.mark.parametrize("values", [
    [1.5, 2.5, 0.0], [True, False], [1, 2, 3], [1, None, 2], [1.0, None, float("nan")],
    ["a", "b"], ["a", None], ["a", float("nan")], [True, 1], [True, 1, 2.5, "x"],
    [[1], 2], [{"a": 1}, "b"], [10**30, 1], [True, None], [1, 1.5], [-0.0, 0.0, 1],
])
def test_value_column_dtype_as_pandas_infers(values: list[Any]) -> None:
    """The ``value`` column's dtype is the one pandas gives the list of answers, whether it
    is built as that list or as an object array."""
    judgments: list[Judgment] = [((i, 1, "c", "m", "r", "k"), {"q": v}, None, None)
                                 for i, v in enumerate(values)]
    df, _ = _compare(judgments)
    assert df["value"].dtype == pd.Series(values).dtype


def test_empty_and_only_empty_answers() -> None:
    assert _build(LongColumns, []).frame(COLUMNS).equals(
        _build(reference.LongColumns, []).frame(COLUMNS))
    empty: list[Judgment] = [((1, 1, "c", "m", "r", "k"), {}, 0.5, None)]
    got, want = (_build(c, empty).frame(COLUMNS) for c in (LongColumns, reference.LongColumns))
    assert got.equals(want) and list(got.columns) == COLUMNS and got.empty


def test_a_judgment_of_the_wrong_width_is_refused() -> None:
    for cls in (LongColumns, reference.LongColumns):
        with pytest.raises(ValueError):
            _build(cls, [((1, 2), {"q": 1}, None, None)]).frame(COLUMNS)


@pytest.mark.parametrize("pseudonymise", [False, True])
@pytest.mark.parametrize("include_drafts", [False, True])
def test_project_read_equals_the_reference(demo: Path, pseudonymise: bool,  # noqa: F811
                                           include_drafts: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_ratings_long`` and ``read_ratings_coded`` on a real project (odd answers,
    per-question judge confidences, scores, drafts) equal the reader run with the reference
    builder in its place."""
    project = open_project(demo)
    try:
        got = read_ratings_long(project, pseudonymise=pseudonymise,
                                include_drafts=include_drafts)
        got_df, got_codes = read_ratings_coded(project, pseudonymise=pseudonymise)
        monkeypatch.setattr(ratings_read, "LongColumns", reference.LongColumns)
        want = read_ratings_long(project, pseudonymise=pseudonymise,
                                 include_drafts=include_drafts)
        want_df, want_codes = read_ratings_coded(project, pseudonymise=pseudonymise)
    finally:
        project.close()
    assert len(got) > 100 and len(got_df) > 100
    _same_frames(got, want)
    _same_frames(got_df, want_df)
    _same_codes(got_codes, want_codes)
