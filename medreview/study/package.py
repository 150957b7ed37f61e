"""Offline rater packages: one zip holding a small, valid project with one rater's items.

Layout of a package file (a zip)::

    medreview-package.json     manifest: format, project uid, rater, output map, file checksums
    project/project.sqlite     a medreview project: forms, the rater, assigned cases and
                               (blinded) outputs, the rater's own judgments — nothing else
    project/media/ab/cdef...   the media those cases need

``unpack_package`` verifies and extracts it into a folder that ``open_project`` opens; the
physician grades there; ``seal_package`` writes the folder back into a package file (new
checksums, ``stage = "return"``) for ``medreview merge``. Reading a package checks, before any
byte is written: the zip is complete, every member is in the manifest with the right size and
sha256, no member escapes the destination (no absolute paths, ``..``, drive letters or links).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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
from medreview.study.queries import rater_by_name

FORMAT = "medreview-package/1"
MANIFEST = "medreview-package.json"
ROOT = "project"
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20


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


def _map_annotations(annotations: list[Any], att_map: dict[int, int]) -> list[Any]:
    """Rewrite image-region attachment ids (they are database-local) through ``att_map``."""
    out = []
    for a in annotations:
        if isinstance(a, dict) and isinstance(a.get("region"), dict):
            region = dict(a["region"])
            old = region.get("attachment_id")
            if isinstance(old, int) and old in att_map:
                region["attachment_id"] = att_map[old]
            a = {**a, "region": region}
        out.append(a)
    return out


def _copy_content(src: Session, dst: Session, project: Project, rater: RaterRow,
                  media_root: Path) -> dict[str, Any]:
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
    output_map: dict[int, int] = {}
    for a in assignments:
        o = outputs[a.output_id]
        # Blinded: the model name is replaced by the label the rater sees; no metadata travels.
        no = OutputRow(case_id=case_map[o.case_id], external_id=None, model=a.blind_label,
                       text=o.text, text_sha256=o.text_sha256, meta={}, source="package")
        dst.add(no)
        dst.flush()
        output_map[o.id] = no.id
        dst.add(AssignmentRow(rater_id=new_rater.id, output_id=no.id, position=a.position,
                              blind_label=a.blind_label, seed=a.seed))
    for j in src.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == rater.id, JudgmentRow.output_id.in_(list(output_map)))):
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
                answers=r.answers, annotations=_map_annotations(list(r.annotations), att_map),
                rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
                time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
                status=r.status, author=r.author, source=r.source, created_at=r.created_at))
    dst.flush()
    texts = {o.id: o.text_sha256 for o in outputs.values()}
    return {
        # package output id -> source output id (+ text hash, checked again on merge)
        "outputs": {str(v): {"source_output_id": k, "text_sha256": texts[k]}
                    for k, v in output_map.items()},
        "attachments": {str(v): k for k, v in att_map.items()},
    }


def build_package(project: Project, rater_name: str, out: Path) -> PackageInfo:
    """Write ``out``: the rater's items, their media, the forms; no other rater's judgments."""
    out = Path(out)
    package_uid = uuid.uuid4().hex
    with project.read() as s:
        rater = rater_by_name(s, rater_name)
        if rater.kind != "physician":
            raise PackageError("packages are for physicians, not judges", item=rater_name)
        source = s.scalars(select(ProjectRow)).one()
        source_uid, source_name = source.uid, source.name
        with tempfile.TemporaryDirectory(prefix="medreview-pkg-") as tmp:
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
                **maps,
            }
            manifest = _write_zip(folder, manifest, out)
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


def _write_zip(folder: Path, manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="medreview-seal-") as tmp:
        db_copy = Path(tmp) / DB_NAME
        _consistent_db_copy(folder / DB_NAME, db_copy)
        members: list[tuple[str, Path]] = [(f"{ROOT}/{DB_NAME}", db_copy)]
        media = folder / MEDIA_DIR
        if media.is_dir():
            for p in sorted(media.rglob("*")):
                if p.is_file() and not p.name.startswith(".incoming-"):
                    rel = p.relative_to(folder).as_posix()
                    members.append((f"{ROOT}/{rel}", p))
        manifest = dict(manifest)
        manifest["files"] = {name: {"sha256": sha256_file(p), "size": p.stat().st_size}
                             for name, p in members}
        partial = out.with_name(f".{out.name}.partial")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
                for name, p in members:
                    z.write(p, name)
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
    except (OSError, ValueError) as exc:
        raise PackageError(f"unreadable package manifest: {exc}", source=str(mpath)) from exc
    manifest = {k: v for k, v in manifest.items() if k != "files"}
    manifest["stage"] = "return"
    manifest["sealed_at"] = _now()
    return PackageInfo(Path(out), _write_zip(folder, manifest, Path(out)))


# --- reading -----------------------------------------------------------------------------


def _safe_name(name: str, source: str) -> PurePosixPath:
    """A member name that stays inside the destination, or a PackageError."""
    if "\\" in name or "\x00" in name:
        raise PackageError("unsafe path in package", source=source, item=name)
    p = PurePosixPath(name)
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts) or (
            ":" in p.parts[0]):
        raise PackageError("unsafe path in package (would write outside the folder)",
                           source=source, item=name)
    return p


def read_manifest(file: Path) -> dict[str, Any]:
    """Open the zip and check its manifest and member list (no extraction)."""
    file = Path(file)
    src = str(file)
    if not file.is_file():
        raise PackageError("package file not found", source=src)
    try:
        with zipfile.ZipFile(file) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise PackageError("too many files in package", source=src)
            names = [i.filename for i in infos]
            for i in infos:
                _safe_name(i.filename, src)
                mode = (i.external_attr >> 16) & 0xFFFF
                if stat.S_ISLNK(mode):
                    raise PackageError("package contains a symbolic link", source=src,
                                       item=i.filename)
            if len(set(names)) != len(names):
                raise PackageError("package lists a file twice", source=src)
            if MANIFEST not in names:
                raise PackageError("not a medreview rater package (no manifest)", source=src)
            manifest = json.loads(z.read(MANIFEST).decode("utf-8"))
    except zipfile.BadZipFile as exc:
        raise PackageError(f"package is damaged or truncated ({exc})", source=src) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"package manifest is not valid JSON ({exc})", source=src) from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise PackageError(f"package cannot be read ({exc})", source=src) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"unknown package format (expected {FORMAT})", source=src)
    for key in ("package_uid", "project_uid", "rater", "outputs", "files"):
        if key not in manifest:
            raise PackageError(f"package manifest lacks {key!r}", source=src)
    files = manifest["files"]
    if not isinstance(files, dict):
        raise PackageError("package manifest 'files' is not a mapping", source=src)
    listed = set(files)
    present = set(names) - {MANIFEST}
    if present != listed:
        extra = sorted(present - listed)[:3]
        missing = sorted(listed - present)[:3]
        raise PackageError(
            f"package contents do not match its manifest (unlisted {extra}, missing {missing})",
            source=src)
    if f"{ROOT}/{DB_NAME}" not in listed:
        raise PackageError("package has no project database", source=src)
    for name in listed:
        if not name.startswith(f"{ROOT}/"):
            raise PackageError("unexpected file in package", source=src, item=name)
    return manifest


def unpack_package(file: Path, dest: Path) -> Path:
    """Verify ``file`` and extract it into ``dest`` (new or empty); return the project folder.

    ``dest`` itself becomes the project folder (``open_project(dest)`` works) and also holds
    the manifest, which ``seal_package`` needs. Nothing is left behind if verification fails.
    """
    file, dest = Path(file), Path(dest)
    manifest = read_manifest(file)
    if dest.exists() and any(dest.iterdir()):
        raise PackageError("destination folder is not empty", source=str(dest))
    dest_root = dest.resolve()
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(file) as z:
            for name, meta in sorted(manifest["files"].items()):
                rel = _safe_name(name, str(file)).relative_to(ROOT)
                target = (dest / rel).resolve()
                if dest_root not in target.parents:
                    raise PackageError("unsafe path in package", source=str(file), item=name)
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract_checked(z, name, target, meta, str(file))
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
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


def _extract_checked(z: zipfile.ZipFile, name: str, target: Path, meta: Any,
                     source: str) -> None:
    """Stream one member out, refusing it if size or sha256 differ from the manifest."""
    if not isinstance(meta, dict) or "sha256" not in meta or "size" not in meta:
        raise PackageError("manifest entry lacks sha256/size", source=source, item=name)
    expected_size = int(meta["size"])
    h = hashlib.sha256()
    size = 0
    try:
        with z.open(name) as src, open(target, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > expected_size:  # also stops a zip bomb early
                    raise PackageError("file is larger than the manifest says (tampered)",
                                       source=source, item=name)
                h.update(chunk)
                out.write(chunk)
    except zipfile.BadZipFile as exc:
        raise PackageError(f"package is damaged ({exc})", source=source, item=name) from exc
    except (EOFError, zlib_error()) as exc:
        raise PackageError(f"package is truncated ({exc})", source=source, item=name) from exc
    if size != expected_size or h.hexdigest() != meta["sha256"]:
        raise PackageError("checksum mismatch: the package was altered or damaged",
                           source=source, item=name)


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def verify_package(file: Path) -> dict[str, Any]:
    """Full check (manifest, paths, every checksum) without keeping anything; the manifest."""
    with tempfile.TemporaryDirectory(prefix="medreview-verify-") as tmp:
        unpack_package(file, Path(tmp) / "p")
        return read_manifest(file)
