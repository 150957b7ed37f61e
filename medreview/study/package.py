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
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medreview.errors import PackageError
from medreview.storage.assignments import find_rater
from medreview.storage.media import sha256_file
from medreview.storage.packages import consistent_db_copy, record_issue, write_package_database
from medreview.storage.project import DB_NAME, MEDIA_DIR, Project
from medreview.study.package_zip import (
    FORMAT,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    ROOT,
    PackageZip,
    open_package_zip,
    safe_name,
)
from medreview.study.seal import (
    SEAL_KEY,
    SECRET_KEY,
    new_secret,
    new_token,
    seal_verifies,
    sealed,
)

__all__ = ["FORMAT", "MANIFEST", "ROOT", "PackageInfo", "build_package", "check_own_seal",
           "read_folder_manifest", "read_manifest", "seal_package", "unpack_package",
           "verify_package"]


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


def build_package(project: Project, rater_name: str, out: Path) -> PackageInfo:
    """Write ``out``: the rater's items, their media, the forms; no other rater's judgments.

    The project records the package (uid, rater, token -> output map, seal key) in the same
    step; ``merge`` accepts nothing it did not issue.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    package_uid = uuid.uuid4().hex
    secret = new_secret()
    rater = find_rater(project, rater_name)
    if rater.kind != "physician":
        raise PackageError("packages are for physicians, not judges", item=rater_name)
    source_uid, source_name = project.uid, project.name
    # Built beside the output, not in the system temp folder: it holds case text and media.
    with tempfile.TemporaryDirectory(prefix=".medreview-pkg-", dir=out.parent) as tmp:
        folder = Path(tmp) / ROOT
        maps = write_package_database(
            project, rater.id, folder, name=f"{source_name} — {rater.pseudonym}",
            settings={"package": {"package_uid": package_uid, "source_project_uid": source_uid,
                                  "rater": rater.name}},
            new_token=new_token)
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
            record_issue(project, uid=package_uid, rater_id=rater.id, secret=secret,
                         outputs=maps.outputs, attachments=maps.attachments)

        manifest = _write_zip(folder, manifest, out, secret, before_publish=issue)
    return PackageInfo(out, manifest)


def _write_zip(folder: Path, manifest: dict[str, Any], out: Path, secret: str, *,
               before_publish: Callable[[], None] | None = None) -> dict[str, Any]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".medreview-seal-", dir=out.parent) as tmp:
        db_copy = Path(tmp) / DB_NAME
        consistent_db_copy(folder / DB_NAME, db_copy)
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
    manifest = read_folder_manifest(folder)
    if manifest.get("format") != FORMAT:
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


def read_folder_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an unpacked package folder (a mapping; its size capped like a zip's)."""
    mpath = Path(folder) / MANIFEST
    if not mpath.is_file():
        raise PackageError("not an unpacked rater package (no manifest)", source=str(folder))
    try:
        if mpath.stat().st_size > MAX_MANIFEST_BYTES:
            raise PackageError(f"package manifest is larger than {MAX_MANIFEST_BYTES >> 20} MB",
                               source=str(mpath))
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise PackageError(f"unreadable package manifest: {exc}", source=str(mpath)) from exc
    if not isinstance(manifest, dict):
        raise PackageError("unreadable package manifest (not a mapping)", source=str(mpath))
    return manifest


def check_own_seal(pz: PackageZip) -> None:
    """The seal checked with the package's own key: that finds damage, not forgery (only the
    issuing project's key can tell that, see ``medreview.study.merge``)."""
    if not seal_verifies(pz.manifest, pz.manifest[SECRET_KEY]):
        raise PackageError("the package seal does not verify (altered after sealing)",
                           source=pz.source)


def verify_package(file: Path) -> dict[str, Any]:
    """Full check (manifest, paths, caps, every checksum, the seal with its own key) writing
    nothing; the manifest."""
    with open_package_zip(Path(file)) as pz:
        check_own_seal(pz)
        pz.verify_all()
        return pz.manifest


def unpack_package(file: Path, dest: Path) -> Path:
    """Verify ``file`` and extract it into ``dest`` (new or empty); return the project folder.

    ``dest`` itself becomes the project folder (``open_project(dest)`` works) and also holds
    the manifest, which ``seal_package`` needs. Nothing is left behind if verification fails.
    """
    file, dest = Path(file), Path(dest)
    with open_package_zip(file) as pz:
        check_own_seal(pz)
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
