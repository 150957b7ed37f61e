"""The pipelined merge's writes: checked packages applied a chunk of outputs at a time.

``study.merge_pipeline`` holds one write transaction while a worker process reads, checks and
scores a package's revisions (``study.merge_worker``); each chunk it sends (whole outputs, in
our output id order, each revision's JSON and timestamp text already written) is applied here
by ``storage.merging._apply``'s rules, so the rows, their ids and the report are the ones the
single-process merge writes: the same insertion order (outputs by id), the same numbering,
``taken`` uids, conflicts and resolve revisions.

The caller takes the write lock before it or the worker reads anything of the project for
this merge, so every read (the lead's forms, cases and criteria, which judgment holds a uid)
is of the state this transaction began with. What changes as the merge writes is decided
here: the rater's judgments and revisions held (earlier packages of the merge included),
conflicts and resolve revisions; the outputs' answer hashes are compared again (an answer
changed since the package was issued refuses it). Anything the single-process merge would
refuse, or that this path cannot decide exactly as it would, raises ``Declined``: the caller
rolls back and runs that merge. SQLite only (other dialects take the single-process path).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from medreview.storage.base import utcnow
from medreview.storage.merging import (
    _CHUNK,
    _MERGE_CACHE_KIB,
    _NOT_GRADED,
    Conflict,
    MergeReference,
    PackageMergeResult,
    _contents,
    _driver_rows,
    _existing_uids,
    _Held,
    _held_judgments,
    _marks,
    _may_conflict,
    _resolve_uid,
    conflict_winner,
    merge_reference,
)
from medreview.storage.models import FormRow, JudgmentRevisionRow, RaterRow
from medreview.storage.packages import IssuedPackage
from medreview.storage.project import Project
from medreview.storage.revisions import (
    RETEST_SOURCE,
    REVISION_KEYS,
    Scorer,
    gc_paused,
    insert_judgments,
    page_cache,
    update_judgment_mirrors,
)
from medreview.storage.sqlite_values import insert_plan

_REVISION = cast(Table, JudgmentRevisionRow.__table__)
# Columns the worker sends as the text the column's writer makes (``_WRITERS`` checks that the
# writer in use is the one whose output it reproduces).
_TEXT = ("answers", "annotations", "created_at")
_WRITERS = {"answers": "_json_writer.<locals>.write", "annotations": "_json_writer.<locals>.write",
            "created_at": "_utc_writer.<locals>.write"}
# Record fields (study.merge_worker.Record)
_UID, _FORM, _TAX, _ANSWERS, _ANN = 0, 1, 2, 3, 4
_STATUS, _CREATED, _RETEST, _HELD = 11, 13, 15, 16
_FLAGGED = 9


class Declined(Exception):
    """This merge is not decided here: roll back and take the single-process path."""


@dataclass
class MergeStream:
    """One pipelined merge's state inside its write transaction."""

    s: Session
    lead: MergeReference
    forms: dict[tuple[str, int], int]  # (key, version) -> form id, in this transaction
    sql: str  # the revisions' INSERT
    order: list[tuple[str, Any]]  # its parameters: column key and bind processor
    taken: set[str] = field(default_factory=set)  # uids held or added (as ``_apply``'s)


@contextlib.contextmanager
def merge_transaction(project: Project) -> Iterator[MergeStream]:
    """The two-core merge's one write transaction (its write lock taken before anything is
    read), the collector paused and the merge's page cache, with its stream opened on the
    lead's reference as the transaction begins."""
    with project.transaction() as s, gc_paused(), page_cache(s, _MERGE_CACHE_KIB):
        yield open_stream(s, merge_reference(project, ()))


def open_stream(s: Session, lead: MergeReference) -> MergeStream:
    """Checks that the worker's values are what this transaction would compute."""
    conn = s.connection()
    if conn.dialect.name != "sqlite":
        raise Declined("not SQLite")
    # The worker reads the project while this transaction writes: only WAL lets a reader in
    # past a writer that spills pages (another journal mode would wait out the busy timeout).
    (mode,) = _driver_rows(conn, "PRAGMA journal_mode", ())[0]
    if str(mode).lower() != "wal":
        raise Declined(f"journal mode {mode}")
    forms: dict[tuple[str, int], int] = {}
    for fid, key, version, sha in s.execute(
            select(FormRow.id, FormRow.key, FormRow.version, FormRow.sha256)):
        forms[(key, version)] = fid
        had = lead.forms.get((key, version))
        if had is not None and (had[0] != fid or had[1] != sha):
            raise Declined("a form changed since the checks read it")
    if any(k not in forms for k in lead.forms):
        raise Declined("a form is gone")
    plan = insert_plan(conn.dialect, _REVISION, REVISION_KEYS)
    if plan is None:
        raise Declined("the revisions' insert adds columns")
    sql, order = plan
    for key, proc in order:
        if key in _WRITERS and getattr(proc, "__qualname__", None) != _WRITERS[key]:
            raise Declined(f"the {key} column is written another way")
    return MergeStream(s, lead, forms, sql, order)


