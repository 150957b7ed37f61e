"""Bring graded rater packages back into the project that issued them.

A package is accepted only if this project issued it (its uid is in ``issued_package``), to the
rater it names, its seal verifies with the key kept in that record, and every judgment and
revision in it is by that rater, a physician, about an output assigned to them in that package
(outputs are named by the package's own tokens; the token -> output map never left this
project), dated no later than the merge plus ``CLOCK_SKEW``, and valid for the form version it
names. Anything else refuses the whole package with one line and nothing is written: every
package is checked before the one transaction that applies them all.

Revisions are matched by ``uid``, so merging is idempotent and order-independent for the usual
cases: a package's chain of revisions for a judgment either extends the project's chain
(fast-forward: the new revisions are appended), or is already contained in it (nothing to do).
If both sides have revisions the other lacks (the same item graded in two copies), that is a
*true conflict*: all incoming revisions are still appended (nothing is lost), the conflict is
listed, and the judgment's current value becomes the newer tip by (creation time, uid) — if
that is not already the last revision a ``resolve`` revision restating it is appended — so the
current value does not depend on merge order.

The package database is unpacked into a hidden folder inside the project (not the system temp
folder: it holds case text), removed when the merge ends; one left by a killed merge is removed
by the next.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.rubric import Form, Question, case_criterion_question
from medreview.errors import PackageError, ProjectError, ProjectReadOnly
from medreview.processes import pid_alive
from medreview.progress import Progress, no_progress
from medreview.storage.base import utcnow
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
from medreview.storage.project import DB_NAME, MEDIA_DIR, Project, open_project
from medreview.storage.revisions import RevisionContent, append_revision
from medreview.study.issued import IssuedPackage, issued_package
from medreview.study.merge_checks import (
    Invalid,
    all_questions,
    check_answers,
    check_scalars,
    map_annotations,
)
from medreview.study.package_zip import ROOT, PackageZip, open_package_zip
from medreview.study.seal import seal_verifies

# A rater's clock may run a little ahead of the lead's; revisions dated later than this past
# the merge are refused (a 2099 date would win every later conflict).
CLOCK_SKEW = dt.timedelta(minutes=10)
WORK_PREFIX = ".medreview-merge-"


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


@dataclass
class MergeReport:
    packages: list[PackageMergeResult] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(p.added for p in self.packages)

    @property
    def conflicts(self) -> list[Conflict]:
        return [c for p in self.packages for c in p.conflicts]


@dataclass(frozen=True)
class _Rev:
    uid: str
    form: tuple[str, int]
    taxonomy: tuple[str, int] | None
    content: RevisionContent
    author: str
    created_at: dt.datetime


@dataclass
class _Package:
    file: str
    manifest: dict[str, Any]
    issued: IssuedPackage
    chains: dict[int, list[_Rev]] = field(default_factory=dict)  # our output id -> revisions

    @property
    def rater(self) -> str:
        return self.issued.rater


@dataclass
class _Lead:
    """What the checks need from this project, read once."""

    uid: str
    forms: dict[tuple[str, int], tuple[int, str, Form]]  # (key, version) -> id, sha, form
    criteria: dict[int, list[Question]]  # case id -> its criteria questions
    case_of: dict[int, int]  # output id -> case id


def _fail(reason: str, file: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=file, item=item)


def one_line(value: object, limit: int = 80) -> str:
    """A value from a package, safe to quote in a one-line message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "…"


def _lead(s: Session) -> _Lead:
    forms = {(f.key, f.version): (f.id, f.sha256, form_from_row(f))
             for f in s.scalars(select(FormRow))}
    criteria: dict[int, list[Question]] = {}
    for c in s.scalars(select(CaseCriterionRow).order_by(CaseCriterionRow.position)):
        criteria.setdefault(c.case_id, []).append(
            case_criterion_question(c.key, c.text, c.points, tuple(c.tags)))
    case_of: dict[int, int] = {}
    for oid, cid in s.execute(select(OutputRow.id, OutputRow.case_id)):
        case_of[oid] = cid
    return _Lead(s.execute(select(ProjectRow.uid)).scalar_one(), forms, criteria, case_of)


# --- the hidden work folder ------------------------------------------------------------------


