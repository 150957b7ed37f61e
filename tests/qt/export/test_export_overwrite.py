"""The export dialog asks before writing into a folder that isn't empty, and says so in its own
words (a checkbox), never with a command-line flag."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.runtime.executors import DbExecutor
from medreview.services.projects import Project, open_project
from medreview.services.sample_project import build_sample_project

LABEL = "Replace files in a folder that isn't empty"


@pytest.fixture
def dialog(qtbot, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.export_dialog import ExportDialog

    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=2, outputs_per_case=2, with_dicom=False)
    project.close()
    make_app()
    db = DbExecutor()
    opened: Project = db.submit(open_project, path).result()
    dlg = ExportDialog(opened, db, default_dir=tmp_path / "out")
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    db.submit(opened.close).result()
    db.shutdown()


def _folder_in_use(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "judgments.csv").write_text("an old export")
    return out


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_folder_in_use_is_refused_naming_the_checkbox(qtbot, dialog, tmp_path):
    out = _folder_in_use(tmp_path)
    before = _contents(out)
    assert dialog.overwrite.text() == LABEL and not dialog.overwrite.isChecked()
    dialog.export_button.click()
    text = dialog.message.text()
    assert text.startswith("Not exported:") and "not empty" in text
    assert LABEL in text and "--overwrite" not in text
    assert not dialog.running and dialog.export_button.isEnabled()
    assert _contents(out) == before


def test_the_services_own_refusal_is_reworded_for_the_dialog(qtbot, dialog, tmp_path,
                                                             monkeypatch):
    """The folder fills up after the dialog looked: the export service refuses it."""
    import medreview.qt.export_dialog as export_dialog

    out = _folder_in_use(tmp_path)
    before = _contents(out)
    monkeypatch.setattr(export_dialog, "_non_empty_folder", lambda _p: False)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=20000)
    text = dialog.message.text()
    assert "not empty" in text and LABEL in text and "--overwrite" not in text
    assert _contents(out) == before


def test_ticking_the_checkbox_replaces_same_named_files_and_keeps_the_rest(qtbot, dialog,
                                                                          tmp_path):
    out = _folder_in_use(tmp_path)
    dialog.overwrite.setChecked(True)
    assert dialog.request().overwrite
    with qtbot.waitSignal(dialog.sig_done, timeout=20000):
        dialog.export_button.click()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "judgments.csv").read_text() != "an old export"  # the new table
    assert (out / "outputs.csv").is_file() and (out / "gold_labels.csv").is_file()
    assert "Wrote" in dialog.message.text()
