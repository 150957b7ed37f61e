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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form, Question, case_criterion_question
from medreview.errors import PackageError, ProjectError
from medreview.storage.forms import form_from_row
from medreview.storage.models import (
    CaseCriterionRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
)
from medreview.storage.packages import IssuedPackage
from medreview.storage.project import Project
from medreview.storage.revisions import RevisionContent, append_revision

_CHUNK = 500  # ids per IN (...) list: well below SQLite's limit of bound parameters


# --- this project, as the checks need it ------------------------------------------------------


@dataclass(frozen=True)
class MergeReference:
    """What the checks need from the lead's project, read once."""

    uid: str
    forms: dict[tuple[str, int], tuple[int, str, Form]]  # (key, version) -> id, sha, form
    criteria: dict[int, list[Question]]  # case id -> its criteria questions
    case_of: dict[int, int]  # output id -> case id


def merge_reference(project: Project) -> MergeReference:
    with project.read() as s:
        forms = {(f.key, f.version): (f.id, f.sha256, form_from_row(f))
                 for f in s.scalars(select(FormRow))}
        criteria: dict[int, list[Question]] = {}
        for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.position)):
            criteria.setdefault(c.case_id, []).append(
                case_criterion_question(c.key, c.text, c.points, tuple(c.tags)))
        case_of: dict[int, int] = {}
        for oid, cid in s.execute(select(OutputRow.id, OutputRow.case_id)):
            case_of[oid] = cid
        uid = s.execute(select(ProjectRow.uid)).scalar_one()
    return MergeReference(uid, forms, criteria, case_of)


