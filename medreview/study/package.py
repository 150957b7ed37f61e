"""Offline rater packages: one zip holding a small, valid project with one rater's items.

Layout of a package file (a zip)::

    medreview-package.json     manifest: format, package uid, project uid, rater, the output
                               tokens, file checksums, the seal key and the seal (HMAC)
    project/project.sqlite     a medreview project: forms, the rater, assigned cases and
                               (blinded) outputs, the rater's own judgments — nothing else
    project/media/ab/cdef...   the media those cases need

Outputs carry random per-package tokens (``output.external_id``) and are written in a random
order, so neither the manifest nor row ids show which model wrote what; the token -> output
map stays in the issuing project (``issued_package``). ``unpack_package`` verifies and
extracts a package into a folder that ``open_project`` opens; the physician grades there;
``seal_package`` writes the folder back into a package file (new checksums, new seal,
``stage = "return"``) for ``medreview merge``. Reading is bounded and checked before anything
is written (``medreview.study.package_zip``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import sqlite3
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.errors import PackageError
from medreview.storage.media import sha256_file
from medreview.storage.models import (
    AssignmentRow,
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    SeriesRow,
)
from medreview.storage.project import DB_NAME, MEDIA_DIR, Project, create_project
from medreview.study.issued import IssuedOutput, record_issue
from medreview.study.package_zip import (
    FORMAT,
    MANIFEST,
    ROOT,
    open_package_zip,
    safe_name,
)
from medreview.study.queries import rater_by_name
from medreview.study.seal import (
    SEAL_KEY,
    SECRET_KEY,
    new_secret,
    new_token,
    seal_verifies,
    sealed,
)

__all__ = ["FORMAT", "MANIFEST", "ROOT", "PackageInfo", "build_package", "read_manifest",
           "seal_package", "unpack_package", "verify_package"]


@dataclass(frozen=True)
class PackageInfo:
    path: Path
    manifest: dict[str, Any]

    @property
    def project_uid(self) -> str:
        return str(self.manifest["project_uid"])

    @property
    def rater(self) -> str:
        return str(self.manifest["rater"]["name"])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# --- writing -----------------------------------------------------------------------------


def _map_annotations(annotations: list[Any], att_map: dict[int, int],
                     out_map: dict[int, int]) -> list[Any]:
    """Rewrite database-local ids (image-region attachments, pairwise partners)."""
    out = []
    for a in annotations:
        if isinstance(a, dict) and a.get("compared_output_id") in out_map:
            a = {**a, "compared_output_id": out_map[a["compared_output_id"]]}
        if isinstance(a, dict) and isinstance(a.get("region"), dict):
            region = dict(a["region"])
            old = region.get("attachment_id")
            if isinstance(old, int) and old in att_map:
                region["attachment_id"] = att_map[old]
            a = {**a, "region": region}
        out.append(a)
    return out


@dataclass
class _Maps:
    outputs: dict[str, IssuedOutput] = field(default_factory=dict)  # token -> our output
    attachments: dict[int, int] = field(default_factory=dict)  # package id -> ours


def _copy_content(src: Session, dst: Session, project: Project, rater: RaterRow,
                  media_root: Path) -> _Maps:
    """Copy the rater's slice of the project into the package database; return the id maps."""
    form_map: dict[int, int] = {}
    for f in src.scalars(select(FormRow).order_by(FormRow.id)):
        row = FormRow(key=f.key, version=f.version, kind=f.kind, name=f.name,
                      definition=f.definition, sha256=f.sha256, active=f.active)
        dst.add(row)
        dst.flush()
        form_map[f.id] = row.id
    new_rater = RaterRow(name=rater.name, kind=rater.kind, pseudonym=rater.pseudonym)
    dst.add(new_rater)
    dst.flush()
    assignments = src.scalars(
        select(AssignmentRow).where(AssignmentRow.rater_id == rater.id)
        .order_by(AssignmentRow.position)
    ).all()
    if not assignments:
        raise PackageError("this rater has no assignments; run `medreview assign` first",
                           item=rater.name)
    outputs = {o.id: o for o in src.scalars(
        select(OutputRow).where(OutputRow.id.in_([a.output_id for a in assignments])))}
    case_map: dict[int, int] = {}
    att_map: dict[int, int] = {}
    for case_id in sorted({o.case_id for o in outputs.values()}):
        c = src.get(CaseRow, case_id)
        assert c is not None
        nc = CaseRow(external_id=c.external_id, title=c.title, messages=c.messages,
                     context=c.context, tags=c.tags, meta=c.meta,
                     reference_answer=c.reference_answer, content_sha256=c.content_sha256,
                     source="package")
        dst.add(nc)
        dst.flush()
        case_map[c.id] = nc.id
        for cr in src.scalars(select(CaseCriterionRow).where(CaseCriterionRow.case_id == c.id)):
            dst.add(CaseCriterionRow(case_id=nc.id, position=cr.position, key=cr.key,
                                     text=cr.text, points=cr.points, tags=cr.tags))
        series_map: dict[int, int] = {}
        for sr in src.scalars(select(SeriesRow).where(SeriesRow.case_id == c.id)):
            ns = SeriesRow(case_id=nc.id, study_uid=sr.study_uid, series_uid=sr.series_uid,
                           modality=sr.modality, description=sr.description)
            dst.add(ns)
            dst.flush()
            series_map[sr.id] = ns.id
        for att in src.scalars(select(AttachmentRow).where(AttachmentRow.case_id == c.id)):
            na = AttachmentRow(
                case_id=nc.id, series_id=series_map.get(att.series_id or -1), kind=att.kind,
                sha256=att.sha256, size=att.size, filename=att.filename, mime=att.mime,
                sop_uid=att.sop_uid, instance_number=att.instance_number,
                sort_index=att.sort_index, frame_count=att.frame_count, meta=att.meta)
            dst.add(na)
            dst.flush()
            att_map[att.id] = na.id
            target = media_root / att.sha256[:2] / att.sha256[2:]
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(project.media.open_verified(att.sha256), target)
    # Output rows go in in a random order with random tokens: package ids say nothing about
    # the import (= model) order, and the token -> output map stays with the lead.
    shuffled = list(assignments)
    random.SystemRandom().shuffle(shuffled)
    maps = _Maps()
    output_map: dict[int, int] = {}
    for a in shuffled:
        o = outputs[a.output_id]
        token = new_token()
        # Blinded: the model name is replaced by the label the rater sees; no metadata travels.
        no = OutputRow(case_id=case_map[o.case_id], external_id=token, model=a.blind_label,
                       text=o.text, text_sha256=o.text_sha256, meta={}, source="package")
        dst.add(no)
        dst.flush()
        output_map[o.id] = no.id
        maps.outputs[token] = IssuedOutput(o.id, o.text_sha256)
    for a in assignments:
        # No seed: with it and the case, the seeded label shuffle gives back the model order.
        dst.add(AssignmentRow(rater_id=new_rater.id, output_id=output_map[a.output_id],
                              position=a.position, blind_label=a.blind_label, seed=None))
    for j in src.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == rater.id, JudgmentRow.output_id.in_(list(output_map)))
            .order_by(JudgmentRow.id)):
        nj = JudgmentRow(rater_id=new_rater.id, output_id=output_map[j.output_id],
                         status=j.status, flagged=j.flagged,
                         current_revision_no=j.current_revision_no,
                         created_at=j.created_at, updated_at=j.updated_at)
        dst.add(nj)
        dst.flush()
        for r in src.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == j.id)):
            dst.add(JudgmentRevisionRow(
                uid=r.uid, judgment_id=nj.id, revision_no=r.revision_no,
                form_id=form_map[r.form_id],
                taxonomy_id=form_map[r.taxonomy_id] if r.taxonomy_id else None,
                answers=r.answers, annotations=_map_annotations(list(r.annotations), att_map,
                                             output_map),
                rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
                time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
                status=r.status, author=r.author, source=r.source, created_at=r.created_at))
    dst.flush()
    maps.attachments = {v: k for k, v in att_map.items()}
    return maps


