"""Column values to and from the SQLite driver, as SQLAlchemy's column types make them, faster.

The merge reads and writes hundreds of thousands of revision rows on SQLite. Through each
column type's own processors, the JSON columns' ``json.loads`` and the UTC timestamps'
type decorator cost more than SQLite's own reading and writing. The processors here give the
same value for every input, proven per value, not assumed: the fast path is taken only where
its result is provably what the column's processor returns, and anything else (hostile text,
another storage format, a value of the wrong type) goes through the column's processor itself,
so errors too are the same. ``tests/storage/test_sqlite_values.py`` compares both on varied
and hostile values.

- JSON text: ``json.loads(s)`` is the default decoder's ``scan_once(s, idx)`` after skipping
  whitespace, and an error unless only whitespace follows; when ``scan_once(s, 0)`` ends at
  ``len(s)`` (nothing before or after the value) its value is ``json.loads``'s.
- UTC timestamps read: the column parses ``datetime.fromisoformat(s)`` and makes a naive value
  UTC with ``replace`` (a tenth of a microsecond, and ``replace`` eight tenths). For text in the
  storage format ``YYYY-MM-DD HH:MM:SS.ffffff`` (length 26, a space and a dot in their places)
  ``fromisoformat(s + "+00:00")`` parses the same fields with UTC attached.
- UTC timestamps written: for an aware datetime whose ``tzinfo`` is ``datetime.UTC`` the
  column writes its storage format (``%04d-%02d-%02d %02d:%02d:%02d.%06d``) of its fields,
  through a dict per value; the same format is applied here to a tuple of them.
- Other columns: the type's own processor (booleans, floats and text have none or a C one).
"""

from __future__ import annotations

import datetime as dt
import json
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, Table, insert
from sqlalchemy.dialects.sqlite.base import DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import sqltypes

from medreview.domain.jsontext import dumps_default
from medreview.storage.base import UTCDateTime

Processor = Callable[[Any], Any]

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # json.loads's own, default options
_UTC = dt.UTC
_fromisoformat = dt.datetime.fromisoformat
# SQLite's DATETIME storage format (SQLAlchemy's default, by field name), and the same
# format by position: what the UTC writer uses when the column's format is this one.
_NAMED = ("%(year)04d-%(month)02d-%(day)02d "
          "%(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d")
_POSITIONAL = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
_datetime = dt.datetime


def result_processor(column: ColumnElement[Any] | Any, dialect: Dialect) -> Processor | None:
    """What the driver's value of ``column`` becomes through its type (SQLite), faster where
    provably the same (see the module docstring)."""
    impl = column.type.dialect_impl(dialect)
    core = impl.result_processor(dialect, None)
    if core is None or dialect.name != "sqlite":
        return core
    if _plain_json(impl, dialect):
        return _json_reader(core)
    if _plain_utc(impl, dialect):
        return _utc_reader(core)
    return core


def bind_processor(column: ColumnElement[Any] | Any, dialect: Dialect) -> Processor | None:
    """What a value of ``column`` becomes for the SQLite driver, faster where provably the
    same (see the module docstring)."""
    impl = column.type.dialect_impl(dialect)
    core = impl.bind_processor(dialect)
    if core is None or dialect.name != "sqlite":
        return core
    if _plain_json(impl, dialect) and type(impl).bind_processor is sqltypes.JSON.bind_processor \
            and getattr(type(impl), "_make_bind_processor", None) \
            is sqltypes.JSON._make_bind_processor \
            and getattr(dialect, "_json_serializer", None) is None \
            and String().bind_processor(dialect) is None:
        return _json_writer(core)
    if _plain_utc(impl, dialect):
        return _utc_writer(core)
    return core


def _plain_json(impl: Any, dialect: Dialect) -> bool:
    """A JSON column with SQLAlchemy's own processors and ``json``'s default coding."""
    return (isinstance(impl, sqltypes.JSON)
            and type(impl).result_processor in (sqltypes.JSON.result_processor,
                                                _sqlite_json_result_processor())
            and getattr(dialect, "_json_deserializer", None) is None
            and impl._str_impl.result_processor(dialect, None) is None)


