"""The export dialog offers Retain Safe Private for media, as ``--retain-safe-private`` does."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from medreview.services.projects import Project, open_project
from medreview.services.sample_project import build_sample_project
from medreview.services.tasks import DbExecutor


def test_safe_private_box_follows_media_and_reaches_the_request(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.export_dialog import ExportDialog

    project, _me = build_sample_project(tmp_path / "p", n_cases=1, outputs_per_case=1,
                                        with_dicom=False)
    project.close()
    make_app()
    db = DbExecutor()
    opened: Project = db.submit(open_project, tmp_path / "p").result()
    try:
        dlg = ExportDialog(opened, db, default_dir=tmp_path / "out")
        qtbot.addWidget(dlg)
        for box in dlg.kind_boxes.values():
            box.setChecked(False)
        assert not dlg.safe_private.isEnabled()
        dlg.kind_boxes["media"].setChecked(True)
        assert dlg.safe_private.isEnabled() and not dlg.safe_private.isChecked()
        assert dlg.request().retain_safe_private is False
        dlg.safe_private.setChecked(True)
        assert dlg.request().retain_safe_private is True
        assert "--retain-safe-private" in dlg.safe_private.text()
    finally:
        db.submit(opened.close).result()
        db.shutdown()
