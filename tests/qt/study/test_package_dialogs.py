"""Package dialogs: export for raters, open and return on the rater's side, and the merge dialog
that merges a graded package and refuses foreign, tampered and truncated ones with the project
unchanged."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from medreview.errors import PackageError
from medreview.qt.study import merge_dialog
from medreview.qt.study.make_packages import MakePackagesDialog, package_name
from medreview.qt.study.merge_dialog import MERGED, READY, REFUSED, MergeDialog
from medreview.qt.study.package_files import OpenPackageDialog, ReturnPackageDialog
from medreview.services import study as svc
from medreview.services.projects import is_project
from medreview.storage.audit import judgment_history
from medreview.study.assign import AssignmentDesign
from tests.study.helpers import grade_package, study_project


def _history(opened) -> list[str]:  # type: ignore[no-untyped-def]
    rows = opened.call(judgment_history, opened.project)
    return [json.dumps([r["uid"], r["revision_no"], r["answers"]], sort_keys=True)
            for r in rows]


@pytest.fixture
def assigned(opened):  # type: ignore[no-untyped-def]
    opened.call(svc.assign, opened.project,
                AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=5))
    return opened


def _tamper(src: Path, dst: Path) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("project.sqlite"):
                data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            zout.writestr(info, data)
    return dst


def test_export_packages_for_the_chosen_raters(qtbot, app, assigned, tmp_path) -> None:
    dlg = MakePackagesDialog(None, assigned.project, assigned.db)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.raters.count() == 3, timeout=10000)
    assert dlg.chosen() == ["Dr A", "Dr B"]  # Dr Lead has nothing assigned
    dlg.folder.set_path(tmp_path / "out")
    qtbot.mouseClick(dlg.write_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dlg.results) == 2, timeout=20000)
    files = dlg.written()
    assert [f.name for f in files] == [package_name("Sample grading project", r)
                                       for r in ("Dr A", "Dr B")]
    uid, _ = assigned.call(svc.project_identity, assigned.project)
    infos = [svc.check_package(f, uid) for f in files]
    assert [(i.rater, i.items) for i in infos] == [("Dr A", 9), ("Dr B", 9)]
    assert "2 of 2 package(s) written" in dlg.status.text()


def test_open_grade_and_return_a_package(qtbot, app, assigned, tmp_path) -> None:
    pkg = assigned.call(svc.build_package, assigned.project, "Dr A", tmp_path / "dr-a.mrpkg").path
    # A truncated download is refused with a reason and leaves no folder behind.
    broken = tmp_path / "broken.mrpkg"
    broken.write_bytes(pkg.read_bytes()[:4000])
    bad = OpenPackageDialog(None, broken)
    qtbot.addWidget(bad)
    qtbot.waitUntil(lambda: "Cannot open" in bad.status.text(), timeout=10000)
    assert "damaged or truncated" in bad.status.text() and not bad.open_button.isEnabled()
    assert not (tmp_path / "broken").exists()

    dlg = OpenPackageDialog(None, pkg)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.info is not None, timeout=10000)
    assert "Dr A" in dlg.info_label.text() and "9 item(s)" in dlg.info_label.text()
    assert dlg.dest.path() == tmp_path / "dr-a"
    qtbot.mouseClick(dlg.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.folder is not None, timeout=20000)
    folder = dlg.folder
    assert folder == tmp_path / "dr-a" and is_project(folder)

    grade_package(pkg, folder, tmp_path / "unused.mrpkg", limit=3)  # the rater grades
    ret = ReturnPackageDialog(None, folder)
    qtbot.addWidget(ret)
    qtbot.waitUntil(lambda: "3 of 9 done" in ret.summary.text(), timeout=10000)
    assert "6 item(s) not finished" in ret.summary.text()
    ret.out.set_path(tmp_path / "dr-a-graded.mrpkg")
    qtbot.mouseClick(ret.write_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ret.written is not None, timeout=20000)
    uid, _ = assigned.call(svc.project_identity, assigned.project)
    assert svc.check_package(ret.written, uid).stage == "return"
    assert "Send this file" in ret.status.text()


def test_merge_dialog_merges_graded_and_refuses_bad_packages(qtbot, app, assigned,
                                                             tmp_path) -> None:
    pkg_a = assigned.call(svc.build_package, assigned.project, "Dr A", tmp_path / "a.mrpkg").path
    pkg_b = assigned.call(svc.build_package, assigned.project, "Dr B", tmp_path / "b.mrpkg").path
    graded = grade_package(pkg_a, tmp_path / "a", tmp_path / "a-graded.mrpkg", limit=4)
    graded_b = grade_package(pkg_b, tmp_path / "b", tmp_path / "b-graded.mrpkg", limit=2)
    tampered = _tamper(graded_b, tmp_path / "b-tampered.mrpkg")
    truncated = tmp_path / "a-truncated.mrpkg"
    truncated.write_bytes(graded.read_bytes()[: graded.stat().st_size // 3])
    other = study_project(tmp_path / "other", n_cases=2, dicom=False)
    svc.assign(other, AssignmentDesign(("Dr A",), seed=1))
    foreign = svc.build_package(other, "Dr A", tmp_path / "foreign.mrpkg").path
    other.close()
    before = _history(assigned)

    dlg = MergeDialog(assigned.project, assigned.db, assigned.bus)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.add_files([graded, tampered, truncated, foreign])
    qtbot.waitUntil(lambda: all(f.state in (READY, REFUSED) for f in dlg.files)
                    and len(dlg.files) == 4, timeout=20000)
    states = {f.path.name: (f.state, f.reason) for f in dlg.files}
    assert states["a-graded.mrpkg"][0] == READY
    assert states["b-tampered.mrpkg"][0] == REFUSED
    assert "checksum" in states["b-tampered.mrpkg"][1]
    assert "truncated" in states["a-truncated.mrpkg"][1]
    assert "another project" in states["foreign.mrpkg"][1]
    shown = [dlg.file_table.item(r, 3).text() for r in range(4)]
    assert sum(t.startswith("refused:") for t in shown) == 3
    assert _history(assigned) == before  # checking writes nothing

    qtbot.mouseClick(dlg.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=20000)
    (result,) = dlg.report.packages
    assert (result.rater, result.added, result.already_present) == ("Dr A", 4, 0)
    assert [dlg.result_table.item(0, c).text() for c in (1, 2, 3, 4)] == ["Dr A", "4", "0",
                                                                           "0"]
    assert next(f for f in dlg.files if f.path == graded).state == MERGED
    after = _history(assigned)
    assert len(after) == len(before) + 4
    qtbot.waitUntil(lambda: any(c.project for c in assigned.emitted), timeout=5000)

    # The same file again: every revision is already there; nothing new, nothing doubled.
    dlg2 = MergeDialog(assigned.project, assigned.db, assigned.bus)
    qtbot.addWidget(dlg2)
    dlg2.add_files([graded])
    qtbot.waitUntil(lambda: dlg2.merge_button.isEnabled(), timeout=20000)
    qtbot.mouseClick(dlg2.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg2.report is not None, timeout=20000)
    assert (dlg2.report.added, dlg2.report.packages[0].already_present) == (0, 4)
    assert _history(assigned) == after


def test_a_refusal_inside_the_merge_names_the_file_and_changes_nothing(
        qtbot, app, assigned, tmp_path, monkeypatch) -> None:
    pkg_a = assigned.call(svc.build_package, assigned.project, "Dr A", tmp_path / "a.mrpkg").path
    pkg_b = assigned.call(svc.build_package, assigned.project, "Dr B", tmp_path / "b.mrpkg").path
    graded_a = grade_package(pkg_a, tmp_path / "a", tmp_path / "a-graded.mrpkg", limit=2)
    graded_b = grade_package(pkg_b, tmp_path / "b", tmp_path / "b-graded.mrpkg", limit=2)
    before = _history(assigned)
    real_merge = svc.merge_packages

    def merge(project, files, progress):  # type: ignore[no-untyped-def]
        # The deeper check (inside the package database) refuses Dr B's file.
        if graded_b in files:
            raise PackageError("package must hold exactly its own rater (foreign or tampered)",
                               source=str(graded_b))
        return real_merge(project, files, progress)

    monkeypatch.setattr(merge_dialog.svc, "merge_packages", merge)
    dlg = MergeDialog(assigned.project, assigned.db, assigned.bus)
    qtbot.addWidget(dlg)
    dlg.add_files([graded_a, graded_b])
    qtbot.waitUntil(lambda: dlg.merge_button.isEnabled(), timeout=20000)
    qtbot.mouseClick(dlg.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Nothing was merged" in dlg.status.text(), timeout=20000)
    assert "b-graded.mrpkg was refused" in dlg.status.text()
    assert "Press Merge again" in dlg.status.text()
    assert dlg.report is None and _history(assigned) == before
    assert [f.state for f in dlg.files] == [READY, REFUSED]
    qtbot.mouseClick(dlg.merge_button, Qt.MouseButton.LeftButton)  # the others go in
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=20000)
    assert dlg.report.added == 2 and len(_history(assigned)) == len(before) + 2


def _forge(folder: Path, tmp: Path, sql: str, rater: str | None = None) -> Path:
    """A rater's own edit of their graded folder, re-sealed with their package's key."""
    import shutil
    import sqlite3

    forged = tmp / "forged"
    shutil.copytree(folder, forged)
    con = sqlite3.connect(forged / "project.sqlite")
    con.executescript(sql)
    con.commit()
    con.close()
    if rater:
        m = json.loads((forged / "medreview-package.json").read_text())
        m["rater"]["name"] = rater
        (forged / "medreview-package.json").write_text(json.dumps(m))
    return svc.seal_package(forged, tmp / "forged.mrpkg").path


def test_merge_dialog_names_forged_and_invalid_packages_in_one_line(
        qtbot, app, assigned, tmp_path) -> None:
    pkg_a = assigned.call(svc.build_package, assigned.project, "Dr A", tmp_path / "a.mrpkg").path
    grade_package(pkg_a, tmp_path / "a", tmp_path / "a-graded.mrpkg", limit=3)
    (tmp_path / "f1").mkdir()
    (tmp_path / "f2").mkdir()
    as_b = _forge(tmp_path / "a", tmp_path / "f1",
                  "UPDATE rater SET name='Dr B' WHERE name='Dr A';", rater="Dr B")
    bad_answer = _forge(tmp_path / "a", tmp_path / "f2",
                        "UPDATE judgment_revision SET answers = json_set(answers, '$.overall', 7)"
                        " WHERE id = (SELECT max(id) FROM judgment_revision);")
    before = _history(assigned)
    dlg = MergeDialog(assigned.project, assigned.db, assigned.bus)
    qtbot.addWidget(dlg)
    dlg.add_files([as_b, bad_answer])
    qtbot.waitUntil(lambda: all(f.state in (READY, REFUSED) for f in dlg.files), timeout=20000)
    forged = dlg.files[0]
    assert forged.state == REFUSED
    assert forged.reason == "package was issued to 'Dr A' but names 'Dr B'"
    assert dlg.file_table.item(0, 3).text() == f"refused: {forged.reason}"
    # The answer of 7 on a 1-5 scale is inside the database: the merge itself refuses it.
    assert dlg.files[1].state == READY
    qtbot.mouseClick(dlg.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Nothing was merged" in dlg.status.text(), timeout=20000)
    reason = dlg.files[1].reason
    assert dlg.files[1].state == REFUSED and "\n" not in reason
    assert reason.startswith("output ") and "question 'overall': 7 is not one of" in reason
    assert reason in dlg.status.text()
    assert _history(assigned) == before and dlg.report is None