@contextlib.contextmanager
def _work_folder(project: Project) -> Iterator[Path]:
    base = Path(project.path)
    for old in base.glob(f"{WORK_PREFIX}*"):  # left by a killed merge
        m = re.fullmatch(rf"{re.escape(WORK_PREFIX)}(\d+)-.*", old.name)
        if m and old.is_dir() and not pid_alive(int(m.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=base))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- reading one package ---------------------------------------------------------------------


def check_issued(pz: PackageZip, issued: IssuedPackage | None, project_uid: str) -> IssuedPackage:
    """The checks that need only the manifest and this project's issue record."""
    m, src = pz.manifest, pz.source
    if m["project_uid"] != project_uid:
        raise _fail(f"package belongs to another project (uid {one_line(m['project_uid'], 40)}, "
                    f"this project is {project_uid})", src)
    if issued is None:
        raise _fail(f"this project never issued package {m['package_uid']} (a copy of another "
                    "package, or made elsewhere)", src)
    claimed = m["rater"]
    if claimed["name"] != issued.rater:
        raise _fail(f"package was issued to {issued.rater!r} but names "
                    f"{str(claimed['name'])[:80]!r}", src)
    if issued.rater_kind != "physician" or claimed["kind"] != issued.rater_kind:
        raise _fail(f"package names rater kind {str(claimed['kind'])[:20]!r}; it was issued "
                    f"to a {issued.rater_kind}", src)
    if not seal_verifies(m, issued.secret):
        raise _fail("package seal does not verify with the key it was issued with "
                    "(altered after sealing, or forged)", src)
    sent = {t: o.text_sha256 for t, o in issued.outputs.items()}
    if {t: e["text_sha256"] for t, e in m["outputs"].items()} != sent:
        raise _fail("package lists outputs it was not issued with", src)
    return issued


def _read_package(file: Path, project: Project, lead: _Lead, now: dt.datetime,
                  work: Path) -> _Package:
    src = str(file)
    with open_package_zip(file) as pz:
        with project.read() as s:
            found = issued_package(s, str(pz.manifest["package_uid"]))
        issued = check_issued(pz, found, lead.uid)
        folder = work / f"p{len(list(work.iterdir()))}"
        (folder / MEDIA_DIR).mkdir(parents=True)
        for name, _meta in pz.members():  # every checksum; only the database is written
            if name == f"{ROOT}/{DB_NAME}":
                pz.extract(name, folder / DB_NAME)
            else:
                pz.stream(name)
        manifest = pz.manifest
    _refuse_active_schema(folder / DB_NAME, src)
    try:
        pkg = open_project(folder, upgrade=True, read_only=False)
    except ProjectError as exc:
        raise _fail(f"package database cannot be opened: {exc.reason}", src) from exc
    try:
        with pkg.read() as s:
            return _load(s, _Package(src, manifest, issued), lead, now, project)
    except PackageError:
        raise
    except Exception as exc:  # a damaged database inside valid checksums: still a refusal
        raise _fail(f"package database cannot be read: {str(exc)[:200]}", src) from exc
    finally:
        pkg.close()


def _refuse_active_schema(db: Path, src: str) -> None:
    """No views or triggers: a view posing as a table could make reading it run forever."""
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            n = con.execute("SELECT count(*) FROM sqlite_master WHERE type IN "
                            "('view', 'trigger')").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise _fail(f"package database cannot be read: {exc}", src) from exc
    if n:
        raise _fail("package database holds views or triggers (not made by medreview)", src)