@dataclass
class PackageStream:
    """One package being applied: its report, its clock, what was sent."""

    file: str
    issued: IssuedPackage
    result: PackageMergeResult
    now: dt.datetime
    now_text: str
    sent: dict[int, str]  # our output id -> the answer hash the package was issued with
    # Whether the rater held any judgment when the package began (earlier packages of this
    # merge included): if not, none of its outputs has one (its chunks' outputs are disjoint).
    held_any: bool


def begin_package(stream: MergeStream, file: str, issued: IssuedPackage) -> PackageStream:
    rater = stream.s.get(RaterRow, issued.rater_id)
    if rater is None or rater.kind != "physician" or rater.name != issued.rater:
        raise Declined("the rater is gone or changed")
    now = utcnow()
    created = dict(stream.order)["created_at"]  # open_stream checked it is the UTC writer
    held_any = bool(_driver_rows(stream.s.connection(),
                                 "SELECT 1 FROM judgment WHERE rater_id = ? LIMIT 1",
                                 (issued.rater_id,)))
    return PackageStream(file, issued, PackageMergeResult(file, issued.rater, issued.uid), now,
                         str(created(now)),
                         {o.output_id: o.text_sha256 for o in issued.outputs.values()},
                         held_any)


def _stamp(text: str) -> dt.datetime:
    """The datetime a stored timestamp text reads as (storage.sqlite_values' UTC reader)."""
    return dt.datetime.fromisoformat(text + "+00:00")


def apply_chunk(stream: MergeStream, ps: PackageStream, heads: Sequence[tuple[int, int]],
                records: Sequence[tuple[Any, ...]]) -> None:
    """Append one chunk's new revisions (``heads``: our output ids in order, with how many of
    ``records`` each has), by ``storage.merging._apply``'s rules.

    The write lock was taken before anything of the project was read for this merge (the
    lead's reference here and the worker's reads), so what was read is what this transaction
    sees, but for its own writes: only the answers' hashes are compared again (a package is
    refused if an answer changed since it was issued)."""
    s = stream.s
    conn = s.connection()
    oids = [oid for oid, _n in heads]
    chains: dict[int, Sequence[tuple[Any, ...]]] = {}
    at = 0
    for oid, n in heads:
        chains[oid] = records[at:at + n]
        at += n
    # The answers still the ones sent, the cases still the ones checked.
    case_of: dict[int, int] = {}
    sent = ps.sent
    for start in range(0, len(oids), _CHUNK):
        part = oids[start:start + _CHUNK]
        for oid, sha, case in _driver_rows(
                conn, f"SELECT id, text_sha256, case_id FROM output WHERE id IN "
                f"({_marks(len(part))})", part):
            if sha is None or sha != sent.get(oid):
                raise Declined("an answer changed since the package was issued")
            case_of[oid] = case
    if len(case_of) != len(oids):
        raise Declined("an output is gone")
    # Uids the project held before this merge (the worker read them; the checks allow no
    # other owner than this rater's judgment of the output) are not added again.
    stream.taken.update(r[_UID] for r in records if r[_HELD])
    _apply(stream, ps, oids, chains, case_of)


