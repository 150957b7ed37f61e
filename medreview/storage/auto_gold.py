"""Gold labels that need no adjudicator, written a batch of outputs at a time.

``adjudicate --auto`` reads every physician's current finished judgment (8 million answers at a
million judgments). Holding them all, then every derived label, then every label's row object
took 12.8 GB and 19 minutes. Here one write transaction streams the judgments in output order
(an output's judgments are consecutive), hands the caller a batch of whole outputs with the
gold labels those outputs have now, and inserts the labels it decides with executemany
(``revisions.insert_columns``): memory is one batch whatever the project's size, and the gold
a decision sees is the gold that exists inside the transaction that writes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, select
from sqlalchemy.orm import Session

from medreview.storage.adjudication import NewGold
from medreview.storage.base import utcnow
from medreview.storage.check_items import not_attention
from medreview.storage.models import GoldLabelRow, JudgmentRevisionRow, JudgmentRow, RaterRow
from medreview.storage.project import Project
from medreview.storage.revisions import gc_paused, insert_columns, page_cache
from medreview.storage.sqlite_values import Processor, insert_plan, processed
from medreview.storage.table_read import column_batches

READ_BATCH = 50_000  # judgments read at a time (whole outputs: a few more when one is split)
INSERT_BATCH = 50_000  # new labels per executemany
# SQLite's page cache while the labels go in (default 2 MiB): the indexes of (output, question)
# take keys all along the project's outputs where there is gold already.
CACHE_KIB = 64 * 1024

# The keys of each judgment handed to ``decide`` (those ``consensus.physician_ratings`` reads).
FINAL_KEYS = ("output_id", "rater", "rater_pseudonym", "rater_kind", "answers", "annotations")
_GOLD = cast(Table, GoldLabelRow.__table__)
_COLUMNS = ("uid", "output_id", "question_id", "value", "provenance", "rationale",
            "adjudicator_id", "revision_no", "created_at")

_ITEM, _OUTPUT = itemgetter(0, 1), itemgetter(0)  # a NewGold's (output, question), output
Decide = Callable[[list[dict[str, Any]], frozenset[tuple[int, str]]], Iterable[NewGold]]


def add_gold_by_output(project: Project, decide: Decide) -> int:
    """In one transaction: for each batch of outputs (ascending), ``decide`` gets their
    physicians' current finished judgments (dicts of ``FINAL_KEYS``, by output then rater id;
    attention items left out) and the (output, question) items of those outputs that have a
    gold label now, and returns labels to add; an item that has one is never given another.
    Returns how many labels were added."""
    read_batch, insert_batch = READ_BATCH, INSERT_BATCH  # (tests make them small)
    added = 0
    with project.transaction() as s, gc_paused(), page_cache(s, CACHE_KIB):
        conn = s.connection()
        now = utcnow()  # one run, one time (the per-label path stamped each at its flush)
        uids = Uids()
        pending: list[NewGold] = []
        for finals in _by_output(conn, _finals_query(s), read_batch):
            have = _gold_items(conn, finals[0]["output_id"], finals[-1]["output_id"])
            pending += _new_only(list(decide(finals, have)), have,
                                 {r["output_id"] for r in finals})
            if len(pending) >= insert_batch:
                added += _insert(s, pending, now, uids)
                pending = []
        added += _insert(s, pending, now, uids)
    return added


def _new_only(labels: list[NewGold], have: frozenset[tuple[int, str]], outputs: set[int]
              ) -> list[NewGold]:
    """``labels`` without those of items in ``have`` or named before (checked as sets: a
    million labels a second instead of one at a time)."""
    items = set(map(_ITEM, labels))
    if not set(map(_OUTPUT, labels)) <= outputs:  # a caller's mistake, never data's
        raise ValueError("gold for an output outside the batch decided")
    if len(items) == len(labels) and items.isdisjoint(have):
        return labels
    taken = set(have)
    kept = []
    for g in labels:
        if (item := (g.output_id, g.question_id)) not in taken:
            taken.add(item)
            kept.append(g)
    return kept


def _finals_query(s: Session) -> Select[Any]:
    rev, j, rater = JudgmentRevisionRow, JudgmentRow, RaterRow
    return (
        select(j.output_id, rater.name, rater.pseudonym, rater.kind, rev.answers,
               rev.annotations)
        .join(j, (j.id == rev.judgment_id) & (j.current_revision_no == rev.revision_no))
        .join(rater, rater.id == j.rater_id)
        .where(j.status == "done", rater.kind == "physician",
               not_attention(s, j.output_id))  # attention items: not cases
        .order_by(j.output_id, rater.id)
        # PostgreSQL: a server-side cursor, fetched a batch at a time (SQLite reads so anyway).
        .execution_options(stream_results=True)
    )


def _by_output(conn: Connection, stmt: Select[Any], size: int
               ) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``stmt`` (ordered by output) as dicts, a batch of whole outputs at a time:
    the rows of a batch's last output wait for the next batch, which may hold more of them."""
    keys = FINAL_KEYS
    held: list[dict[str, Any]] = []
    for batch in column_batches(conn, stmt, size):
        rows = held + [dict(zip(keys, row, strict=True)) for row in batch]
        del batch
        last = rows[-1]["output_id"]
        cut = len(rows)
        while cut and rows[cut - 1]["output_id"] == last:
            cut -= 1
        held = rows[cut:]
        if cut:
            yield rows[:cut]
    if held:
        yield held