def _load(s: Session, pkg: _Package, lead: _Lead, now: dt.datetime, project: Project
          ) -> _Package:
    src, issued = pkg.file, pkg.issued
    settings = (s.scalars(select(ProjectRow)).one().settings or {}).get("package") or {}
    if settings.get("source_project_uid") != lead.uid or (
            settings.get("package_uid") != issued.uid):
        raise _fail("package database does not match its manifest (foreign or tampered)", src)
    raters = s.scalars(select(RaterRow)).all()
    if len(raters) != 1 or raters[0].name != issued.rater:
        raise _fail(f"package must hold exactly its own rater {issued.rater!r} (another rater "
                    "was written into it)", src)
    if raters[0].kind != issued.rater_kind:
        raise _fail(f"package rater kind was changed to {str(raters[0].kind)[:20]!r}", src)
    rater_id = raters[0].id
    token_of: dict[int, str] = {}
    for oid, token, sha in s.execute(select(OutputRow.id, OutputRow.external_id,
                                            OutputRow.text_sha256)):
        sent = issued.outputs.get(str(token))
        if sent is None:
            raise _fail("package holds an output it was not sent", src, item=one_line(token, 40))
        if sha != sent.text_sha256:
            raise _fail("an answer text was changed inside the package", src,
                        item=f"output {token}")
        token_of[oid] = str(token)
    out_map = {pid: issued.outputs[t].output_id for pid, t in token_of.items()}
    forms = {f.id: f for f in s.scalars(select(FormRow))}
    judgments = s.scalars(select(JudgmentRow).order_by(JudgmentRow.id)).all()
    for judgment in judgments:
        if judgment.rater_id != rater_id or judgment.output_id not in token_of:
            raise _fail("package holds a judgment of an output not assigned in it", src,
                        item=f"judgment {judgment.id}")
    revs = s.scalars(select(JudgmentRevisionRow).order_by(
        JudgmentRevisionRow.judgment_id, JudgmentRevisionRow.revision_no)).all()
    with project.read() as ls:
        known = _known_uids(ls, [r.uid for r in revs])
    by_judgment = {j.id: j for j in judgments}
    for r in revs:
        j = by_judgment.get(r.judgment_id)
        if j is None:
            raise _fail("package holds a revision of no judgment of its rater", src,
                        item=f"revision {one_line(r.uid, 40)}")
        token = token_of[j.output_id]
        ours = out_map[j.output_id]
        where = f"output {token}, revision {one_line(r.uid, 40)}"
        form, tax = forms.get(r.form_id), forms.get(r.taxonomy_id) if r.taxonomy_id else None
        if form is None or (r.taxonomy_id and tax is None):
            raise _fail("revision names a form the package does not have", src, item=where)
        owner = known.get(r.uid)
        if owner is not None:  # sent out with the package (or merged before): must be ours
            if owner != (issued.rater_id, ours):
                raise _fail("revision uid belongs to another judgment in this project", src,
                            item=where)
        else:
            _check_new(r, form, tax, issued, lead, ours, now, src, where)
        # Content matters only for new revisions (known ones are skipped by uid).
        content = RevisionContent() if owner is not None else _content(
            r, lead, issued, ours, out_map, form, tax, src, where)
        pkg.chains.setdefault(ours, []).append(_Rev(
            uid=r.uid, form=(form.key, form.version),
            taxonomy=(tax.key, tax.version) if tax else None, content=content,
            author=r.author, created_at=r.created_at))
    return pkg


