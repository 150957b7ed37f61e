"""The export dialog says why a training export came out empty, and what to do."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from medreview.runtime.executors import DbExecutor
from medreview.services.projects import Project, open_project
from medreview.services.sample_project import build_sample_project


def test_dialog_explains_an_empty_sft_export(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.export_dialog import ExportDialog

    project, _me = build_sample_project(tmp_path / "p", with_dicom=False)
    project.close()
    make_app()
    db = DbExecutor()
    opened: Project = db.submit(open_project, tmp_path / "p").result()
    try:
        dlg = ExportDialog(opened, db, default_dir=tmp_path / "out")
        qtbot.addWidget(dlg)
        dlg.show()
        for kind, box in dlg.kind_boxes.items():
            box.setChecked(kind == "sft")
        with qtbot.waitSignal(dlg.sig_done, timeout=20000):
            dlg.export_button.click()
        text = dlg.message.text()
        assert "sft: 0 records — no output has a gold label yet" in text
        assert "Study → Adjudicate" in text
        listed = [dlg.results.item(i).text() for i in range(dlg.results.count())]
        assert any(x.startswith("sft: 0 records") for x in listed)
    finally:
        db.submit(opened.close).result()
        db.shutdown()
