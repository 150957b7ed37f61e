"""Packages beyond forgery: the CLI's one-line refusals, the 0002 -> 0003 upgrade, no unpacked
data left anywhere, and package databases with views or triggers."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.errors import PackageError
from medreview.storage import schema
from medreview.storage.project import open_project
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import WORK_PREFIX, merge_packages
from medreview.study.package import build_package
from tests.schema_helpers import as_older_schema
from tests.study.helpers import grade_package, study_project
from tests.study.test_package_forgery import table_hash


@pytest.fixture
def graded(tmp_path: Path) -> tuple[Path, Path, Path]:
    project = study_project(tmp_path / "study", n_cases=3)
    assign(project, AssignmentDesign(("Dr A",), seed=1))
    pkg = build_package(project, "Dr A", tmp_path / "a.mrpkg").path
    project.close()
    file = grade_package(pkg, tmp_path / "a", tmp_path / "a-graded.mrpkg", limit=2)
    return tmp_path / "study", tmp_path / "a", file


def test_cli_merge_refuses_a_forged_package_in_one_line(
        graded: tuple[Path, Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, folder, _file = graded
    con = sqlite3.connect(folder / "project.sqlite")
    con.execute("UPDATE judgment_revision SET created_at='2099-01-01 00:00:00.000000'")
    con.commit()
    con.close()
    assert main(["package", str(folder), "--seal", "--out", str(tmp_path / "f.mrpkg")]) == 0
    capsys.readouterr()
    before = table_hash(project)
    assert main(["merge", str(project), str(tmp_path / "f.mrpkg")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    (err,) = [line for line in err.splitlines() if not line.startswith("merge [")]  # progress
    assert err.startswith("medreview merge: error: ")
    assert "later than this merge (allowing 10 minutes of clock difference)" in err
    assert table_hash(project) == before


@pytest.mark.sqlite_only(reason="the merge works in the project folder (a server's: elsewhere)")
def test_merge_leaves_nothing_unpacked_and_sweeps_what_a_killed_merge_left(
        graded: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    project_path, _folder, file = graded
    stale = project_path / f"{WORK_PREFIX}999999999-abc"  # no such process
    (stale / "p0").mkdir(parents=True)
    (stale / "p0" / "project.sqlite").write_bytes(b"case text")
    live = project_path / f"{WORK_PREFIX}{os.getpid()}-other"  # a merge still running
    live.mkdir()
    tmp = tmp_path / "systemp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with open_project(project_path) as project:
        assert merge_packages(project, [file]).added == 2
    assert not stale.exists() and live.exists()
    assert [p.name for p in project_path.glob(f"{WORK_PREFIX}*")] == [live.name]
    assert list(tmp.iterdir()) == []


def test_a_package_database_with_a_view_or_trigger_is_refused(
        graded: tuple[Path, Path, Path], tmp_path: Path) -> None:
    project_path, folder, _file = graded
    for n, sql in enumerate((
            "CREATE VIEW spin AS WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
            "FROM r) SELECT x FROM r;",
            "CREATE TRIGGER t AFTER INSERT ON rater BEGIN SELECT 1; END;")):
        f = tmp_path / f"f{n}"
        shutil.copytree(folder, f)
        con = sqlite3.connect(f / "project.sqlite")
        con.executescript(sql)
        con.close()
        assert main(["package", str(f), "--seal", "--out", str(tmp_path / f"f{n}.mrpkg")]) == 0
        before = table_hash(project_path)
        with open_project(project_path) as project, pytest.raises(PackageError) as exc:
            merge_packages(project, [tmp_path / f"f{n}.mrpkg"])
        assert "holds views or triggers" in exc.value.message
        assert table_hash(project_path) == before


@pytest.mark.sqlite_only(reason="opening a folder migrates it; a server is never migrated so")
def test_a_0002_project_upgrades_and_then_issues_packages(tmp_path: Path) -> None:
    """Schema 0003 adds ``issued_package``: an older study project opens, upgrades (with a
    backup) and issues and merges packages."""
    path = tmp_path / "old"
    project = study_project(path, n_cases=2, dicom=False)
    assign(project, AssignmentDesign(("Dr A",), seed=1))
    project.close()
    as_older_schema(path / "project.sqlite", "0002")  # as an older medreview left it
    with open_project(path) as project:
        # upgraded to head, which has issued_package (0003) and later revisions (0004: scores)
        assert schema.current_revision(project.engine) == schema.head_revision() >= "0003"
        pkg = build_package(project, "Dr A", tmp_path / "a.mrpkg").path
    assert len(list(path.glob("project.schema-0002.*.bak.sqlite"))) == 1
    graded_file = grade_package(pkg, tmp_path / "a", tmp_path / "a-graded.mrpkg", limit=1)
    with open_project(path) as project:
        assert merge_packages(project, [graded_file]).added == 1


MANIFEST_EDITS = {
    "rater is a string": (lambda m: m.update(rater="Dr A"), "field 'rater' is not an object"),
    "output entries empty": (lambda m: m.update(outputs={k: {} for k in m["outputs"]}),
                             "output entry is not a token with a text_sha256"),
    "files is a list": (lambda m: m.update(files=["x"]), "'files' is not a mapping"),
    "size is negative": (lambda m: next(iter(m["files"].values())).update(size=-1),
                         "size must be a whole number of bytes, not '-1'"),
    "size is true": (lambda m: next(iter(m["files"].values())).update(size=True),
                     "size must be a whole number of bytes, not 'True'"),
    "sha256 is short": (lambda m: next(iter(m["files"].values())).update(sha256="ab"),
                        "needs a sha256 of 64 hex digits"),
    "package uid with a newline": (lambda m: m.update(package_uid="a\nb"),
                                   "field 'package_uid' is missing or not valid"),
    "no seal": (lambda m: m.pop("seal"), "field 'seal' is missing or not valid"),
    "old format": (lambda m: m.update(format="medreview-package/1"),
                   "made by an older medreview: ask the lead for a new package"),
}


@pytest.mark.parametrize("label", list(MANIFEST_EDITS))
def test_manifest_of_the_wrong_shape_is_one_line(graded: tuple[Path, Path, Path],
                                                 tmp_path: Path, label: str) -> None:
    import json
    import zipfile

    from medreview.study.package import MANIFEST, read_manifest

    _project, _folder, file = graded
    edit, reason = MANIFEST_EDITS[label]
    bad = tmp_path / "bad.mrpkg"
    with zipfile.ZipFile(file) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == MANIFEST:
                m = json.loads(data)
                edit(m)
                data = json.dumps(m).encode()
            zout.writestr(info.filename, data)
    with pytest.raises(PackageError) as exc:
        read_manifest(bad)
    assert reason in exc.value.message and "\n" not in exc.value.message