def _apply(stream: MergeStream, ps: PackageStream, oids: list[int],
           chains: dict[int, Sequence[tuple[Any, ...]]], case_of: dict[int, int]) -> None:
    s, forms, taken = stream.s, stream.forms, stream.taken
    result, now, now_text = ps.result, ps.now, ps.now_text
    rater_id = ps.issued.rater_id
    held = _held_judgments(s, rater_id, oids) if ps.held_any else {}
    resolves = {oid: _resolve_uid(j.held, incoming) for oid, j in held.items()
                if _may_conflict(j.held, incoming := {r[_UID] for r in chains[oid]})}
    taken |= _existing_uids(s, sorted(set(resolves.values()) - taken))
    rows: list[list[Any]] = []  # REVISION_KEYS order, judgment_id holding the output id
    created: list[int] = []
    mirror: dict[int, tuple[int, str, bool]] = {}
    winners: list[tuple[int, int, int]] = []
    last_row: dict[int, int] = {}
    added = 0
    append, take = rows.append, taken.add
    for oid in oids:
        chain = chains[oid]
        judgment = held.get(oid)
        if judgment is None:
            created.append(oid)
            no = 0
            for r in chain:
                uid = r[_UID]
                if uid in taken:
                    continue
                take(uid)
                no += 1
                append(_row(r, oid, no, forms, "merge"))
                if not r[_RETEST]:
                    mirror[oid] = (no, r[_STATUS], r[_FLAGGED])
            added += no
            continue
        existing = judgment.held
        have = {h.uid for h in existing}
        incoming = {r[_UID] for r in chain}
        new = [r for r in chain if r[_UID] not in have]
        result.already_present += len(chain) - len(new)
        if not new:
            continue
        local_only = [h for h in existing
                      if h.uid not in incoming and h.source not in _NOT_GRADED]
        appended: list[tuple[Any, ...]] = []
        for r in new:
            if r[_UID] in taken:
                continue
            take(r[_UID])
            append(_row(r, oid, judgment.next_no, forms, "merge"))
            judgment.next_no += 1
            added += 1
            if not r[_RETEST]:
                appended.append(r)
                last_row[oid] = len(rows) - 1
        if not local_only or not appended:
            continue
        winner = conflict_winner(existing, [((_stamp(r[_CREATED]), r[_UID]), r)
                                            for r in appended])
        winner_uid = winner.uid if isinstance(winner, _Held) else winner[_UID]
        result.conflicts.append(Conflict(
            rater=ps.issued.rater, output_id=oid, kept_current_uid=winner_uid,
            detail=f"{len(local_only)} revision(s) only in the project, {len(appended)} only "
                   f"in the package; the newest is current"))
        if winner is appended[-1]:
            continue
        uid = resolves[oid]
        if uid in taken:
            continue
        take(uid)
        last_row[oid] = len(rows)
        if isinstance(winner, _Held):  # its content is read below, with every such winner's
            winners.append((len(rows), oid, winner.id))
            append([uid, oid, judgment.next_no])
        else:
            row = _row(winner, oid, judgment.next_no, forms, "resolve")
            row[0], row[14], row[16], row[17] = uid, "merge", now_text, None
            append(row)
        judgment.next_no += 1
    result.added += added
    if winners:
        _restate(stream, rows, winners, oids, case_of, now_text)
    for oid, at in last_row.items():
        row = rows[at]
        mirror[oid] = (row[2], row[13], row[11])
    ids = insert_judgments(s, rater_id, [(oid, *mirror.get(oid, (0, "draft", False)))
                                         for oid in created], now)
    judgment_of = {**{oid: j.id for oid, j in held.items() if j.id is not None}, **ids}
    _insert(stream, rows, judgment_of)
    update_judgment_mirrors(s, [(held[oid].id or 0, *mirror[oid]) for oid in last_row], now)


def _row(r: tuple[Any, ...], oid: int, no: int, forms: dict[tuple[str, int], int],
         source: str) -> list[Any]:
    """A record as a row in ``REVISION_KEYS`` order (the output id where the judgment goes)."""
    tax = r[_TAX]
    return [r[_UID], oid, no, forms[r[_FORM]], forms[tax] if tax else None, r[_ANSWERS],
            r[_ANN], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
            RETEST_SOURCE if r[_RETEST] and source == "merge" else source, r[_CREATED], r[14]]


def _restate(stream: MergeStream, rows: list[list[Any]], winners: list[tuple[int, int, int]],
             oids: list[int], case_of: dict[int, int], now_text: str) -> None:
    """Resolve rows restating a revision the project held: its content, read and written as
    ``_apply`` does, scored by ``Scorer``."""
    s = stream.s
    procs = dict(stream.order)
    scorer = Scorer(s, oids, stream.lead.criterion_cache, case_of=case_of)
    held_content = _contents(s, sorted({rid for _at, _oid, rid in winners}))

    def text(key: str, value: Any) -> Any:
        proc = procs.get(key)
        return proc(value) if proc is not None else value
    for at, oid, rid in winners:
        c, fid, tax = held_content[rid]
        uid, _oid, no = rows[at]
        rows[at] = [uid, oid, no, fid, tax, text("answers", c.answers),
                    text("annotations", c.annotations), c.rationale, c.confidence,
                    scorer.prepared(fid, oid)(c.answers, c.status), c.time_on_task_s,
                    c.flagged, c.skipped, c.status, "merge", "resolve", now_text, None]


def _insert(stream: MergeStream, rows: list[list[Any]], judgment_of: dict[int, int]) -> None:
    if not rows:
        return
    at = {k: i for i, k in enumerate(REVISION_KEYS)}
    columns = [list(c) for c in zip(*rows, strict=True)]
    columns[1] = list(map(judgment_of.__getitem__, columns[1]))
    values = []
    for key, proc in stream.order:
        column = columns[at[key]]
        values.append(column if proc is None or key in _TEXT else list(map(proc, column)))
    stream.s.connection().exec_driver_sql(stream.sql, list(zip(*values, strict=True)))
