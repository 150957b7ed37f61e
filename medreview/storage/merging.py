"""Merging rater packages, as storage sees it: the reads the checks need, and the write.

``medreview.study.merge`` decides whether a package is acceptable; this module gives it plain
values to decide on (this project's forms and criteria, a package database's rows, which
project judgment a revision uid belongs to) and, once every package passed, applies them all
in one transaction (``apply_packages``), re-checking inside it what another writer could
have changed meanwhile. A refusal raises ``PackageError`` with one line, and nothing is
written.

A package database is hostile input: it is only read here through the ORM (no text of it is
ever executed), after ``active_schema_objects`` showed it has no views or triggers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

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
    CriterionCache,
    NewRevision,
    RevisionContent,
    Scorer,
    case_criteria,
    gc_paused,
    insert_judgments,
    insert_revisions,
    update_judgment_mirrors,
)

_CHUNK = 500  # ids per IN (...) list: well below SQLite's limit of bound parameters


# --- this project, as the checks need it ------------------------------------------------------


@dataclass(frozen=True)
class MergeReference:
    """What the checks need from the lead's project, read once."""

    uid: str
    forms: dict[tuple[str, int], tuple[int, str, Form]]  # (key, version) -> id, sha, form
    criteria: Mapping[int, Sequence[Question]]  # case id -> its criteria questions
    case_of: dict[int, int]  # output id -> case id
    # The criteria rows read, as questions: the write transaction's scoring reuses them.
    criterion_cache: CriterionCache = field(default_factory=dict)


def merge_reference(project: Project) -> MergeReference:
    with project.read() as s, gc_paused():
        forms = {(f.key, f.version): (f.id, f.sha256, form_from_row(f))
                 for f in s.scalars(select(FormRow))}
        cache: CriterionCache = {}
        criteria = case_criteria(s, None, cache)
        case_of: dict[int, int] = dict(s.execute(select(OutputRow.id, OutputRow.case_id)).all())
        uid = s.execute(select(ProjectRow.uid)).scalar_one()
    return MergeReference(uid, forms, criteria, case_of, cache)


