"""Merging rater packages, as storage sees it: the reads the checks need, and the write.

``medreview.study.merge`` decides whether a package is acceptable; this module gives it plain
values to decide on (this project's forms and criteria, a package database's rows, which
project judgment a revision uid belongs to) and, once every package passed, applies them all
in one transaction (``apply_packages``), re-checking inside it what another writer could
have changed meanwhile. A refusal raises ``PackageError`` with one line, and nothing is
written.

A package database is hostile input: it is only read here with our own SELECTs over known
columns (the ORM, or Core statements run through the driver with each column's own result
processor; no text of it is ever executed), after ``active_schema_objects`` showed it has no
views or triggers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.orm import Session

from medreview.domain.package_revision import PackageRevision
from medreview.domain.rubric import Form, Question
from medreview.errors import PackageError, ProjectError
from medreview.storage.base import utcnow
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
)
from medreview.storage.packages import IssuedPackage
from medreview.storage.project import Project
from medreview.storage.revisions import (
    CRITERION_CACHE,
    RETEST_SOURCE,
    CriterionCache,
    RevisionContent,
    Scorer,
    case_criteria,
    driver,
    gc_paused,
    insert_judgments,
    insert_revisions,
    outputs_case,
    page_cache,
    update_judgment_mirrors,
)
from medreview.storage.sqlite_values import result_processor

_CHUNK = 500  # ids per IN (...) list: well below SQLite's limit of bound parameters


# --- this project, as the checks need it ------------------------------------------------------


@dataclass(frozen=True)
class MergeReference:
    """What the checks need from the lead's project: its forms, and the cases and criteria of
    the outputs read so far (``merge_reference``, then ``read_outputs`` per package)."""

    uid: str
    forms: dict[tuple[str, int], tuple[int, str, Form]]  # (key, version) -> id, sha, form
    # Case id -> its criteria questions; cases with equal criteria hold the same tuple.
    criteria: dict[int, tuple[Question, ...]]
    case_of: dict[int, int]  # output id -> case id
    # The criteria rows read, as questions: the write transaction's scoring reuses them.
    criterion_cache: CriterionCache = field(default_factory=dict)
    cases_read: set[int] = field(default_factory=set)  # with criteria or without
    # Question ids -> the one tuple of them (a case with equal criteria gets it too).
    shared: dict[tuple[int, ...], tuple[Question, ...]] = field(default_factory=dict)


def merge_reference(project: Project, output_ids: Collection[int] | None = None
                    ) -> MergeReference:
    """The reference for the outputs ``output_ids`` (None: every output of the project)."""
    with project.read() as s, gc_paused():
        forms = {(f.key, f.version): (f.id, f.sha256, form_from_row(f))
                 for f in s.scalars(select(FormRow))}
        uid = s.execute(select(ProjectRow.uid)).scalar_one()
        lead = MergeReference(uid, forms, {}, {})
        if output_ids is None:
            case_of: dict[int, int] = dict(_all_rows(s.connection(),
                                                     select(OutputRow.id, OutputRow.case_id)))
            _add(s, lead, case_of, None)
        elif output_ids:
            _add(s, lead, outputs_case(s, output_ids), set())
    return lead


def read_outputs(project: Project, lead: MergeReference, output_ids: Collection[int]) -> None:
    """Add to ``lead`` the cases and criteria of those of ``output_ids`` it lacks (a package's
    outputs, before its checks): a merge reads only the outputs its packages hold."""
    new = [o for o in output_ids if o not in lead.case_of]
    if new:
        with project.read() as s, gc_paused():
            top = s.scalar(select(func.max(OutputRow.id))) or 0
            if len(new) * 3 >= top * 2:  # most outputs: one pass over all costs less
                _add(s, lead, dict(_all_rows(s.connection(),
                                             select(OutputRow.id, OutputRow.case_id))), None)
            else:  # by id (about a pass's cost an output at 100k, through the driver)
                _add(s, lead, _outputs_case(s, new), set())


def _outputs_case(s: Session, ids: list[int]) -> dict[int, int]:
    """Output id -> case id of those of ``ids`` that exist (on SQLite through the driver:
    plain integers, and Core's per-statement work cost as much as SQLite's)."""
    conn = s.connection()
    if conn.dialect.name != "sqlite":
        return outputs_case(s, ids)
    ids = sorted(ids)
    found: dict[int, int] = {}
    for at in range(0, len(ids), _CHUNK):
        part = ids[at:at + _CHUNK]
        found.update(_driver_rows(
            conn, f"SELECT id, case_id FROM output WHERE id IN ({_marks(len(part))})", part))
    return found


def _add(s: Session, lead: MergeReference, case_of: dict[int, int],
         cases: set[int] | None) -> None:
    """Outputs' cases, and the criteria of the cases not read yet (``cases`` None: all)."""
    lead.case_of.update(case_of)
    if cases is not None:
        cases.update(c for c in case_of.values() if c not in lead.cases_read)
        if not cases:
            return
    criteria = case_criteria(s, cases, lead.criterion_cache)
    lead.cases_read.update(criteria if cases is None else cases)
    # Equal rows share their questions (the cache), so cases with equal criteria can share
    # one tuple: the checks compile one answers check per distinct tuple, not per case.
    shared = lead.shared
    for cid, qs in criteria.items():
        lead.criteria[cid] = shared.setdefault(tuple(map(id, qs)), qs)


