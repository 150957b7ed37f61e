"""The app's export dialog writes the same files as ``medreview export``, off the UI thread."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtWidgets import QMessageBox

from medreview.runtime.executors import DbExecutor
from medreview.services.projects import Project, open_project
from medreview.services.sample_project import build_sample_project
from medreview.services.study import set_gold


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=4, outputs_per_case=2, with_dicom=False)
    for oid in range(1, 9):
        set_gold(project, oid, "overall", 1 + oid % 5, rationale=f"gold {oid}",
                       adjudicator="Dr Lead")
    project.close()
    return path


@pytest.fixture
def dialog(qtbot, graded: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.export_dialog import ExportDialog

    make_app()
    db = DbExecutor()
    project: Project = db.submit(open_project, graded).result()
    dlg = ExportDialog(project, db, default_dir=tmp_path / "out")
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    db.submit(project.close).result()
    db.shutdown()


def test_exports_tables_and_training_files_in_the_background(qtbot, dialog, tmp_path):
    dialog.kind_boxes["sft"].setChecked(True)
    dialog.kind_boxes["dpo"].setChecked(True)
    dialog.fmt.setCurrentText("jsonl")
    with qtbot.waitSignal(dialog.sig_done, timeout=20000) as done:
        dialog.export_button.click()
        assert dialog.running and not dialog.export_button.isEnabled()
    out = tmp_path / "out"
    lines = done.args[0]
    assert any("judgments" in line for line in lines)
    assert (out / "judgments.jsonl").is_file() and (out / "gold_labels.jsonl").is_file()
    manifest = json.loads((out / "export_manifest.json").read_text())
    assert manifest["raters"].startswith("pseudonyms")
    sft = [json.loads(x) for split in ("train", "validation", "test")
           for x in (out / f"sft.{split}.jsonl").read_text().splitlines()]
    assert len(sft) == 8  # one record per output with a gold label
    assert all(r["messages"][-1]["role"] == "assistant" for r in sft)
    assert all("overall: gold " in json.loads(r["messages"][-1]["content"])["rationale"]
               for r in sft)
    assert dialog.results.count() == len(lines) and "Wrote" in dialog.message.text()
    # Pseudonyms, not names, unless the lead opts in.
    assert "Dr Lead" not in (out / "judgments.jsonl").read_text()


def test_bad_split_is_refused_and_nothing_is_written(qtbot, dialog, tmp_path):
    dialog.kind_boxes["sft"].setChecked(True)
    dialog.split.setText("0.8,0.3")
    dialog.export_button.click()
    assert "Not exported" in dialog.message.text() and "0.8,0.3" in dialog.message.text()
    assert not (tmp_path / "out").exists() and not dialog.running


def test_real_names_need_a_confirmation(qtbot, dialog, monkeypatch):
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: QMessageBox.StandardButton.No)
    dialog.real_names.setChecked(True)
    assert not dialog.real_names.isChecked()
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: QMessageBox.StandardButton.Yes)
    dialog.real_names.setChecked(True)
    assert dialog.real_names.isChecked() and dialog.request().real_names