def build_package(project: Project, rater_name: str, out: Path) -> PackageInfo:
    """Write ``out``: the rater's items, their media, the forms; no other rater's judgments.

    The project records the package (uid, rater, token -> output map, seal key) in the same
    step; ``merge`` accepts nothing it did not issue.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    package_uid = uuid.uuid4().hex
    secret = new_secret()
    with project.read() as s:
        rater = rater_by_name(s, rater_name)
        if rater.kind != "physician":
            raise PackageError("packages are for physicians, not judges", item=rater_name)
        rater_id = rater.id
        source = s.scalars(select(ProjectRow)).one()
        source_uid, source_name = source.uid, source.name
        # Built beside the output, not in the system temp folder: it holds case text and media.
        with tempfile.TemporaryDirectory(prefix=".medreview-pkg-", dir=out.parent) as tmp:
            folder = Path(tmp) / ROOT
            pkg = create_project(folder, f"{source_name} — {rater.pseudonym}")
            try:
                with pkg.transaction() as d:
                    maps = _copy_content(s, d, project, rater, folder / MEDIA_DIR)
                    prow = d.scalars(select(ProjectRow)).one()
                    prow.reveal_models = False
                    prow.settings = {"package": {"package_uid": package_uid,
                                                 "source_project_uid": source_uid,
                                                 "rater": rater.name}}
            finally:
                pkg.close()
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "stage": "outbound",
                "package_uid": package_uid,
                "project_uid": source_uid,
                "project_name": source_name,
                "rater": {"name": rater.name, "kind": rater.kind, "pseudonym": rater.pseudonym},
                "created_at": _now(),
                "outputs": {t: {"text_sha256": o.text_sha256}
                            for t, o in sorted(maps.outputs.items())},
                SECRET_KEY: secret,
            }

            def issue() -> None:
                with project.transaction() as w:
                    record_issue(w, uid=package_uid, rater_id=rater_id, secret=secret,
                                 outputs=maps.outputs, attachments=maps.attachments)

            manifest = _write_zip(folder, manifest, out, secret, before_publish=issue)
    return PackageInfo(out, manifest)


def _consistent_db_copy(db: Path, dest: Path) -> None:
    """SQLite online backup: includes WAL contents, safe while the app has the file open."""
    src = sqlite3.connect(db)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _write_zip(folder: Path, manifest: dict[str, Any], out: Path, secret: str, *,
               before_publish: Callable[[], None] | None = None) -> dict[str, Any]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".medreview-seal-", dir=out.parent) as tmp:
        db_copy = Path(tmp) / DB_NAME
        _consistent_db_copy(folder / DB_NAME, db_copy)
        members: list[tuple[str, Path]] = [(f"{ROOT}/{DB_NAME}", db_copy)]
        media = folder / MEDIA_DIR
        if media.is_dir():
            for p in sorted(media.rglob("*")):
                if p.is_file() and not p.name.startswith(".incoming-"):
                    rel = p.relative_to(folder).as_posix()
                    members.append((f"{ROOT}/{rel}", p))
        manifest = {k: v for k, v in manifest.items() if k != SEAL_KEY}
        manifest["files"] = {name: {"sha256": sha256_file(p), "size": p.stat().st_size}
                             for name, p in members}
        manifest = sealed(manifest, secret)
        partial = out.with_name(f".{out.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":"),
                                                ensure_ascii=False))
                for name, p in members:
                    z.write(p, name)
            if before_publish is not None:
                before_publish()
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def seal_package(folder: Path, out: Path) -> PackageInfo:
    """Write an unpacked, graded package folder back into a package file for merging."""
    folder = Path(folder)
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise PackageError("not an unpacked rater package (no manifest)", source=str(folder))
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise PackageError(f"unreadable package manifest: {exc}", source=str(mpath)) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"unknown package format (expected {FORMAT})", source=str(mpath))
    secret = manifest.get(SECRET_KEY)
    if not isinstance(secret, str) or not re.fullmatch(r"[0-9a-f]{64}", secret):
        raise PackageError("the package manifest has no seal key", source=str(mpath))
    manifest = {k: v for k, v in manifest.items() if k not in ("files", SEAL_KEY)}
    manifest["stage"] = "return"
    manifest["sealed_at"] = _now()
    return PackageInfo(Path(out), _write_zip(folder, manifest, Path(out), secret))


# --- reading -----------------------------------------------------------------------------


def read_manifest(file: Path) -> dict[str, Any]:
    """Open the zip and check its structure, caps and manifest (no member is read)."""
    with open_package_zip(Path(file)) as pz:
        return pz.manifest


def verify_package(file: Path) -> dict[str, Any]:
    """Full check (manifest, paths, caps, every checksum) writing nothing; the manifest.

    The seal is checked with the package's own key: that finds damage, not forgery (only
    the issuing project's key can tell that, see ``medreview.study.merge``).
    """
    with open_package_zip(Path(file)) as pz:
        if not seal_verifies(pz.manifest, pz.manifest[SECRET_KEY]):
            raise PackageError("the package seal does not verify (altered after sealing)",
                               source=str(file))
        pz.verify_all()
        return pz.manifest


def unpack_package(file: Path, dest: Path) -> Path:
    """Verify ``file`` and extract it into ``dest`` (new or empty); return the project folder.

    ``dest`` itself becomes the project folder (``open_project(dest)`` works) and also holds
    the manifest, which ``seal_package`` needs. Nothing is left behind if verification fails.
    """
    file, dest = Path(file), Path(dest)
    with open_package_zip(file) as pz:
        if not seal_verifies(pz.manifest, pz.manifest[SECRET_KEY]):
            raise PackageError("the package seal does not verify (altered after sealing)",
                               source=str(file))
        if dest.exists() and any(dest.iterdir()):
            raise PackageError("destination folder is not empty", source=str(dest))
        dest_root = dest.resolve()
        created = not dest.exists()
        dest.mkdir(parents=True, exist_ok=True)
        try:
            for name, _meta in pz.members():
                rel = safe_name(name, str(file)).relative_to(ROOT)
                target = (dest / rel).resolve()
                if dest_root not in target.parents:
                    raise PackageError("unsafe path in package", source=str(file), item=name)
                target.parent.mkdir(parents=True, exist_ok=True)
                pz.extract(name, target)
            (dest / MANIFEST).write_text(json.dumps(pz.manifest, indent=2, ensure_ascii=False),
                                         encoding="utf-8")
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            else:
                for child in dest.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            raise
    return dest