def _sqlite_json_result_processor() -> Any:
    from sqlalchemy.dialects.sqlite.base import _SQliteJson  # the dialect's JSON type

    return _SQliteJson.result_processor


def _plain_utc(impl: Any, dialect: Dialect) -> bool:
    """``UTCDateTime`` over SQLite's DATETIME in its default storage format."""
    if not isinstance(impl, UTCDateTime):
        return False
    inner = impl.impl_instance.dialect_impl(dialect)
    return (type(inner) is DATETIME and inner._storage_format == _NAMED and not inner._reg
            and type(impl).process_result_value is UTCDateTime.process_result_value
            and type(impl).process_bind_param is UTCDateTime.process_bind_param)


def _json_reader(core: Processor) -> Processor:
    scan, str_ = _scan, str

    def read(value: Any) -> Any:
        if value.__class__ is str_:
            try:
                parsed, end = scan(value, 0)
            except Exception:
                return core(value)
            if end == len(value):
                return parsed
        return core(value)  # whitespace around it, trailing text, not text: as the column does

    return read


def _json_writer(core: Processor) -> Processor:
    def write(value: Any) -> Any:
        kind = value.__class__
        if kind is dict:
            return dumps_default(value) if value else "{}"
        if kind is list:
            return dumps_default(value) if value else "[]"
        return core(value)  # None, JSON.NULL, null(), other values: as SQLAlchemy decides

    return write


def _utc_reader(core: Processor) -> Processor:
    parse, utc, str_ = _fromisoformat, _UTC, str

    def read(value: Any) -> Any:
        if value.__class__ is str_ and len(value) == 26 and value[10] == " " \
                and value[19] == ".":
            try:
                out = parse(value + "+00:00")
            except ValueError:
                return core(value)
            if out.tzinfo is utc:
                return out
        return core(value)

    return read


def _utc_writer(core: Processor) -> Processor:
    utc, datetime_, fmt = _UTC, _datetime, _POSITIONAL

    def write(value: Any) -> Any:
        if value.__class__ is datetime_ and value.tzinfo is utc:  # astimezone(UTC): itself
            return fmt % (value.year, value.month, value.day, value.hour, value.minute,
                          value.second, value.microsecond)
        return core(value)

    return write


def processed(proc: Processor | None, values: list[Any]) -> list[Any]:
    """``values`` through ``proc``; one value shared by all rows (a batch's timestamp, its
    source) is processed once."""
    if proc is None or not values:
        return values
    first = values[0]
    if all(v is first for v in values):
        return [proc(first)] * len(values)
    return list(map(proc, values))


_Plan = tuple[str, list[tuple[str, Processor | None]]]
_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Plan | None]] = (
    weakref.WeakKeyDictionary())


def insert_plan(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    """SQLite's ``INSERT`` of ``keys`` into ``table``, compiled once per engine: its text and,
    in its parameter order, each key with its bind processor; None when SQLAlchemy would add
    columns (a default to fill in)."""
    plans = _PLANS.setdefault(dialect, {})
    key = (table.name, keys)
    if key not in plans:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = list(compiled.positiontup or ())
        plans[key] = (str(compiled), [(k, bind_processor(table.c[k], dialect)) for k in order]
                      ) if sorted(order) == sorted(keys) else None
    return plans[key]


def insert_columns(conn: Any, table: Table, keys: tuple[str, ...],
                   columns: Sequence[list[Any]]) -> None:
    """``INSERT`` rows given column by column (``columns[i]`` holds every row's ``keys[i]``)
    with one executemany on SQLite: each column through its processor in a C loop."""
    plan = insert_plan(conn.dialect, table, keys)
    if plan is None:
        raise ValueError(f"bulk insert into {table.name}: columns other than {list(keys)}")
    sql, order = plan
    at = {k: i for i, k in enumerate(keys)}
    values = [processed(proc, columns[at[k]]) for k, proc in order]
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
