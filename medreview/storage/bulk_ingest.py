"""Cases and outputs of one import batch, checked against sets and written with executemany.

``storage.ingest`` used to look every record up with its own ``SELECT`` and ``flush()``
(31.6 s for 60,000 outputs where plain ``sqlite3`` needs 0.42 s). Here the records of a batch
are only collected (their hashes and row values worked out as they arrive, before the batch
takes the write lock); when the batch is written:

1. the cases it names are read in one ``IN`` query per 500 keys, and the outputs it might
   repeat in one query per 300 identities (searching the unique index of (case, model,
   sha256 of the text));
2. the records are checked in file order against those dicts and sets and against what the
   batch itself adds: the same identity rules, counts and one-line errors (naming the file,
   line and item) as the row-at-a-time ingest;
3. new cases, their criteria and outputs are inserted with executemany: on PostgreSQL a
   SQLAlchemy Core ``insert ... RETURNING id``; on SQLite the driver's executemany of the
   statement Core compiles, with the values Core's own bind processors make (a third less
   CPU), the new ids read back and checked. The ids go to the ingest's undo list.

Identity: a case by ``external_id`` (the same id with other content is refused), an output by
(case, model, sha256 of the text). See ``storage.ingest`` for batches and all-or-nothing.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Dialect, Table, insert, select

from medreview.domain.jsontext import make_dumps
from medreview.domain.records import CaseRecord, Located, OutputRecord, text_sha256
from medreview.errors import ImportFailed, ProjectError
from medreview.storage.base import utcnow
from medreview.storage.models import CaseCriterionRow, CaseRow, OutputRow
from medreview.storage.sqlite_values import bind_processor

CASES: Table = CaseRow.__table__  # type: ignore[assignment]
CRITERIA: Table = CaseCriterionRow.__table__  # type: ignore[assignment]
OUTPUTS: Table = OutputRow.__table__  # type: ignore[assignment]

# Bound parameters per lookup statement stay far below SQLite's and PostgreSQL's limits.
KEYS_PER_QUERY = 500
IDENTITIES_PER_QUERY = 300

Inserted = Callable[[str, Sequence[int]], None]


# The same text as json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
# default=str), without building an encoder per call.
_CANONICAL = make_dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_sha(obj: Any) -> str:
    return hashlib.sha256(_CANONICAL(obj).encode("utf-8")).hexdigest()


# The importers hash an output's text for their duplicate checks just before: hashed once.
text_sha = text_sha256


def case_content(rec: CaseRecord) -> dict[str, Any]:
    """What a case's ``content_sha256`` covers (its tags and metadata are not compared).

    The same dicts as ``dataclasses.asdict`` (field order kept: messages and context are
    stored as they are), written out because ``asdict`` deep-copies and is slow.
    """
    return {
        "messages": [{"role": m.role, "content": m.content} for m in rec.messages],
        "context": [{"title": c.title, "text": c.text, "kind": c.kind} for c in rec.context],
        "criteria": [{"key": c.key, "text": c.text, "points": c.points, "tags": c.tags}
                     for c in rec.criteria],
        "reference": rec.reference_answer,
        "title": rec.title,
    }


class _Case:
    # A class with slots, not a frozen dataclass: made once per record, three times faster.
    __slots__ = ("criteria", "key", "row", "sha", "where")

    def __init__(self, where: Located, key: str, sha: str, row: dict[str, Any],
                 criteria: tuple[dict[str, Any], ...]) -> None:
        self.where, self.key, self.sha, self.row, self.criteria = where, key, sha, row, criteria


class _Output:
    __slots__ = ("key", "model", "row", "sha", "where")

    def __init__(self, where: Located, key: str, model: str, sha: str,
                 row: dict[str, Any]) -> None:
        self.where, self.model, self.sha, self.row = where, model, sha, row
        self.key = key  # the case's external id


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


class CaseOutputBatch:
    """The case and output records of the open batch, in file order."""

    def __init__(self) -> None:
        self.items: list[_Case | _Output] = []

    def __len__(self) -> int:
        return len(self.items)

    def add_case(self, rec: CaseRecord, where: Located) -> None:
        content = case_content(rec)
        row = {
            "external_id": rec.external_id,
            "title": rec.title,
            "messages": content["messages"],
            "context": content["context"],
            "tags": list(rec.tags),
            "metadata": rec.metadata,
            "reference_answer": rec.reference_answer,
            "content_sha256": canonical_sha(content),
            "source": where.source,
        }
        criteria = tuple(
            {"position": pos, "key": c.key, "text": c.text, "points": float(c.points),
             "tags": list(c.tags)}
            for pos, c in enumerate(rec.criteria)
        )
        self.items.append(_Case(where, rec.external_id, row["content_sha256"], row, criteria))

    def add_output(self, rec: OutputRecord, where: Located) -> None:
        sha = text_sha(rec.text)
        row = {
            "external_id": rec.external_id,
            "model": rec.model,
            "text": rec.text,
            "text_sha256": sha,
            "metadata": rec.metadata,
            "source": where.source,
        }
        self.items.append(_Output(where, rec.case_external_id, rec.model, sha, row))

    def write(
        self, conn: Connection, summary: tuple[Counter[str], Counter[str]], inserted: Inserted
    ) -> dict[str, int]:
        """Check the batch in file order and insert what is new; the case ids it used, by key.

        Raises ``ImportFailed`` (nothing of this batch inserted) for the first bad record.
        """
        try:
            plan = self.check(conn, summary)
        finally:
            self.items = []  # checked (or refused): never checked again
        ids = plan.known_ids
        stamp = {"created_at": utcnow()}  # one value for the whole batch
        if plan.cases:
            rows = [c.row for c in plan.cases]
            if conn.dialect.name == "sqlite":  # ids in the order of the rows (see _insert)
                new_ids = dict(zip((c.key for c in plan.cases), _insert(conn, CASES, rows, stamp),
                                   strict=True))
            else:
                stmt = insert(CASES).returning(CASES.c.id, CASES.c.external_id)
                new_ids = {key: int(cid)
                           for cid, key in conn.execute(stmt, [{**r, **stamp} for r in rows])}
            inserted(CASES.name, list(new_ids.values()))
            ids.update(new_ids)
            crit = [{**x, "case_id": new_ids[c.key]} for c in plan.cases for x in c.criteria]
            if crit:
                inserted(CRITERIA.name, _insert(conn, CRITERIA, crit))
        if plan.outputs:
            rows = []
            for o in plan.outputs:  # the rows are this batch's own: completed in place
                o.row["case_id"] = ids[o.key]
                rows.append(o.row)
            inserted(OUTPUTS.name, _insert(conn, OUTPUTS, rows, stamp))
        return ids

    def check(self, conn: Connection, summary: tuple[Counter[str], Counter[str]]) -> _Plan:
        """What to insert, after checking every record in file order (reads only)."""
        added, skipped = summary
        stored = _stored_cases(conn, {i.key for i in self.items})
        stored_ids = {key: cid for key, (cid, _sha) in stored.items()}
        stored_outputs = _stored_outputs(conn, [
            (stored_ids[i.key], i.model, i.sha) for i in self.items
            if isinstance(i, _Output) and i.key in stored_ids
        ])
        shas = {key: sha for key, (_cid, sha) in stored.items()}
        seen_outputs: set[tuple[str, str, str]] = set()
        plan = _Plan(stored_ids)
        for item in self.items:
            if isinstance(item, _Case):
                if item.key in shas:
                    if shas[item.key] != item.sha:
                        raise _fail(
                            "case id already exists in the project with different content "
                            "(prompt, context or criteria); give it a new id or fix the file",
                            item.where, item.key,
                        )
                    skipped["cases"] += 1
                    continue
                _check_criteria(item)
                shas[item.key] = item.sha
                plan.cases.append(item)
                added["cases"] += 1
                if item.criteria:
                    added["criteria"] += len(item.criteria)
            else:
                if item.key not in shas:
                    raise _fail(
                        f"refers to case {item.key!r}, which is neither in this file before it "
                        "nor in the project",
                        item.where, item.key,
                    )
                ident = (item.key, item.model, item.sha)
                cid = stored_ids.get(item.key)
                if ident in seen_outputs or (
                    cid is not None and (cid, item.model, item.sha) in stored_outputs
                ):
                    skipped["outputs"] += 1
                    continue
                seen_outputs.add(ident)
                plan.outputs.append(item)
                added["outputs"] += 1
        return plan


class _Plan:
    """The checked batch: stored case ids by key, and the new cases and outputs in order."""

    def __init__(self, known_ids: dict[str, int]) -> None:
        self.known_ids = dict(known_ids)
        self.cases: list[_Case] = []
        self.outputs: list[_Output] = []


def _fail(reason: str, where: Located, item: str) -> ImportFailed:
    return ImportFailed(reason, source=where.source, line=where.line, item=item)


def _check_criteria(item: _Case) -> None:
    keys: set[str] = set()
    for c in item.criteria:
        if c["key"] in keys:
            raise _fail(f"duplicate criterion key {c['key']!r}", item.where, item.key)
        keys.add(c["key"])


def _stored_cases(conn: Connection, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """(id, content sha256) of the stored cases among ``keys``."""
    found: dict[str, tuple[int, str]] = {}
    wanted = sorted(keys)
    sqlite = conn.dialect.name == "sqlite"
    for part in _chunks(wanted, KEYS_PER_QUERY):
        # On SQLite the statement's text with plain "?"s: Core's rendering of 500 expanding
        # parameters costs five times the query itself (the columns need no conversion).
        rows = conn.exec_driver_sql(_lookup_sql(len(part)), tuple(part)) if sqlite else (
            conn.execute(select(CASES.c.external_id, CASES.c.id, CASES.c.content_sha256)
                         .where(CASES.c.external_id.in_(part))))
        for key, cid, sha in rows:
            found[key] = (int(cid), sha)
    return found


def _lookup_sql(n: int) -> str:
    return (f'SELECT external_id, id, content_sha256 FROM "{CASES.name}" '
            f"WHERE external_id IN ({', '.join('?' * n)})")


def _stored_outputs(
    conn: Connection, identities: list[tuple[int, str, str]]
) -> set[tuple[int, str, str]]:
    """Which (case id, model, text sha256) identities are stored already.

    Asked as ``case_id IN .. AND model IN .. AND text_sha256 IN ..``, which SQLite answers
    by searching the unique index of the identity; a row-value ``IN`` would scan all of it.
    The few rows that match the three lists but not one identity are dropped here.
    """
    found: set[tuple[int, str, str]] = set()
    sqlite = conn.dialect.name == "sqlite"
    for part in _chunks(sorted(set(identities)), IDENTITIES_PER_QUERY):
        wanted = set(part)
        cases = sorted({c for c, _m, _s in part})
        models = sorted({m for _c, m, _s in part})
        shas = sorted({s for _c, _m, s in part})
        if sqlite:  # plain "?"s, as in _stored_cases
            rows = conn.exec_driver_sql(
                f'SELECT case_id, model, text_sha256 FROM "{OUTPUTS.name}" '
                f"WHERE case_id IN ({', '.join('?' * len(cases))}) "
                f"AND model IN ({', '.join('?' * len(models))}) "
                f"AND text_sha256 IN ({', '.join('?' * len(shas))})",
                (*cases, *models, *shas))
        else:
            rows = conn.execute(
                select(OUTPUTS.c.case_id, OUTPUTS.c.model, OUTPUTS.c.text_sha256).where(
                    OUTPUTS.c.case_id.in_(cases), OUTPUTS.c.model.in_(models),
                    OUTPUTS.c.text_sha256.in_(shas)))
        found.update(i for c, m, s in rows if (i := (int(c), m, s)) in wanted)
    return found


def _insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], same: dict[str, Any] | None = None
) -> list[int]:
    """Insert ``rows`` (executemany), each with the values of ``same`` too; their new ids (in
    the order of ``rows`` on SQLite, in no particular order elsewhere: for the undo list, and
    asking for the order costs twice)."""
    if conn.dialect.name == "sqlite":
        return _insert_sqlite(conn, table, rows, same or {})
    stmt = insert(table).returning(table.c.id)
    if same:
        rows = [{**row, **same} for row in rows]
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


def _insert_sqlite(
    conn: Connection, table: Table, rows: list[dict[str, Any]], same: dict[str, Any]
) -> list[int]:
    """The driver's own executemany, fed the values SQLAlchemy's bind processors make of
    ``rows`` (the same JSON and timestamps the Core insert writes, a third less CPU).

    sqlite3 cannot return rows from executemany, so the ids are read back: inside the write
    transaction nobody else inserts, and SQLite numbers new rows max(id)+1, +2, ... in order.
    That is checked (count and top of the ids above the old maximum) rather than assumed.
    """
    plan = _sqlite_insert_plan(conn.dialect, table, (*rows[0], *same))
    name = table.name
    before = int(conn.exec_driver_sql(f'SELECT max(id) FROM "{name}"').scalar() or 0)
    if plan is not None:
        # Column by column (a C loop per column, not a Python one per value); a value all
        # rows share is processed once.
        sql, order = plan
        n = len(rows)
        columns = [
            _processed(proc, [same[k]]) * n if k in same
            else _processed(proc, list(map(itemgetter(k), rows)))
            for k, proc in order
        ]
        conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))
    else:  # a column this module does not fill (added later, with a default): Core fills it
        conn.execute(insert(table), [{**row, **same} for row in rows])
    count, top = conn.exec_driver_sql(
        f'SELECT count(*), max(id) FROM "{name}" WHERE id > ?', (before,)).one()
    if count != len(rows) or top != before + len(rows):
        raise ProjectError(
            f"the database numbered the new rows of {table.name!r} in an unexpected way; "
            "nothing of this import was kept"
        )
    return list(range(before + 1, before + len(rows) + 1))


_Plans = dict[tuple[str, tuple[str, ...]], tuple[str, list[tuple[str, Any]]] | None]
# Per dialect (an engine's): compiled INSERT text and its columns' processors, by table and
# keys. Compiling them took a few ms per batch, a tenth of a batch's writing time.
_PLANS: weakref.WeakKeyDictionary[Dialect, _Plans] = weakref.WeakKeyDictionary()


def _sqlite_insert_plan(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, list[tuple[str, Callable[[Any], Any] | None]]] | None:
    """The INSERT of ``keys`` into ``table``: its SQL text and, in its parameter order, each
    column with its bind processor; None when the statement needs more columns than these
    (one with a default this module does not fill)."""
    plans = _PLANS.setdefault(dialect, {})
    key = (table.name, keys)
    if key not in plans:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = list(compiled.positiontup or ())
        plans[key] = (str(compiled), [(k, _bind_processor(table.c[k], dialect)) for k in order]
                      ) if set(order) == set(keys) else None
    return plans[key]


def _bind_processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy makes of a value of ``column`` for the driver; on SQLite JSON and UTC
    columns the same text, faster (``storage.sqlite_values``, shared with the merge)."""
    return bind_processor(column, dialect)


def _processed(proc: Callable[[Any], Any] | None, values: list[Any]) -> list[Any]:
    """``values`` as the driver gets them; one value shared by all (the batch's timestamp,
    its source) is processed once."""
    if proc is None:
        return values
    first = values[0]
    if all(v is first for v in values):
        return [proc(first)] * len(values)
    return list(map(proc, values))