def _known_uids(s: Session, uids: list[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for at in range(0, len(uids), 500):
        for uid, rater_id, output_id in s.execute(
                select(JudgmentRevisionRow.uid, JudgmentRow.rater_id, JudgmentRow.output_id)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRevisionRow.uid.in_(uids[at:at + 500]))):
            out[uid] = (rater_id, output_id)
    return out


def _lead_form(lead: _Lead, f: FormRow, src: str, where: str) -> Form:
    found = lead.forms.get((f.key, f.version))
    if found is None:
        raise _fail(f"revision names form {f.key} v{f.version}, which this project does not "
                    "have", src, item=where)
    if found[1] != f.sha256:
        raise _fail(f"package form {f.key} v{f.version} differs from this project's", src,
                    item=where)
    return found[2]


def _check_new(r: JudgmentRevisionRow, form: FormRow, tax: FormRow | None,
               issued: IssuedPackage, lead: _Lead, ours: int, now: dt.datetime, src: str,
               where: str) -> None:
    if r.author != issued.rater:
        raise _fail(f"revision is signed by {str(r.author)[:80]!r}, not the package's rater "
                    f"{issued.rater!r}", src, item=where)
    if not isinstance(r.created_at, dt.datetime) or r.created_at > now + CLOCK_SKEW:
        raise _fail(f"revision is dated {r.created_at}, later than this merge "
                    f"(allowing {int(CLOCK_SKEW.total_seconds() // 60)} minutes of clock "
                    "difference)", src, item=where)
    if form.kind != "rubric" or (tax is not None and tax.kind != "taxonomy"):
        raise _fail("revision's rubric or taxonomy is a form of the wrong kind", src,
                    item=where)
    rubric = _lead_form(lead, form, src, where)
    taxonomy = _lead_form(lead, tax, src, where) if tax is not None else None
    try:
        check_scalars(rationale=r.rationale, confidence=r.confidence,
                      overall_score=r.overall_score, time_on_task_s=r.time_on_task_s,
                      flagged=r.flagged, skipped=r.skipped, status=r.status)
        check_answers(r.answers, rubric, taxonomy, lead.criteria.get(lead.case_of[ours], []))
    except Invalid as exc:
        raise _fail(one_line(exc, 300), src, item=where) from exc


def _content(r: JudgmentRevisionRow, lead: _Lead, issued: IssuedPackage, ours: int,
             out_map: dict[int, int], form: FormRow, tax: FormRow | None, src: str,
             where: str) -> RevisionContent:
    known_form = lead.forms.get((form.key, form.version))
    known_tax = lead.forms.get((tax.key, tax.version)) if tax is not None else None
    rubric = known_form[2] if known_form else None
    questions = all_questions(rubric, known_tax[2] if known_tax else None,
                              lead.criteria.get(lead.case_of[ours], [])) if rubric else {}
    try:
        annotations = map_annotations(r.annotations, questions, issued.attachments, out_map)
    except Invalid as exc:
        raise _fail(one_line(exc, 300), src, item=where) from exc
    return RevisionContent(
        answers=dict(r.answers), annotations=annotations, rationale=r.rationale,
        confidence=r.confidence, overall_score=r.overall_score,
        time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
        status=r.status)


def _check_against(s: Session, pkg: _Package) -> None:
    """Inside the write transaction: the outputs still match and no uid changed hands."""
    sent = {o.output_id: o.text_sha256 for o in pkg.issued.outputs.values()}
    ids = sorted(pkg.chains)
    have: dict[int, str] = {}
    for at in range(0, len(ids), 500):
        for oid, sha in s.execute(select(OutputRow.id, OutputRow.text_sha256)
                                  .where(OutputRow.id.in_(ids[at:at + 500]))):
            have[oid] = sha
    for oid in ids:
        if have.get(oid) is None or have[oid] != sent.get(oid):
            raise _fail("package answer differs from the project's answer", pkg.file,
                        item=f"output {oid}")
    output_of = {r.uid: oid for oid, chain in pkg.chains.items() for r in chain}
    for uid, owner in _known_uids(s, list(output_of)).items():
        if owner != (pkg.issued.rater_id, output_of[uid]):
            raise _fail("revision uid belongs to another judgment in this project", pkg.file,
                        item=f"revision {uid}")


def _form_id(s: Session, key: tuple[str, int]) -> int:
    row = s.scalars(select(FormRow).where(FormRow.key == key[0],
                                          FormRow.version == key[1])).first()
    assert row is not None  # checked for every new revision while reading the package
    return row.id


def _apply(s: Session, pkg: _Package, result: PackageMergeResult) -> None:
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


def merge_packages(project: Project, files: Sequence[Path],
                   progress: Progress = no_progress, *,
                   now: dt.datetime | None = None) -> MergeReport:
    """Check every package, then merge them all in one transaction (all or nothing)."""
    if project.read_only:
        raise ProjectReadOnly(f"the project is open read-only ({project.read_only_reason}); "
                              "nothing can be merged", source=str(project.path))
    now = now or utcnow()
    with project.read() as s:
        lead = _lead(s)
    packages: list[_Package] = []
    with _work_folder(project) as work:
        for i, f in enumerate(files):
            progress(i, len(files) * 2, f"checking {Path(f).name}")
            packages.append(_read_package(Path(f), project, lead, now, work))
    report = MergeReport()
    with project.transaction() as s:
        for pkg in packages:
            _check_against(s, pkg)
        for i, pkg in enumerate(packages):
            progress(len(files) + i, len(files) * 2, f"merging {Path(pkg.file).name}")
            result = PackageMergeResult(pkg.file, pkg.rater, pkg.issued.uid)
            _apply(s, pkg, result)
            report.packages.append(result)
    progress(len(files) * 2, len(files) * 2, "done")
    return report