def _owners(s: Session, uids: Sequence[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    conn = s.connection()
    for at in range(0, len(uids), _CHUNK):
        part = list(uids[at:at + _CHUNK])
        rows: Sequence[Any]
        if conn.dialect.name == "sqlite":  # text and integers: nothing for Core to convert
            rows = _driver_rows(
                conn, "SELECT r.uid, j.rater_id, j.output_id FROM judgment_revision r JOIN "
                f"judgment j ON j.id = r.judgment_id WHERE r.uid IN ({_marks(len(part))})", part)
        else:
            rows = conn.execute(
                select(JudgmentRevisionRow.uid, JudgmentRow.rater_id, JudgmentRow.output_id)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRevisionRow.uid.in_(part))).all()
        for uid, rater_id, output_id in rows:
            out[uid] = (rater_id, output_id)
    return out


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _driver_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """The rows of one SQLite statement whose values need no conversion, through the driver
    (Core's per-statement work cost more than SQLite's at 500 ids a statement)."""
    cursor = driver(conn).cursor()
    try:
        rows: list[Any] = cursor.execute(sql, tuple(params)).fetchall()
    finally:
        cursor.close()
    return rows


def revision_owners(project: Project, uids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Revision uid -> (rater id, output id) of the judgment holding it, for known uids."""
    with project.read() as s:
        return _owners(s, uids)


# --- a package's database, as plain values ---------------------------------------------------


def active_schema_objects(db: Path) -> int:
    """How many views and triggers the SQLite file ``db`` holds, read without running them.

    A view posing as a table could make reading it run forever; medreview makes neither.
    ``ProjectError`` (the reason from SQLite) if the file cannot be read at all.
    """
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(con.execute("SELECT count(*) FROM sqlite_master WHERE type IN "
                                   "('view', 'trigger')").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ProjectError(str(exc)) from exc


@dataclass(frozen=True)
class PackageRater:
    id: int
    name: str
    kind: str


class PackageOutput(NamedTuple):
    id: int
    token: str | None  # the package's opaque name of the output (``output.external_id``)
    text_sha256: str


@dataclass(frozen=True)
class PackageForm:
    key: str
    version: int
    kind: str
    sha256: str


class PackageJudgment(NamedTuple):
    id: int
    rater_id: int
    output_id: int


@dataclass(frozen=True)
class PackageContents:
    settings: dict[str, Any]  # the package project's settings["package"]
    raters: tuple[PackageRater, ...]
    outputs: tuple[PackageOutput, ...]
    forms: dict[int, PackageForm]
    judgments: tuple[PackageJudgment, ...]  # by id
    revisions: tuple[PackageRevision, ...]  # by judgment, revision number


def package_contents(pkg: Project) -> PackageContents:
    """Every row of a package database that merge looks at.

    Values are what the columns' types make of them (JSON parsed, timestamps UTC); each JSON
    text is parsed once here, and the checks and the write both use that value."""
    with pkg.read() as s, gc_paused():
        raw = s.scalars(select(ProjectRow)).one().settings or {}
        settings = raw.get("package") or {}
        raters = tuple(PackageRater(r.id, r.name, r.kind) for r in s.scalars(select(RaterRow)))
        conn = s.connection()  # Core rows: the ORM's per-row work is not needed here
        forms = {f.id: PackageForm(f.key, f.version, f.kind, f.sha256)
                 for f in s.scalars(select(FormRow))}
        outputs_stmt, judgments_stmt, revisions_stmt = _package_statements()
        outputs = tuple(map(partial(tuple.__new__, PackageOutput), _all_rows(
            conn, outputs_stmt)))  # a package may hold 80,000
        judgments = tuple(map(partial(tuple.__new__, PackageJudgment), _all_rows(
            conn, judgments_stmt)))
        # tuple.__new__ of each named tuple (what _make calls, without a Python frame per row)
        revisions = tuple(map(partial(tuple.__new__, PackageRevision), _all_rows(
            conn, revisions_stmt)))
    return PackageContents(settings, raters, outputs, forms, judgments, revisions)


def _package_statements() -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The reads of a package's outputs, judgments and revisions (``package_contents``; the
    pipelined merge's worker runs their SQLite text, so it reads the rows in the same order)."""
    o, j, r = OutputRow, JudgmentRow, JudgmentRevisionRow
    return (select(o.id, o.external_id, o.text_sha256).order_by(o.id),
            select(j.id, j.rater_id, j.output_id).order_by(j.id),
            select(r.uid, r.judgment_id, r.revision_no, r.form_id, r.taxonomy_id, r.answers,
                   r.annotations, r.rationale, r.confidence, r.overall_score, r.time_on_task_s,
                   r.flagged, r.skipped, r.status, r.author, r.created_at, r.guideline_version,
                   r.source).order_by(r.judgment_id, r.revision_no))  # type: ignore[return-value]


@dataclass(frozen=True)
class PackageHead:
    """A package database's settings, raters and forms (what ``package_contents`` reads
    first, without the outputs', judgments' and revisions' rows)."""

    settings: dict[str, Any]
    raters: tuple[PackageRater, ...]
    forms: dict[int, PackageForm]


def package_head(pkg: Project) -> PackageHead:
    """A package database's settings, raters and forms, read as ``package_contents`` reads
    them."""
    with pkg.read() as s:
        raw = s.scalars(select(ProjectRow)).one().settings or {}
        raters = tuple(PackageRater(r.id, r.name, r.kind) for r in s.scalars(select(RaterRow)))
        forms = {f.id: PackageForm(f.key, f.version, f.kind, f.sha256)
                 for f in s.scalars(select(FormRow))}
    return PackageHead(raw.get("package") or {}, raters, forms)


def package_reads() -> tuple[str, str, str, str]:
    """The SQLite text of ``package_contents``' reads of outputs, judgments and revisions,
    for a process that reads a package with the driver (``study.merge_worker``): the same
    columns in the same order; the revisions of some judgments (``{marks}``: one ``?`` per
    judgment id); and how many revisions there are."""
    dialect = sqlite_dialect()
    outputs, judgments, revisions = (str(stmt.compile(dialect=dialect))
                                     for stmt in _package_statements())
    head, order_by = revisions.split(" ORDER BY ")
    some = f"{head} WHERE judgment_revision.judgment_id IN ({{marks}}) ORDER BY {order_by}"
    return outputs, judgments, some, "SELECT count(*) FROM judgment_revision"


def _all_rows(conn: Connection, stmt: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` (which selects table columns), each value as Core would give it.

    On SQLite: the driver's ``fetchall`` (plain tuples), then each column's result processor
    column by column (``storage.sqlite_values``: JSON and timestamps faster, the same
    values), a C loop per column: a third of the CPU of Core's per-row processing.
    Elsewhere: Core."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return [tuple(row) for row in conn.execute(stmt).all()]
    procs = [result_processor(c, dialect) for c in stmt.selected_columns]
    cursor = driver(conn).cursor()
    try:
        raw: list[tuple[Any, ...]] = cursor.execute(
            str(stmt.compile(dialect=dialect))).fetchall()
    finally:
        cursor.close()
    if not raw or all(p is None for p in procs):
        return raw
    processed = [values if proc is None else list(map(proc, values))
                 for values, proc in zip(zip(*raw, strict=True), procs, strict=True)]
    return list(zip(*processed, strict=True))


# --- applying checked packages ---------------------------------------------------------------


class IncomingRevision(NamedTuple):
    """A checked revision of a package, in this project's terms.

    A named tuple, not a dataclass: one is made per revision of a package, five times faster."""

    uid: str
    form: tuple[str, int]
    taxonomy: tuple[str, int] | None
    content: RevisionContent
    author: str
    created_at: dt.datetime
    guideline_version: int | None = None
    # A retest answer (storage/retests.py): stored with source "retest", it never becomes the
    # judgment's current answer, and it is no side of a conflict.
    retest: bool = False


@dataclass
class IncomingPackage:
    """A package that passed every check, named in this project's terms."""

    file: str
    issued: IssuedPackage
    chains: dict[int, list[IncomingRevision]] = field(default_factory=dict)  # our output id

    @property
    def rater(self) -> str:
        return self.issued.rater


@dataclass(frozen=True)
class Conflict:
    rater: str
    output_id: int
    kept_current_uid: str
    detail: str


@dataclass
class PackageMergeResult:
    file: str
    rater: str
    package_uid: str
    added: int = 0
    already_present: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


def _fail(reason: str, file: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=file, item=item)


def _check_against(s: Session, pkg: IncomingPackage) -> tuple[set[str], dict[int, int]]:
    """Inside the write transaction: the outputs still match and no uid changed hands.

    Returns the package's uids the project already holds (each by this rater and output),
    and each output's case (read with its answer's hash, for the scores)."""
    sent = {o.output_id: o.text_sha256 for o in pkg.issued.outputs.values()}
    ids = sorted(pkg.chains)
    have: dict[int, str] = {}
    case_of: dict[int, int] = {}
    conn = s.connection()
    for at in range(0, len(ids), _CHUNK):
        part = ids[at:at + _CHUNK]
        rows = _driver_rows(
            conn, f"SELECT id, text_sha256, case_id FROM output WHERE id IN "
            f"({_marks(len(part))})", part) if conn.dialect.name == "sqlite" else conn.execute(
                select(OutputRow.id, OutputRow.text_sha256, OutputRow.case_id)
                .where(OutputRow.id.in_(part))).all()
        for oid, sha, case in rows:
            have[oid] = sha
            case_of[oid] = case
    for oid in ids:
        if have.get(oid) is None or have[oid] != sent.get(oid):
            raise _fail("package answer differs from the project's answer", pkg.file,
                        item=f"output {oid}")
    output_of = {r.uid: oid for oid, chain in pkg.chains.items() for r in chain}
    owners = _owners(s, list(output_of))
    rater_id = pkg.issued.rater_id
    for uid, owner in owners.items():
        if owner != (rater_id, output_of[uid]):
            raise _fail("revision uid belongs to another judgment in this project", pkg.file,
                        item=f"revision {uid}")
    return set(owners), case_of


class _Held(NamedTuple):
    """A revision the project already holds (what conflict resolution looks at)."""

    id: int
    uid: str
    source: str
    created_at: dt.datetime


@dataclass
class _Judgment:
    id: int | None  # None: created by this merge
    next_no: int
    held: list[_Held]


def _held_judgments(s: Session, rater_id: int, output_ids: list[int]) -> dict[int, _Judgment]:
    """Output id -> the rater's judgment of it with its revisions, for the outputs that have one."""
    found: dict[int, _Judgment] = {}
    by_id: dict[int, _Judgment] = {}
    conn = s.connection()
    sqlite = conn.dialect.name == "sqlite"
    for at in range(0, len(output_ids), _CHUNK):
        part = output_ids[at:at + _CHUNK]
        rows = _driver_rows(  # integers only: nothing for Core to convert
            conn, "SELECT id, output_id, current_revision_no FROM judgment WHERE rater_id = ? "
            f"AND output_id IN ({_marks(len(part))})", (rater_id, *part),
        ) if sqlite else conn.execute(
            select(JudgmentRow.id, JudgmentRow.output_id, JudgmentRow.current_revision_no)
            .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id.in_(part))).all()
        for jid, oid, current in rows:
            found[oid] = by_id[jid] = _Judgment(jid, current + 1, [])
    jids = sorted(by_id)
    r = JudgmentRevisionRow
    stamp = result_processor(r.created_at, conn.dialect) if sqlite else None
    for at in range(0, len(jids), _CHUNK):
        part = jids[at:at + _CHUNK]
        revs: Sequence[Any]
        if sqlite:  # the timestamps through their column's processor, as Core would
            revs = _driver_rows(
                conn, "SELECT id, judgment_id, uid, revision_no, source, created_at FROM "
                f"judgment_revision WHERE judgment_id IN ({_marks(len(part))}) "
                "ORDER BY judgment_id, revision_no", part)
        else:
            revs = conn.execute(select(r.id, r.judgment_id, r.uid, r.revision_no, r.source,
                                       r.created_at)
                                .where(r.judgment_id.in_(part))
                                .order_by(r.judgment_id, r.revision_no)).all()
        for rid, jid, uid, no, source, created in revs:
            j = by_id[jid]
            j.held.append(_Held(rid, uid, source, stamp(created) if stamp else created))
            j.next_no = max(j.next_no, no + 1)
    return found


def _existing_uids(s: Session, uids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for at in range(0, len(uids), _CHUNK):
        out.update(s.scalars(select(JudgmentRevisionRow.uid)
                             .where(JudgmentRevisionRow.uid.in_(list(uids[at:at + _CHUNK])))))
    return out


# Revisions that are no side of a conflict: a resolve restates one, a retest is never the study
# answer (storage/retests.py).
_NOT_GRADED = ("resolve", RETEST_SOURCE)
_T = TypeVar("_T")


def conflict_winner(existing: Sequence[_Held], incoming: Sequence[tuple[tuple[Any, str], _T]]
                    ) -> _Held | _T:
    """After a true conflict, the revision that becomes current: the newest graded one by
    (creation time, uid), a function of the set of revisions and not of merge order; a
    ``resolve`` restatement or a retest is never a side. ``incoming``: the package's appended
    revisions, each with its (creation time, uid). (The one- and the two-core merge.)"""
    graded: list[tuple[tuple[Any, str], _Held | _T]] = [
        ((h.created_at, h.uid), h) for h in existing if h.source not in _NOT_GRADED]
    graded += incoming
    return max(graded, key=lambda x: x[0])[1]


def _may_conflict(held: Sequence[_Held], incoming: set[str]) -> bool:
    """Whether ``_apply`` may find a true conflict: a graded revision only in the project,
    and a package revision the project lacks (a superset of the outputs it finds one in)."""
    have = {h.uid for h in held}
    return any(h.uid not in incoming and h.source not in _NOT_GRADED for h in held) and bool(
        incoming - have)


def _resolve_uid(held: Sequence[_Held], incoming: set[str]) -> str:
    all_uids = sorted({r.uid for r in held} | incoming)
    return hashlib.sha256(("resolve:" + ",".join(all_uids)).encode()).hexdigest()


def _contents(s: Session, ids: Sequence[int]) -> dict[int, tuple[RevisionContent, int, int | None]]:
    """Revision id -> content, form id, taxonomy id (for the conflicts' winners)."""
    out: dict[int, tuple[RevisionContent, int, int | None]] = {}
    for at in range(0, len(ids), _CHUNK):
        for r in s.execute(select(JudgmentRevisionRow.__table__)
                           .where(JudgmentRevisionRow.id.in_(list(ids[at:at + _CHUNK])))):
            out[r.id] = (RevisionContent(
                answers=dict(r.answers), annotations=list(r.annotations),
                rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
                time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
                status=r.status), r.form_id, r.taxonomy_id)
    return out


# SQLite's page cache while a merge writes (default 2 MiB): the revisions' uid index takes
# random keys, and past ~50k revisions its pages no longer fit (a third of the insert time
# at 100k went to reading evicted pages again). Per connection, put back afterwards.
_MERGE_CACHE_KIB = 64 * 1024

_CASES = "medreview.merge.cases"  # a session.info key: each package's output -> case, read
# with the answers' hashes inside the transaction (``_check_against``), used by ``_apply``

# A revision row planned by ``_apply``: (output id, uid, revision no, form id, taxonomy id,
# content, score, author, source, created at, guideline version). Plain tuples: one per row.
_Row = tuple[int, str, int, int, int | None, RevisionContent, float | None, str, str,
             dt.datetime, int | None]


def _apply(s: Session, pkg: IncomingPackage, result: PackageMergeResult,
           taken: set[str]) -> None:
    """Append the package's new revisions: one read of what the project holds for its outputs,
    numbers and scores computed here, one executemany per table.

    The rules are ``append_revision``'s, applied output by output in order: a revision whose
    uid the project holds anywhere (``taken``, kept across the transaction's packages) is not
    added; numbers continue from the judgment's highest; every score is ``judgment_score``
    (prepared once per form and case). An output the rater has no judgment of (the usual
    case) takes the short path: every revision of its chain is new.
    """
    rater = s.get(RaterRow, pkg.issued.rater_id)
    if rater is None or rater.kind != "physician" or rater.name != pkg.issued.rater:
        raise _fail("the rater this package was issued to is gone or changed", pkg.file)
    # Every form a new revision names was checked while reading the package: a KeyError here
    # would mean a form vanished, and rolls the whole merge back.
    forms = {(k, v): i for i, k, v in s.execute(select(FormRow.id, FormRow.key, FormRow.version))}
    chains = pkg.chains
    outputs = sorted(chains)
    held = _held_judgments(s, rater.id, outputs)
    # The uids a resolve revision would take: the project may hold one already. Only an
    # output where both sides moved on can take one (graded revisions only in the project,
    # and some of the package's it lacks): a re-merge computes none.
    resolves = {oid: _resolve_uid(j.held, incoming) for oid, j in held.items()
                if _may_conflict(j.held, incoming := {r.uid for r in chains[oid]})}
    taken |= _existing_uids(s, sorted(set(resolves.values()) - taken))
    now = utcnow()
    prepared = Scorer(s, outputs, s.info.get(CRITERION_CACHE),
                      case_of=s.info.get(_CASES, {}).get(id(pkg))).prepared
    rows: list[_Row] = []  # in insertion order
    created: list[int] = []  # outputs whose judgment this merge creates, in order
    mirror: dict[int, tuple[int, str, bool]] = {}  # output id -> its judgment's new current
    winners: list[tuple[int, int, int]] = []  # (row index, output id, held revision restated)
    last_row: dict[int, int] = {}  # output id the project held -> index of its last new row
    added = 0
    append, take = rows.append, taken.add
    for oid in outputs:
        chain = chains[oid]
        judgment = held.get(oid)
        if judgment is None:  # the rater's first judgment of it: the whole chain is new
            created.append(oid)
            no = 0
            for uid, form, taxonomy, c, author, created_at, version, retest in chain:
                if uid in taken:
                    continue
                take(uid)
                no += 1
                fid = forms[form]
                append((oid, uid, no, fid, forms[taxonomy] if taxonomy else None, c,
                        prepared(fid, oid)(c.answers, c.status), author,
                        RETEST_SOURCE if retest else "merge",
                        created_at,  # when it was graded, not when merged
                        version))
                if not retest:  # the judgment's current answer: its newest ordinary one
                    mirror[oid] = (no, c.status, c.flagged)
            added += no
            continue
        existing = judgment.held
        have = {h.uid for h in existing}
        incoming = {r.uid for r in chain}
        new = [r for r in chain if r.uid not in have]
        result.already_present += len(chain) - len(new)
        if not new:
            continue
        local_only = [h for h in existing
                      if h.uid not in incoming and h.source not in _NOT_GRADED]
        appended: list[IncomingRevision] = []  # the ordinary ones (retests are no side)
        for r in new:
            if r.uid in taken:
                continue
            taken.add(r.uid)
            c = r.content
            fid = forms[r.form]
            rows.append((oid, r.uid, judgment.next_no, fid,
                         forms[r.taxonomy] if r.taxonomy else None, c,
                         prepared(fid, oid)(c.answers, c.status), r.author,
                         RETEST_SOURCE if r.retest else "merge", r.created_at,
                         r.guideline_version))
            judgment.next_no += 1
            added += 1
            if not r.retest:
                appended.append(r)
                last_row[oid] = len(rows) - 1
        if not local_only or not appended:
            continue
        # True conflict: both sides moved on. The newest graded revision anywhere (time, then
        # uid) becomes current — a function of the set of revisions, not of merge order.
        winner = conflict_winner(existing, [((r.created_at, r.uid), r) for r in appended])
        result.conflicts.append(Conflict(
            rater=pkg.rater, output_id=oid, kept_current_uid=winner.uid,
            detail=f"{len(local_only)} revision(s) only in the project, {len(appended)} only "
                   f"in the package; the newest is current"))
        if winner is appended[-1]:
            continue
        uid = resolves[oid]
        if uid in taken:
            continue
        taken.add(uid)
        last_row[oid] = len(rows)
        if isinstance(winner, _Held):  # its content is read below, with every such winner's
            winners.append((len(rows), oid, winner.id))
            rows.append((oid, uid, judgment.next_no, 0, None, RevisionContent(), None, "merge",
                         "resolve", now, None))
        else:
            c, fid = winner.content, forms[winner.form]
            rows.append((oid, uid, judgment.next_no, fid,
                         forms[winner.taxonomy] if winner.taxonomy else None, c,
                         prepared(fid, oid)(c.answers, c.status), "merge", "resolve", now,
                         None))
        judgment.next_no += 1
    result.added += added
    if winners:
        held_content = _contents(s, sorted({rid for _at, _oid, rid in winners}))
        for at, oid, rid in winners:
            c, fid, tax = held_content[rid]
            rows[at] = (oid, rows[at][1], rows[at][2], fid, tax, c,
                        prepared(fid, oid)(c.answers, c.status), "merge", "resolve", now, None)
    for oid, at in last_row.items():
        row = rows[at]
        mirror[oid] = (row[2], row[5].status, row[5].flagged)
    ids = insert_judgments(s, rater.id, [(oid, *mirror.get(oid, (0, "draft", False)))
                                         for oid in created], now)
    _insert_rows(s, rows, {**{oid: j.id for oid, j in held.items() if j.id is not None}, **ids})
    update_judgment_mirrors(s, [(held[oid].id or 0, *mirror[oid]) for oid in last_row], now)


def _insert_rows(s: Session, rows: list[_Row], judgment_of: dict[int, int]) -> None:
    """The planned rows as ``insert_revisions`` takes them: column by column."""
    if not rows:
        return
    oids, uids, nos, fids, taxes, contents, scores, authors, sources, stamps, versions = (
        list(column) for column in zip(*rows, strict=True))

    def field_of(name: str) -> list[Any]:
        return list(map(attrgetter(name), contents))
    insert_revisions(s, [
        uids, list(map(judgment_of.__getitem__, oids)), nos, fids, taxes, field_of("answers"),
        field_of("annotations"), field_of("rationale"), field_of("confidence"), scores,
        field_of("time_on_task_s"), field_of("flagged"), field_of("skipped"),
        field_of("status"), authors, sources, stamps, versions])


def apply_packages(project: Project, packages: Sequence[IncomingPackage],
                   before_each: Callable[[int, IncomingPackage], None] | None = None,
                   *, criterion_cache: CriterionCache | None = None
                   ) -> list[PackageMergeResult]:
    """Merge checked packages in one transaction (all or nothing): re-check each against the
    project as it is now, then append their revisions (see ``study.merge`` for the rules).

    ``criterion_cache`` (``MergeReference.criterion_cache``): criteria rows read again here
    that are unchanged reuse the questions the checks built; changed rows are built anew."""
    results: list[PackageMergeResult] = []
    with project.transaction() as s, gc_paused(), page_cache(s, _MERGE_CACHE_KIB):
        # Uids held anywhere in the project that a package's revisions may reuse: its own
        # (the checks allow no other), and those the earlier packages add.
        taken: set[str] = set()
        if criterion_cache is not None:  # for the Scorer, beside the session's parsed forms
            s.info[CRITERION_CACHE] = criterion_cache
        cases: dict[int, dict[int, int]] = {}  # id(package) -> its outputs' cases, for _apply
        s.info[_CASES] = cases
        try:
            for pkg in packages:
                held, cases[id(pkg)] = _check_against(s, pkg)
                taken |= held
            for i, pkg in enumerate(packages):
                if before_each is not None:
                    before_each(i, pkg)
                result = PackageMergeResult(pkg.file, pkg.rater, pkg.issued.uid)
                _apply(s, pkg, result, taken)
                results.append(result)
        finally:
            s.info.pop(_CASES, None)
    return results
