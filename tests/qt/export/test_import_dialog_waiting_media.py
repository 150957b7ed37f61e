"""The app's import dialog says which media wait for their cases, and attaches them when the
cases are imported; the project info the app reads counts them."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pydicom.data

from medreview.services.bus import ChangeBus
from medreview.services.projects import Project, create_project, open_project, project_info
from medreview.services.tasks import DbExecutor


def test_media_first_then_cases_in_the_dialog(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.import_dialog import ImportDialog

    media = tmp_path / "media" / "q1"
    media.mkdir(parents=True)
    mr = Path(pydicom.data.__file__).parent / "test_files" / "MR_small.dcm"
    (media / "mr.dcm").write_bytes(mr.read_bytes())
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "q1", "prompt": "What does the MR show?"}) + "\n")

    make_app()
    create_project(tmp_path / "p", "waiting media").close()
    db = DbExecutor()
    project: Project = db.submit(open_project, tmp_path / "p").result()
    try:
        dlg = ImportDialog(project, db, ChangeBus())
        qtbot.addWidget(dlg)
        dlg.show()
        dlg.add_paths([tmp_path / "media"])
        with qtbot.waitSignal(dlg.sig_done, timeout=30000) as done:
            dlg.import_button.click()
        (line,) = done.args[0]
        assert "1 series waiting for their cases" in line and "1 files waiting" in line, line
        counts = db.submit(project_info, project).result().counts
        assert (counts["series_waiting_for_cases"], counts["attachments"]) == (1, 0)

        dlg.add_paths([cases])
        with qtbot.waitSignal(dlg.sig_done, timeout=30000) as done:
            dlg.import_button.click()
        last = done.args[0][-1]
        assert "cases.jsonl" in last and "1 attachments" in last, last
        counts = db.submit(project_info, project).result().counts
        assert (counts["series_waiting_for_cases"], counts["attachments"]) == (0, 1)
    finally:
        db.submit(project.close).result()
        db.shutdown()