def _owners(s: Session, uids: Sequence[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    conn = s.connection()
    for at in range(0, len(uids), _CHUNK):
        part = list(uids[at:at + _CHUNK])
        if conn.dialect.name == "sqlite":  # text and integers: nothing for Core to convert
            rows = conn.exec_driver_sql(
                "SELECT r.uid, j.rater_id, j.output_id FROM judgment_revision r JOIN judgment j"
                f" ON j.id = r.judgment_id WHERE r.uid IN ({_marks(len(part))})", tuple(part))
        else:
            rows = conn.execute(
                select(JudgmentRevisionRow.uid, JudgmentRow.rater_id, JudgmentRow.output_id)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRevisionRow.uid.in_(part)))
        for uid, rater_id, output_id in rows.all():
            out[uid] = (rater_id, output_id)
    return out


def _marks(n: int) -> str:
    return ",".join("?" * n)


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


@dataclass(frozen=True)
class PackageOutput:
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


class PackageRevision(NamedTuple):
    """A revision row as the package holds it; values unchecked (``study.merge`` checks).

    A named tuple, not a dataclass: made from a million rows, it is built five times faster."""

    uid: str
    judgment_id: int
    revision_no: int
    form_id: int
    taxonomy_id: int | None
    answers: Any
    annotations: Any
    rationale: Any
    confidence: Any
    overall_score: Any
    time_on_task_s: Any
    flagged: Any
    skipped: Any
    status: Any
    author: Any
    created_at: Any
    guideline_version: Any = None  # the guidelines version the rater had (schema 0006)


@dataclass(frozen=True)
class PackageContents:
    settings: dict[str, Any]  # the package project's settings["package"]
    raters: tuple[PackageRater, ...]
    outputs: tuple[PackageOutput, ...]
    forms: dict[int, PackageForm]
    judgments: tuple[PackageJudgment, ...]  # by id
    revisions: tuple[PackageRevision, ...]  # by judgment, revision number


def package_contents(pkg: Project) -> PackageContents:
    """Every row of a package database that merge looks at."""
    with pkg.read() as s, gc_paused():
        raw = s.scalars(select(ProjectRow)).one().settings or {}
        settings = raw.get("package") or {}
        raters = tuple(PackageRater(r.id, r.name, r.kind) for r in s.scalars(select(RaterRow)))
        conn = s.connection()  # Core rows: the ORM's per-row work is not needed here
        outputs = tuple(PackageOutput(oid, token, sha) for oid, token, sha in conn.execute(
            select(OutputRow.id, OutputRow.external_id, OutputRow.text_sha256)).all())
        forms = {f.id: PackageForm(f.key, f.version, f.kind, f.sha256)
                 for f in s.scalars(select(FormRow))}
        judgments = tuple(map(PackageJudgment._make, conn.execute(
            select(JudgmentRow.id, JudgmentRow.rater_id, JudgmentRow.output_id)
            .order_by(JudgmentRow.id)).all()))
        r = JudgmentRevisionRow  # columns, not ORM rows: a package may hold a million
        columns = (r.uid, r.judgment_id, r.revision_no, r.form_id, r.taxonomy_id, r.answers,
                   r.annotations, r.rationale, r.confidence, r.overall_score,
                   r.time_on_task_s, r.flagged, r.skipped, r.status, r.author, r.created_at,
                   r.guideline_version)
        revisions = tuple(map(PackageRevision._make, _all_rows(
            conn, select(*columns).order_by(r.judgment_id, r.revision_no), columns)))
    return PackageContents(settings, raters, outputs, forms, judgments, revisions)


def _all_rows(conn: Connection, stmt: Select[Any], columns: Sequence[Any]
              ) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` (which selects ``columns``), each value as Core would give it.

    On SQLite: the driver's ``fetchall``, then each column's own result processor (JSON,
    timestamps, booleans) column by column, a C loop per column: half the CPU of Core's
    per-row processing. Elsewhere: Core."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return [tuple(row) for row in conn.execute(stmt).all()]
    procs = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
    raw = conn.exec_driver_sql(str(stmt.compile(dialect=dialect))).all()
    if not raw:
        return []
    processed = [values if proc is None else list(map(proc, values))
                 for values, proc in zip(zip(*raw, strict=True), procs, strict=True)]
    return list(zip(*processed, strict=True))


# --- applying checked packages ---------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRevision:
    uid: str
    form: tuple[str, int]
    taxonomy: tuple[str, int] | None
    content: RevisionContent
    author: str
    created_at: dt.datetime
    guideline_version: int | None = None


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


def _check_against(s: Session, pkg: IncomingPackage) -> set[str]:
    """Inside the write transaction: the outputs still match and no uid changed hands.

    Returns the package's uids the project already holds (each by this rater and output)."""
    sent = {o.output_id: o.text_sha256 for o in pkg.issued.outputs.values()}
    ids = sorted(pkg.chains)
    have: dict[int, str] = {}
    conn = s.connection()
    for at in range(0, len(ids), _CHUNK):
        part = ids[at:at + _CHUNK]
        have.update(conn.exec_driver_sql(
            f"SELECT id, text_sha256 FROM output WHERE id IN ({_marks(len(part))})", tuple(part))
            .all() if conn.dialect.name == "sqlite" else conn.execute(
                select(OutputRow.id, OutputRow.text_sha256).where(OutputRow.id.in_(part))).all())
    for oid in ids:
        if have.get(oid) is None or have[oid] != sent.get(oid):
            raise _fail("package answer differs from the project's answer", pkg.file,
                        item=f"output {oid}")
    output_of = {r.uid: oid for oid, chain in pkg.chains.items() for r in chain}
    owners = _owners(s, list(output_of))
    for uid, owner in owners.items():
        if owner != (pkg.issued.rater_id, output_of[uid]):
            raise _fail("revision uid belongs to another judgment in this project", pkg.file,
                        item=f"revision {uid}")
    return set(owners)


@dataclass(frozen=True)
class _Held:
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
    for at in range(0, len(output_ids), _CHUNK):
        part = output_ids[at:at + _CHUNK]
        rows = conn.exec_driver_sql(  # integers only: nothing for Core to convert
            "SELECT id, output_id, current_revision_no FROM judgment WHERE rater_id = ? AND "
            f"output_id IN ({_marks(len(part))})", (rater_id, *part),
        ) if conn.dialect.name == "sqlite" else conn.execute(
            select(JudgmentRow.id, JudgmentRow.output_id, JudgmentRow.current_revision_no)
            .where(JudgmentRow.rater_id == rater_id, JudgmentRow.output_id.in_(part)))
        for jid, oid, current in rows.all():
            found[oid] = by_id[jid] = _Judgment(jid, current + 1, [])
    jids = sorted(by_id)
    for at in range(0, len(jids), _CHUNK):
        for rid, jid, uid, no, source, created in s.execute(
                select(JudgmentRevisionRow.id, JudgmentRevisionRow.judgment_id,
                       JudgmentRevisionRow.uid, JudgmentRevisionRow.revision_no,
                       JudgmentRevisionRow.source, JudgmentRevisionRow.created_at)
                .where(JudgmentRevisionRow.judgment_id.in_(jids[at:at + _CHUNK]))
                .order_by(JudgmentRevisionRow.judgment_id, JudgmentRevisionRow.revision_no)).all():
            j = by_id[jid]
            j.held.append(_Held(rid, uid, source, created))
            j.next_no = max(j.next_no, no + 1)
    return found


def _existing_uids(s: Session, uids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for at in range(0, len(uids), _CHUNK):
        out.update(s.scalars(select(JudgmentRevisionRow.uid)
                             .where(JudgmentRevisionRow.uid.in_(list(uids[at:at + _CHUNK])))))
    return out


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


def _apply(s: Session, pkg: IncomingPackage, result: PackageMergeResult,
           taken: set[str]) -> None:
    """Append the package's new revisions: one read of what the project holds for its outputs,
    numbers and scores computed here, one executemany per table.

    The rules are ``append_revision``'s, applied output by output in order: a revision whose
    uid the project holds anywhere (``taken``, kept across the transaction's packages) is not
    added; numbers continue from the judgment's highest; every score is ``judgment_score``.
    """
    rater = s.get(RaterRow, pkg.issued.rater_id)
    if rater is None or rater.kind != "physician" or rater.name != pkg.issued.rater:
        raise _fail("the rater this package was issued to is gone or changed", pkg.file)
    forms = {(k, v): i for i, k, v in s.execute(select(FormRow.id, FormRow.key, FormRow.version))}

    def form_id(key: tuple[str, int]) -> int:
        assert key in forms  # checked for every new revision while reading the package
        return forms[key]
    outputs = sorted(pkg.chains)
    held = _held_judgments(s, rater.id, outputs)
    # The uids a resolve revision would take: the project may hold one already.
    resolves = {oid: _resolve_uid(j.held, {r.uid for r in pkg.chains[oid]})
                for oid, j in held.items() if j.held}
    taken |= _existing_uids(s, sorted(set(resolves.values()) - taken))
    now = utcnow()
    scorer = Scorer(s, outputs, s.info.get(CRITERION_CACHE))
    planned: list[tuple[int, NewRevision]] = []  # (output id, row), in insertion order
    winners: dict[int, int] = {}  # output id -> held revision restated by a resolve row
    created: list[int] = []  # outputs whose judgment this merge creates, in order
    for oid in outputs:
        chain = pkg.chains[oid]
        judgment = held.get(oid)
        existing = judgment.held if judgment is not None else []
        have = {r.uid for r in existing}
        incoming = {r.uid for r in chain}
        new = [r for r in chain if r.uid not in have]
        result.already_present += len(chain) - len(new)
        if not new:
            continue
        if judgment is None:
            judgment = held[oid] = _Judgment(None, 1, [])
            created.append(oid)
        local_only = [r for r in existing if r.uid not in incoming and r.source != "resolve"]
        appended: list[IncomingRevision] = []
        for r in new:
            if r.uid in taken:
                continue
            taken.add(r.uid)
            c = r.content
            score = scorer.score(form_id(r.form), oid, c.answers, c.status)
            planned.append((oid, NewRevision(
                uid=r.uid, judgment_id=0, revision_no=judgment.next_no, form_id=form_id(r.form),
                taxonomy_id=form_id(r.taxonomy) if r.taxonomy else None,
                content=c, overall_score=score, author=r.author, source="merge",
                created_at=r.created_at,  # when it was graded, not when merged
                guideline_version=r.guideline_version)))
            judgment.next_no += 1
            appended.append(r)
            result.added += 1
        if not local_only or not appended:
            continue
        # True conflict: both sides moved on. The newest graded revision anywhere (time, then
        # uid) becomes current — a function of the set of revisions, not of merge order.
        graded: list[_Held | IncomingRevision] = [r for r in existing if r.source != "resolve"]
        graded += appended
        winner = max(graded, key=lambda r: (r.created_at, r.uid))
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
        row = NewRevision(uid=uid, judgment_id=0, revision_no=judgment.next_no, form_id=0,
                          taxonomy_id=None, content=RevisionContent(), author="merge",
                          source="resolve", created_at=now)
        judgment.next_no += 1
        if isinstance(winner, _Held):
            winners[oid] = winner.id
        else:
            row.form_id = form_id(winner.form)
            row.taxonomy_id = form_id(winner.taxonomy) if winner.taxonomy else None
            row.content = winner.content
        planned.append((oid, row))
    held_content = _contents(s, sorted(winners.values()))
    mirror: dict[int, tuple[int, str, bool]] = {}
    for oid, row in planned:
        if row.source == "resolve":
            if oid in winners:
                row.content, row.form_id, row.taxonomy_id = held_content[winners[oid]]
            c = row.content
            row.content = RevisionContent(
                answers=dict(c.answers), annotations=list(c.annotations), rationale=c.rationale,
                confidence=c.confidence, time_on_task_s=c.time_on_task_s, flagged=c.flagged,
                skipped=c.skipped, status=c.status)
            row.overall_score = scorer.score(row.form_id, oid, c.answers, c.status)
        mirror[oid] = (row.revision_no, row.content.status, row.content.flagged)
    ids = insert_judgments(s, rater.id, [(oid, *mirror.get(oid, (0, "draft", False)))
                                         for oid in created], now)
    for oid, row in planned:
        row.judgment_id = ids.get(oid) or held[oid].id or 0
    insert_revisions(s, [row for _oid, row in planned])
    update_judgment_mirrors(s, [(held[oid].id or 0, *m) for oid, m in mirror.items()
                                if oid not in ids], now)


def apply_packages(project: Project, packages: Sequence[IncomingPackage],
                   before_each: Callable[[int, IncomingPackage], None] | None = None,
                   *, criterion_cache: CriterionCache | None = None
                   ) -> list[PackageMergeResult]:
    """Merge checked packages in one transaction (all or nothing): re-check each against the
    project as it is now, then append their revisions (see ``study.merge`` for the rules).

    ``criterion_cache`` (``MergeReference.criterion_cache``): criteria rows read again here
    that are unchanged reuse the questions the checks built; changed rows are built anew."""
    results: list[PackageMergeResult] = []
    with project.transaction() as s, gc_paused():
        # Uids held anywhere in the project that a package's revisions may reuse: its own
        # (the checks allow no other), and those the earlier packages add.
        taken: set[str] = set()
        if criterion_cache is not None:  # for the Scorer, beside the session's parsed forms
            s.info[CRITERION_CACHE] = criterion_cache
        for pkg in packages:
            taken |= _check_against(s, pkg)
        for i, pkg in enumerate(packages):
            if before_each is not None:
                before_each(i, pkg)
            result = PackageMergeResult(pkg.file, pkg.rater, pkg.issued.uid)
            _apply(s, pkg, result, taken)
            results.append(result)
    return results
