"""Copy every table of a project database into an empty one of the same schema, and prove it.

The first half of ``medreview copy`` (SQLite ↔ PostgreSQL, team mode): rows go across in
foreign-key order and primary-key order, in batches, inside ONE destination transaction, so an
interrupted or refused copy leaves the destination as empty as it was. Afterwards both sides are
read again and compared table by table — row count and a SHA-256 over the rows in a canonical
form (UTC timestamps, JSON with sorted keys, exact float text) — and any difference is an error,
not a warning. Media are not part of this module: they live beside the database (``media/``)
or in the tables ``media_blob``/``media_chunk`` of a server project, which are left out here and
copied blob by blob, verified, by ``storage/project_copy.py``.

Both engines must be at the same Alembic revision (the caller migrates the destination first),
because the copy is written against ``Base.metadata``, the one schema both dialects share.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Table, func, select, text
from sqlalchemy.engine import Connection, Engine

from medreview.errors import InputError
from medreview.progress import Progress, no_progress
from medreview.storage import (
    models,  # noqa: F401  (registers the tables on Base.metadata)
    schema,
)
from medreview.storage.base import Base

BATCH = 2000


@dataclass(frozen=True)
class TableCheck:
    table: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class CopyReport:
    revision: str
    tables: tuple[TableCheck, ...]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


# Media bytes, copied by storage/project_copy through the media stores (never as rows here).
MEDIA_TABLES = frozenset({"media_blob", "media_chunk"})


def copied_tables() -> list[Table]:
    """The tables this module copies, parents first (every table but the media ones)."""
    return [t for t in Base.metadata.sorted_tables if t.name not in MEDIA_TABLES]


_tables = copied_tables


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # UTCDateTime always returns aware values; be strict anyway
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(_ordered(table))
    for row in result.mappings():
        yield dict(row)


def table_checks(engine: Engine) -> tuple[TableCheck, ...]:
    """Row count and content hash of every table, in a form independent of the dialect."""
    with engine.connect() as conn:
        return _checks(conn)


def _checks(conn: Connection) -> tuple[TableCheck, ...]:
    out = []
    for table in _tables():
        h = hashlib.sha256()
        n = 0
        for row in _rows(conn, table):
            h.update(json.dumps(_canonical(row), sort_keys=True, ensure_ascii=False,
                                default=str).encode("utf-8"))
            h.update(b"\n")
            n += 1
        out.append(TableCheck(table.name, n, h.hexdigest()))
    return tuple(out)


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _refuse_nul(table: Table, row: Mapping[str, Any]) -> None:
    """PostgreSQL text cannot hold U+0000, which SQLite stores; say where instead of failing
    half-way with a driver error."""
    for key, value in row.items():
        blob = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        if isinstance(blob, str) and ("\x00" in blob or "\\u0000" in blob):
            pk = ", ".join(f"{c.name}={row[c.name]}" for c in table.primary_key.columns)
            raise InputError(f"{table.name} ({pk}): column {key} holds a NUL character, which "
                             "PostgreSQL cannot store; remove it in the source project first")


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids were inserted: move each PostgreSQL identity sequence past the largest."""
    for table in _tables():
        for col in table.primary_key.columns:
            if isinstance(col.type, Integer) and col.autoincrement in (True, "auto"):
                seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                   {"t": f'"{table.name}"', "c": col.name}).scalar()
                if seq:
                    nxt = select(func.coalesce(func.max(col), 0) + 1).scalar_subquery()
                    conn.execute(select(func.setval(seq, nxt, False)))


def copy_database(src: Engine, dst: Engine, progress: Progress = no_progress,
                  finish: Callable[[Connection], None] | None = None) -> CopyReport:
    """Copy all rows of ``src`` into the empty, migrated ``dst``; verify; return the checks.
    ``finish`` runs in the same transaction after the verification (a destination's own
    settings, e.g. where its media are), so it commits with the copy or not at all."""
    head = schema.head_revision()
    for name, engine in (("source", src), ("destination", dst)):
        rev = schema.current_revision(engine)
        if rev != head:
            raise InputError(f"the {name} database is at schema {rev or 'none'}, not {head}: "
                             f"migrate it first (medreview migrate)")
    tables = _tables()
    with src.connect() as s_conn, s_conn.begin():  # one snapshot of the source throughout
        before = _checks(s_conn)
        total = sum(_count(s_conn, t) for t in tables)
        done = 0
        to_pg = dst.dialect.name == "postgresql"
        with dst.begin() as d_conn:
            for table in tables:
                if _count(d_conn, table):
                    raise InputError(f"the destination is not empty (table {table.name} has rows)"
                                     "; copy into a new, empty database")
            for table in tables:
                batch: list[dict[str, Any]] = []
                for row in _rows(s_conn, table):
                    if to_pg:
                        _refuse_nul(table, row)
                    batch.append(row)
                    if len(batch) >= BATCH:
                        d_conn.execute(table.insert(), batch)
                        done += len(batch)
                        batch = []
                        progress(done, total, f"copying {table.name}")
                if batch:
                    d_conn.execute(table.insert(), batch)
                    done += len(batch)
                    progress(done, total, f"copying {table.name}")
            if to_pg:
                _reset_sequences(d_conn)
            # Verified before the commit: a copy that differs is rolled back, never kept.
            after = _checks(d_conn)
            bad = [f"{a.table} ({a.rows} rows, copy {b.rows})"
                   for a, b in zip(before, after, strict=True) if a != b]
            if bad:
                raise InputError("the copy differs from its source in " + ", ".join(bad)
                                 + "; nothing was written")
            if finish is not None:
                finish(d_conn)
    return CopyReport(head, after)