def _gold_items(conn: Connection, first: int, last: int) -> frozenset[tuple[int, str]]:
    """The (output, question) items with any gold revision, outputs ``first`` to ``last``."""
    g = GoldLabelRow
    return frozenset((int(o), str(q)) for o, q in conn.execute(
        select(g.output_id, g.question_id).distinct()
        .where(g.output_id >= first, g.output_id <= last)))


def _insert(s: Session, labels: Sequence[NewGold], now: Any, uids: Uids) -> int:
    """Insert ``labels`` as each item's first revision (no adjudicator) with one executemany."""
    n = len(labels)
    if not n:
        return 0
    columns: list[list[Any]] = [
        uids.take(n), [g.output_id for g in labels], [g.question_id for g in labels],
        [g.value for g in labels], [g.provenance for g in labels],
        [g.rationale for g in labels], [None] * n, [1] * n, [now] * n]
    conn = s.connection()
    plan = insert_plan(conn.dialect, _GOLD, _COLUMNS) if conn.dialect.name == "sqlite" else None
    if plan is None:
        insert_columns(s, _GOLD, _COLUMNS, columns)
        return n
    sql, order = plan
    at = {k: i for i, k in enumerate(_COLUMNS)}
    values = [processed(_memoized(proc) if k == "value" and proc else proc, columns[at[k]])
              for k, proc in order]
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return n


_MEMO_MAX = 10_000  # distinct answers remembered per batch (hostile text: a bound)


def _memoized(proc: Processor) -> Processor:
    """``proc`` (the JSON column's writer) remembering its text for answers of the types whose
    equal values serialize alike (a float is not one: ``-0.0 == 0.0``): labels repeat a few
    answers ("yes", 3, true) millions of times, and ``json.dumps`` costs 2 µs each."""
    memo: dict[tuple[type, Any], Any] = {}
    plain = (str, int, bool)

    def write(value: Any) -> Any:
        kind = value.__class__
        if kind not in plain:
            return proc(value)
        key = (kind, value)
        out = memo.get(key)
        if out is None:
            out = proc(value)
            if len(memo) < _MEMO_MAX:
                memo[key] = out
        return out

    return write


class Uids:
    """Unique ids for one run's labels, ascending: version-7 UUIDs (RFC 9562) as 32 hex digits.

    Each is the run's start in Unix milliseconds, the version, 28 random bits, the variant and a
    48-bit counter from a random start. Ascending ids go into the ``uid`` index at one place,
    one page after another; uuid4's random ids (each at a random place) made SQLite read and
    rewrite index pages all over a 350 MB index at 8 million labels (a third of the insert's
    CPU). Unique across runs and copies as uuid4 is for all practical purposes: two runs
    collide only in the same millisecond with the same 28 random bits and overlapping counters;
    the unique index would refuse the run then, never keep a duplicate.
    """

    def __init__(self) -> None:
        ms = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(12), "big")  # 96 bits: 28 in the prefix, 46 for the start
        # 12 hex digits of time, "7", 3 random digits, the variant (8-b) with 2 random bits,
        # 3 random digits: the first 20 of 32; the counter is the other 12.
        self._prefix = (f"{ms & (1 << 48) - 1:012x}7{rand & 0xFFF:03x}"
                        f"{0x8 | (rand >> 12) & 0x3:x}{(rand >> 14) & 0xFFF:03x}")
        self._next = (rand >> 26) & ((1 << 46) - 1)  # room for 2**46 more ids in the run

    def take(self, n: int) -> list[str]:
        """The next ``n`` ids."""
        first, self._next = self._next, self._next + n
        prefix = self._prefix
        return [f"{prefix}{i:012x}" for i in range(first, first + n)]
