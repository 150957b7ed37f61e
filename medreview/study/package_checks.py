"""Early, per-file answers about rater packages, for the screens that pick them.

A package file picked to merge is checked here before the merge (caps, structure, every
checksum, that it belongs to this project and, given the project's issue records, that the
project issued it and its seal verifies with the issued key). Merging checks all of it again
with the database (``study.merge``); these checks only let a screen say early, per file, what
is wrong. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medreview.errors import PackageError
from medreview.storage.judgments import workload
from medreview.storage.packages import IssuedPackage, issued_packages
from medreview.storage.project import Project, open_project
from medreview.study.merge import check_issued, one_line
from medreview.study.package import check_own_seal, read_folder_manifest, read_manifest
from medreview.study.package_zip import open_package_zip


@dataclass(frozen=True)
class PackageCheck:
    """A package file that passed verification, and what it holds."""

    file: Path
    rater: str
    project_name: str
    items: int
    stage: str  # "outbound" (as sent) | "return" (sealed after grading)


def _check_of(file: Path, m: dict[str, Any]) -> PackageCheck:
    return PackageCheck(Path(file), str(m["rater"].get("name", "")),
                        str(m.get("project_name", "")), len(m["outputs"]),
                        str(m.get("stage", "outbound")))


def read_package_info(file: Path) -> PackageCheck:
    """The manifest of a package (format and member list checked; contents not yet)."""
    return _check_of(file, read_manifest(file))


@dataclass(frozen=True)
class IssuedRecords:
    """The packages this project issued, for checking returned files off the database thread."""

    project_uid: str
    project_name: str
    by_uid: dict[str, IssuedPackage] = field(repr=False)


def issued_records(project: Project) -> IssuedRecords:
    issued = {p.uid: p for p in issued_packages(project)}
    return IssuedRecords(project.uid, project.name, issued)


def check_package(file: Path, project_uid: str,
                  issued: IssuedRecords | None = None) -> PackageCheck:
    """Verify caps, structure, every checksum and that the package belongs to this project
    (PackageError if not); with ``issued``, also that this project issued it to the rater it
    names and that its seal verifies with the issued key (else with its own key, which finds
    damage but not forgery)."""
    with open_package_zip(Path(file)) as pz:
        m = pz.manifest
        if m["project_uid"] != project_uid:
            raise PackageError(f"package belongs to another project "
                               f"({one_line(m.get('project_name', '?'))}, uid "
                               f"{one_line(m['project_uid'], 40)})", source=str(file))
        if issued is not None:
            check_issued(pz, issued.by_uid.get(str(m["package_uid"])), project_uid)
        else:
            check_own_seal(pz)
        pz.verify_all()
    return _check_of(file, m)


@dataclass(frozen=True)
class PackageFolderSummary:
    """An unpacked package as its rater sees it before returning it."""

    folder: Path
    rater: str
    project_name: str
    items: int
    done: int
    in_progress: int


def package_folder_summary(folder: Path) -> PackageFolderSummary:
    manifest = read_folder_manifest(folder)
    rater = manifest.get("rater")
    name = str(rater.get("name", "")) if isinstance(rater, dict) else ""
    pkg = open_project(Path(folder), upgrade=False)
    try:
        items, counts = workload(pkg)
    finally:
        pkg.close()
    return PackageFolderSummary(Path(folder), name, str(manifest.get("project_name", "")),
                                items, counts.get("done", 0), counts.get("draft", 0))
