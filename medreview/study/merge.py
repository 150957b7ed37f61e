"""Bring graded rater packages back into their project.

Every package is verified first (format, checksums, paths, project identity, that it holds only
its own rater's judgments of outputs it was given); if any is refused, nothing is written.
Then all packages are applied in one transaction.

Revisions are matched by ``uid``, so merging is idempotent and order-independent for the usual
cases: a package's chain of revisions for a judgment either extends the project's chain
(fast-forward: the new revisions are appended), or is already contained in it (nothing to do).
If both sides have revisions the other lacks (the same item graded in two copies), that is a
*true conflict*: all incoming revisions are still appended (nothing is lost), the conflict is
listed, and the judgment's current value becomes the newer tip by (creation time, uid) — if
that is not already the last revision a ``resolve`` revision restating it is appended — so the
current value does not depend on merge order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.errors import PackageError, ProjectError
from medreview.progress import Progress, no_progress
from medreview.storage.models import (
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
)
from medreview.storage.project import Project, open_project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision
from medreview.study.package import unpack_package


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
    revision_no: int
    form: tuple[str, int]
    taxonomy: tuple[str, int] | None
    content: RevisionContent
    author: str
    created_at: dt.datetime


@dataclass
class _Package:
    file: str
    manifest: dict[str, Any]
    rater: str
    rater_kind: str
    forms: dict[tuple[str, int], dict[str, Any]]
    chains: dict[int, list[_Rev]]  # source output id -> revisions in order


def _fail(reason: str, file: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=file, item=item)


def _read_package(file: Path, project_uid: str) -> _Package:
    src = str(file)
    with tempfile.TemporaryDirectory(prefix="medreview-merge-") as tmp:
        folder = unpack_package(file, Path(tmp) / "pkg")
        from medreview.study.package import read_manifest

        manifest = read_manifest(file)
        if manifest["project_uid"] != project_uid:
            raise _fail(
                f"package belongs to another project (uid {manifest['project_uid']}, "
                f"this project is {project_uid})", src)
        try:
            pkg = open_project(folder, upgrade=True)
        except ProjectError as exc:
            raise _fail(f"package database cannot be opened: {exc.reason}", src) from exc
        try:
            with pkg.read() as s:
                return _load(s, manifest, src, project_uid)
        except PackageError:
            raise
        except Exception as exc:  # a damaged database inside valid checksums: still a refusal
            raise _fail(f"package database cannot be read: {exc}", src) from exc
        finally:
            pkg.close()


def _load(s: Session, manifest: dict[str, Any], src: str, project_uid: str) -> _Package:
    settings = (s.scalars(select(ProjectRow)).one().settings or {}).get("package") or {}
    if settings.get("source_project_uid") != project_uid or (
            settings.get("package_uid") != manifest["package_uid"]):
        raise _fail("package database does not match its manifest (foreign or tampered)", src)
    raters = s.scalars(select(RaterRow)).all()
    rater_name = str(manifest["rater"].get("name", ""))
    if len(raters) != 1 or raters[0].name != rater_name:
        raise _fail("package must hold exactly its own rater (foreign or tampered)", src)
    forms = {f.id: f for f in s.scalars(select(FormRow))}
    outputs: dict[str, Any] = manifest["outputs"]
    attachments = {int(k): int(v) for k, v in (manifest.get("attachments") or {}).items()}
    texts: dict[int, str] = {}
    for oid, sha in s.execute(select(OutputRow.id, OutputRow.text_sha256)):
        texts[oid] = sha
    chains: dict[int, list[_Rev]] = {}
    for j in s.scalars(select(JudgmentRow).order_by(JudgmentRow.output_id)):
        entry = outputs.get(str(j.output_id))
        if entry is None or j.rater_id != raters[0].id:
            raise _fail("package holds a judgment of an output it was not given", src,
                        item=str(j.output_id))
        if texts.get(j.output_id) != entry["text_sha256"]:
            raise _fail("an answer text was changed inside the package", src,
                        item=str(j.output_id))
        revs = []
        for r in s.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == j.id)
                .order_by(JudgmentRevisionRow.revision_no)):
            form = forms[r.form_id]
            tax = forms[r.taxonomy_id] if r.taxonomy_id else None
            revs.append(_Rev(
                uid=r.uid, revision_no=r.revision_no, form=(form.key, form.version),
                taxonomy=(tax.key, tax.version) if tax else None,
                content=RevisionContent(
                    answers=dict(r.answers),
                    annotations=_unmap(list(r.annotations), attachments),
                    rationale=r.rationale, confidence=r.confidence,
                    overall_score=r.overall_score, time_on_task_s=r.time_on_task_s,
                    flagged=r.flagged, skipped=r.skipped, status=r.status),
                author=r.author, created_at=r.created_at))
        if revs:
            chains[int(entry["source_output_id"])] = revs
    return _Package(
        file=src, manifest=manifest, rater=rater_name, rater_kind=raters[0].kind,
        forms={(f.key, f.version): {"kind": f.kind, "name": f.name, "definition": f.definition,
                                    "sha256": f.sha256} for f in forms.values()},
        chains=chains)


def _unmap(annotations: list[Any], att_map: dict[int, int]) -> list[Any]:
    from medreview.study.package import _map_annotations

    return _map_annotations(annotations, att_map)


def _check_against(s: Session, pkg: _Package) -> None:
    expected = {int(v["source_output_id"]): v["text_sha256"]
                for v in pkg.manifest["outputs"].values()}
    for oid in pkg.chains:
        out = s.get(OutputRow, oid)
        if out is None:
            raise _fail("package refers to an output this project does not have", pkg.file,
                        item=str(oid))
        # the manifest's text hash was checked against the package; now against the project
        if out.text_sha256 != expected.get(oid):
            raise _fail("package answer differs from the project's answer", pkg.file,
                        item=str(oid))
    for (key, version), f in pkg.forms.items():
        row = s.scalars(select(FormRow).where(FormRow.key == key,
                                              FormRow.version == version)).first()
        if row is not None and row.sha256 != f["sha256"]:
            raise _fail("package form differs from the project's form of the same version",
                        pkg.file, item=f"{key} v{version}")


def _form_id(s: Session, pkg: _Package, key: tuple[str, int]) -> int:
    row = s.scalars(select(FormRow).where(FormRow.key == key[0],
                                          FormRow.version == key[1])).first()
    if row is None:  # a version only the package knows: keep it, inactive
        f = pkg.forms[key]
        row = FormRow(key=key[0], version=key[1], kind=f["kind"], name=f["name"],
                      definition=f["definition"], sha256=f["sha256"], active=False)
        s.add(row)
        s.flush()
    return row.id


def _apply(s: Session, pkg: _Package, result: PackageMergeResult) -> None:
    rater = get_or_create_rater(s, pkg.rater, pkg.rater_kind)
    form_ids: dict[tuple[str, int], int] = {}

    def form_id(key: tuple[str, int]) -> int:  # a package has a form or two, used per revision
        if key not in form_ids:
            form_ids[key] = _form_id(s, pkg, key)
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
                   progress: Progress = no_progress) -> MergeReport:
    """Verify every package, then merge them all in one transaction (all or nothing)."""
    with project.read() as s:
        project_uid = s.execute(select(ProjectRow.uid)).scalar_one()
    packages: list[_Package] = []
    for i, f in enumerate(files):
        progress(i, len(files) * 2, f"checking {Path(f).name}")
        packages.append(_read_package(Path(f), project_uid))
    report = MergeReport()
    with project.transaction() as s:
        for pkg in packages:
            _check_against(s, pkg)
        for i, pkg in enumerate(packages):
            progress(len(files) + i, len(files) * 2, f"merging {Path(pkg.file).name}")
            result = PackageMergeResult(pkg.file, pkg.rater, str(pkg.manifest["package_uid"]))
            _apply(s, pkg, result)
            report.packages.append(result)
    progress(len(files) * 2, len(files) * 2, "done")
    return report
