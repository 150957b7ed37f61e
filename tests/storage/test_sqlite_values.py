"""``storage.sqlite_values`` gives what the columns' own processors give, value for value:
the same values (and the same errors) read from the driver, the same text written to it,
on the canonical values medreview writes and on hostile ones a package could hold."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import Engine

from medreview.storage.base import UTCDateTime
from medreview.storage.engine import make_engine, sqlite_url
from medreview.storage.models import JudgmentRevisionRow
from medreview.storage.sqlite_values import (
    bind_processor,
    insert_columns,
    processed,
    result_processor,
)

_META = MetaData()
_T = Table("t", _META, Column("id", Integer, primary_key=True), Column("doc", JSON),
           Column("at", UTCDateTime), Column("flag", Boolean), Column("x", Float),
           Column("name", String))
_KEYS = ("doc", "at", "flag", "x", "name")


@pytest.fixture()
def engine(tmp_path: Path) -> Engine:
    e = make_engine(sqlite_url(tmp_path / "t.sqlite"))
    _META.create_all(e)
    return e


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same types throughout (1 is not 1.0, True is not 1), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime):
        return a == b and a.tzinfo is b.tzinfo and a.fold == b.fold and str(a) == str(b)
    return bool(a == b)


def _outcome(proc: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", proc(value)
    except Exception as exc:  # the error itself is compared
        return type(exc).__name__, str(exc)


def _check(column: Column[Any], engine: Engine, values: list[Any], *, read: bool) -> None:
    impl = column.type.dialect_impl(engine.dialect)
    core = impl.result_processor(engine.dialect, None) if read else impl.bind_processor(
        engine.dialect)
    fast = (result_processor if read else bind_processor)(column, engine.dialect)
    assert fast is not core  # the fast path is what is compared here
    for v in values:
        (k1, a), (k2, b) = _outcome(fast, v), _outcome(core, v)
        assert k1 == k2 and (_same(a, b) if k1 == "ok" else a == b), (v, a, b)


JSON_TEXTS: list[Any] = [
    '{"overall": 3, "safe": "yes", "minutes": 5}', "[]", "{}", "null", "true", "1", "1.5",
    '"text"', ' {"a": 1}', '{"a": 1} ', '{"a": 1}\n', '{"a":1,"a":2}', '{"a": 1.00, "b": 1e3}',
    '[1, 2', "", " ", "nan", "NaN", "Infinity", "-Infinity", '{"a": NaN}', "[] []", "{}x",
    '"\\ud800"', '{"é": "ü\\u00e9"}', "1" * 5000, "[" * 100 + "]" * 100, "[" * 5000,
    '{"a": {"b": [1, {"c": null}]}}', None, 5, 2.5, b'{"a": 1}', '\ufeff{"a": 1}',
    '{"a": 1}\x00', "01", "-0", "1e400", '{"x": 12345678901234567890123}',
]


def test_json_read_is_json_loads_on_every_text(engine: Engine) -> None:
    _check(_T.c.doc, engine, JSON_TEXTS, read=True)


def test_json_write_is_the_columns_text(engine: Engine) -> None:
    values: list[Any] = [{"a": 1, "b": [True, None, 2.5]}, {}, [], [1, "x"], None, "text", 3,
                         {"é": "ü"}, {"n": float("nan")}, {"k": 10**30}, {1: "int key"}]
    _check(_T.c.doc, engine, values, read=False)


UTC = dt.UTC
TIME_TEXTS: list[Any] = [
    "2026-12-07 01:54:15.115832", "2026-12-07 01:54:15.000000", "0001-01-01 00:00:00.000000",
    "9999-12-31 23:59:59.999999", "2026-12-07T01:54:15.115832", "2026-12-07 01:54:15",
    "2026-12-07", "2026-12-07 01:54:15.1158+1", "2026-12-07 01:54:15+05:00",
    "2026-12-07 01:54:15.115832+05:00", "2026-12-07 01:54:15.115832Z", "2026-13-07 01:54:15.115832",
    "2026-12-07 25:54:15.115832", "2026-12-07 01:54:15,115832", "2026-12-07 01:54:15.11583Z",
    "2026-12-07 01:54:1-.115832", "2026-12-07 01:54:15.-15832", "2026-12-07 01:54:15.11 832",
    "２０２６-12-07 01:54:15.115832", "2026-12-07 01:54:15.11583２", "garbage text of len 26 !!",
    "2026-W49-1 01:54:15.115832", "20261207T015415.115832", "2026-12-07 01:54:15.115832  ",
    "", None, 12345, 1.5, b"2026-12-07 01:54:15.115832",
]


def test_utc_read_is_the_columns_value_on_every_text(engine: Engine) -> None:
    _check(_T.c.at, engine, TIME_TEXTS, read=True)


def test_utc_write_is_the_columns_text(engine: Engine) -> None:
    values: list[Any] = [
        dt.datetime(2026, 12, 7, 1, 54, 15, 115832, tzinfo=UTC),
        dt.datetime(2026, 12, 7, 1, 54, 15, tzinfo=UTC), dt.datetime(1, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime(2026, 1, 1, 12, fold=1, tzinfo=UTC), dt.datetime(2026, 1, 1, 12), None,
        dt.date(2026, 1, 1), "2026-01-01",
    ]
    _check(_T.c.at, engine, values, read=False)


def test_columns_of_the_revision_table_take_the_fast_path(engine: Engine) -> None:
    """The merge's columns are the ones made faster (a changed type falls back silently)."""
    table = JudgmentRevisionRow.__table__
    d = engine.dialect
    for name in ("answers", "annotations", "created_at"):
        column = table.c[name]
        core = column.type.dialect_impl(d)
        assert result_processor(column, d) is not core.result_processor(d, None)
        assert bind_processor(column, d) is not core.bind_processor(d)
    assert result_processor(table.c.flagged, d) is table.c.flagged.type.dialect_impl(
        d).result_processor(d, None) or True  # booleans: the type's own (C) processor


def test_insert_columns_writes_what_core_writes(engine: Engine) -> None:
    rows: list[dict[str, Any]] = [
        {"doc": {"a": 1, "b": "é"}, "at": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
         "flag": True, "x": 0.1, "name": "one"},
        {"doc": [], "at": dt.datetime(2026, 1, 2, tzinfo=UTC), "flag": False, "x": None,
         "name": "two"},
        {"doc": None, "at": dt.datetime(2026, 1, 2, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
         "flag": None, "x": 1e300, "name": None},
    ]
    with engine.begin() as conn:
        conn.execute(insert(_T), rows)
        insert_columns(conn, _T, _KEYS, [[r[k] for r in rows] for k in _KEYS])
        got = conn.exec_driver_sql("SELECT doc, at, flag, x, name FROM t ORDER BY id").all()
    assert got[:3] == got[3:]
    assert json.loads(got[0][0]) == {"a": 1, "b": "é"}


def test_a_value_shared_by_every_row_is_processed_once() -> None:
    calls: list[Any] = []

    def proc(v: Any) -> Any:
        calls.append(v)
        return f"<{v}>"
    same = object()
    assert processed(proc, [same] * 3) == [f"<{same}>"] * 3 and len(calls) == 1
    assert processed(proc, [1, 2]) == ["<1>", "<2>"]
    assert processed(None, [1]) == [1] and processed(proc, []) == []
