"""A rater package opened for a merge: its hidden work folder inside the project, its zip's
checks, issue record and seal, and its database unpacked and opened (``study.merge`` and the
two-core merge, ``study.merge_pipeline``, both start here).

The package database is unpacked into a hidden folder inside the project (not the system temp
folder: it holds case text), removed when the merge ends; one left by a killed merge is removed
by the next.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from medreview.errors import PackageError, ProjectError
from medreview.processes import pid_alive
from medreview.storage.merging import MergeReference, active_schema_objects, read_outputs
from medreview.storage.packages import IssuedPackage, issued_package
from medreview.storage.project import DB_NAME, MEDIA_DIR, Project, open_project
from medreview.study.merge_revision import one_line
from medreview.study.package_zip import ROOT, PackageZip, open_package_zip
from medreview.study.seal import seal_verifies

WORK_PREFIX = ".medreview-merge-"


def _fail(reason: str, file: str, item: str | None = None) -> PackageError:
    return PackageError(reason, source=file, item=item)


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


def open_package(file: Path, project: Project, lead: MergeReference, work: Path, *,
                 reference: bool = True,
                 on_issued: Callable[[IssuedPackage], None] | None = None
                 ) -> tuple[IssuedPackage, Project]:
    """A package's checks up to its rows: its zip's checksums and manifest, the issue record
    and seal; its database unpacked into ``work`` and opened (the caller closes it). Adds the
    package's outputs to ``lead`` (``reference`` False: the caller does, later).
    ``on_issued``: called with the issue record once it and the seal are checked."""
    issued, folder = unpack_package(file, project, lead, work, reference=reference,
                                    on_issued=on_issued)
    return issued, open_unpacked(folder, str(file))


def unpack_package(file: Path, project: Project, lead: MergeReference, work: Path, *,
                   reference: bool = True,
                   on_issued: Callable[[IssuedPackage], None] | None = None
                   ) -> tuple[IssuedPackage, Path]:
    """``open_package`` but the opening: the folder its database was unpacked into."""
    src = str(file)
    with open_package_zip(file) as pz:
        folder = work / f"p{len(list(work.iterdir()))}"
        (folder / MEDIA_DIR).mkdir(parents=True)
        # Every checksum, and the database written, in a thread while the issue record and
        # the seal are checked here: inflating and hashing let go of the GIL. Its error is
        # raised only if those checks pass (they are what a refusal names first).
        unpacking = _Unpacking(pz, folder / DB_NAME)
        try:
            found = issued_package(project, str(pz.manifest["package_uid"]))
            issued = check_issued(pz, found, lead.uid)
            if on_issued is not None:
                on_issued(issued)
            if reference:  # the cases and criteria of the outputs issued in this package only
                read_outputs(project, lead, [o.output_id for o in issued.outputs.values()])
        finally:
            unpacking.join()
        unpacking.raise_error()
    _refuse_active_schema(folder / DB_NAME, src)
    return issued, folder


def open_unpacked(folder: Path, src: str) -> Project:
    """The unpacked package database opened (its schema upgraded if older, its integrity
    checked), or the refusal of package ``src``."""
    try:
        return open_project(folder, upgrade=True, read_only=False)
    except ProjectError as exc:
        raise _fail(f"package database cannot be opened: {exc.reason}", src) from exc


class _Unpacking(threading.Thread):
    """A package's members read through (every checksum), its database written to ``db``."""

    def __init__(self, pz: PackageZip, db: Path) -> None:
        super().__init__(name="medreview-unpack", daemon=True)
        self.pz, self.db = pz, db
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for name, _meta in self.pz.members():  # only the database is written
                if name == f"{ROOT}/{DB_NAME}":
                    self.pz.extract(name, self.db)
                else:
                    self.pz.stream(name)
        except BaseException as exc:  # raised in the caller's thread (raise_error)
            self.error = exc

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _refuse_active_schema(db: Path, src: str) -> None:
    """No views or triggers: a view posing as a table could make reading it run forever."""
    try:
        n = active_schema_objects(db)
    except ProjectError as exc:
        raise _fail(f"package database cannot be read: {exc.reason}", src) from exc
    if n:
        raise _fail("package database holds views or triggers (not made by medreview)", src)