def _owners(s: Session, uids: Sequence[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for at in range(0, len(uids), _CHUNK):
        for uid, rater_id, output_id in s.execute(
                select(JudgmentRevisionRow.uid, JudgmentRow.rater_id, JudgmentRow.output_id)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRevisionRow.uid.in_(list(uids[at:at + _CHUNK])))):
            out[uid] = (rater_id, output_id)
    return out


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


@dataclass(frozen=True)
class PackageJudgment:
    id: int
    rater_id: int
    output_id: int


@dataclass(frozen=True)
class PackageRevision:
    """A revision row as the package holds it; values unchecked (``study.merge`` checks)."""

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
    with pkg.read() as s:
        raw = s.scalars(select(ProjectRow)).one().settings or {}
        settings = raw.get("package") or {}
        raters = tuple(PackageRater(r.id, r.name, r.kind) for r in s.scalars(select(RaterRow)))
        outputs = tuple(PackageOutput(oid, token, sha) for oid, token, sha in s.execute(
            select(OutputRow.id, OutputRow.external_id, OutputRow.text_sha256)))
        forms = {f.id: PackageForm(f.key, f.version, f.kind, f.sha256)
                 for f in s.scalars(select(FormRow))}
        judgments = tuple(PackageJudgment(j.id, j.rater_id, j.output_id) for j in s.scalars(
            select(JudgmentRow).order_by(JudgmentRow.id)))
        revisions = tuple(PackageRevision(
            uid=r.uid, judgment_id=r.judgment_id, revision_no=r.revision_no, form_id=r.form_id,
            taxonomy_id=r.taxonomy_id, answers=r.answers, annotations=r.annotations,
            rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
            time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
            status=r.status, author=r.author, created_at=r.created_at)
            for r in s.scalars(select(JudgmentRevisionRow).order_by(
                JudgmentRevisionRow.judgment_id, JudgmentRevisionRow.revision_no)))
    return PackageContents(settings, raters, outputs, forms, judgments, revisions)


# --- applying checked packages ---------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRevision:
    uid: str
    form: tuple[str, int]
    taxonomy: tuple[str, int] | None
    content: RevisionContent
    author: str
    created_at: dt.datetime


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


def _check_against(s: Session, pkg: IncomingPackage) -> None:
    """Inside the write transaction: the outputs still match and no uid changed hands."""
    sent = {o.output_id: o.text_sha256 for o in pkg.issued.outputs.values()}
    ids = sorted(pkg.chains)
    have: dict[int, str] = {}
    for at in range(0, len(ids), _CHUNK):
        for oid, sha in s.execute(select(OutputRow.id, OutputRow.text_sha256)
                                  .where(OutputRow.id.in_(ids[at:at + _CHUNK]))):
            have[oid] = sha
    for oid in ids:
        if have.get(oid) is None or have[oid] != sent.get(oid):
            raise _fail("package answer differs from the project's answer", pkg.file,
                        item=f"output {oid}")
    output_of = {r.uid: oid for oid, chain in pkg.chains.items() for r in chain}
    for uid, owner in _owners(s, list(output_of)).items():
        if owner != (pkg.issued.rater_id, output_of[uid]):
            raise _fail("revision uid belongs to another judgment in this project", pkg.file,
                        item=f"revision {uid}")


def _form_id(s: Session, key: tuple[str, int]) -> int:
    row = s.scalars(select(FormRow).where(FormRow.key == key[0],
                                          FormRow.version == key[1])).first()
    assert row is not None  # checked for every new revision while reading the package
    return row.id


def _apply(s: Session, pkg: IncomingPackage, result: PackageMergeResult) -> None:
    rater = s.get(RaterRow, pkg.issued.rater_id)
    if rater is None or rater.kind != "physician" or rater.name != pkg.issued.rater:
        raise _fail("the rater this package was issued to is gone or changed", pkg.file)
    form_ids: dict[tuple[str, int], int] = {}

    def form_id(key: tuple[str, int]) -> int:  # a package has a form or two, used per revision
        if key not in form_ids:
            form_ids[key] = _form_id(s, key)
        return form_ids[key]
    for oid in sorted(pkg.chains):
        chain = pkg.chains[oid]
        judgment = s.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == rater.id, JudgmentRow.output_id == oid)).first()
        existing: list[JudgmentRevisionRow] = []
        if judgment is not None:
            existing = list(s.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == judgment.id)
                .order_by(JudgmentRevisionRow.revision_no)))
        have = {r.uid for r in existing}
        incoming = {r.uid for r in chain}
        new = [r for r in chain if r.uid not in have]
        result.already_present += len(chain) - len(new)
        if not new:
            continue
        local_only = [r for r in existing if r.uid not in incoming and r.source != "resolve"]
        appended: list[JudgmentRevisionRow] = []
        for r in new:
            row = append_revision(
                s, rater_id=rater.id, output_id=oid, content=r.content,
                form_id=form_id(r.form),
                taxonomy_id=form_id(r.taxonomy) if r.taxonomy else None,
                author=r.author, source="merge", uid=r.uid)
            if row is not None:
                row.created_at = r.created_at  # keep when it was graded, not when merged
                appended.append(row)
                result.added += 1
        if not local_only or not appended:
            continue
        # True conflict: both sides moved on. The newest graded revision anywhere (time, then
        # uid) becomes current — a function of the set of revisions, not of merge order.
        graded = [r for r in existing if r.source != "resolve"] + appended
        winner = max(graded, key=lambda r: (r.created_at, r.uid))
        result.conflicts.append(Conflict(
            rater=pkg.rater, output_id=oid, kept_current_uid=winner.uid,
            detail=f"{len(local_only)} revision(s) only in the project, {len(appended)} only "
                   f"in the package; the newest is current"))
        if winner is appended[-1]:
            continue
        all_uids = sorted({r.uid for r in existing} | incoming)
        uid = hashlib.sha256(("resolve:" + ",".join(all_uids)).encode()).hexdigest()
        append_revision(
            s, rater_id=rater.id, output_id=oid,
            content=RevisionContent(
                answers=dict(winner.answers), annotations=list(winner.annotations),
                rationale=winner.rationale, confidence=winner.confidence,
                overall_score=winner.overall_score, time_on_task_s=winner.time_on_task_s,
                flagged=winner.flagged, skipped=winner.skipped, status=winner.status),
            form_id=winner.form_id, taxonomy_id=winner.taxonomy_id,
            author="merge", source="resolve", uid=uid)


def apply_packages(project: Project, packages: Sequence[IncomingPackage],
                   before_each: Callable[[int, IncomingPackage], None] | None = None
                   ) -> list[PackageMergeResult]:
    """Merge checked packages in one transaction (all or nothing): re-check each against the
    project as it is now, then append their revisions (see ``study.merge`` for the rules)."""
    results: list[PackageMergeResult] = []
    with project.transaction() as s:
        for pkg in packages:
            _check_against(s, pkg)
        for i, pkg in enumerate(packages):
            if before_each is not None:
                before_each(i, pkg)
            result = PackageMergeResult(pkg.file, pkg.rater, pkg.issued.uid)
            _apply(s, pkg, result)
            results.append(result)
    return results
