"""The app's import dialog: files in the background, one transaction each, clear failures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import DbExecutor
from medreview.services.projects import Project, create_project, open_project, project_info

DATA = Path(__file__).resolve().parents[2] / "importers" / "data"


@pytest.fixture
def dialog(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.import_dialog import ImportDialog

    make_app()
    create_project(tmp_path / "p", "import test").close()
    db = DbExecutor()
    project: Project = db.submit(open_project, tmp_path / "p").result()
    bus = ChangeBus()
    seen: list[object] = []
    bus.subscribe(lambda changes, _who: seen.append(changes))
    dlg = ImportDialog(project, db, bus)
    dlg.seen = seen  # type: ignore[attr-defined]
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    db.submit(project.close).result()
    db.shutdown()


def _info(dlg):  # type: ignore[no-untyped-def]
    return dlg.db.submit(project_info, dlg.project).result()


def test_imports_cases_and_a_rubric_then_reimport_adds_nothing(qtbot, dialog):
    dialog.add_paths([DATA / "cases.jsonl"])
    dialog.rubric.setCurrentIndex(dialog.rubric.findData("healthbench"))
    with qtbot.waitSignal(dialog.sig_done, timeout=20000) as done:
        dialog.import_button.click()
        assert dialog.running and dialog.cancel_button.isEnabled()
    lines = done.args[0]
    assert lines[0].startswith("rubric healthbench v")
    assert "cases.jsonl (jsonl): added" in lines[1] and "output" in lines[1]
    info = _info(dialog)
    assert info.counts["outputs"] == 3 and info.counts["cases"] == 3  # as `medreview import`
    assert dialog.seen  # the queue and other screens hear about it
    dialog.rubric.setCurrentIndex(0)
    with qtbot.waitSignal(dialog.sig_done, timeout=20000) as again:
        dialog.import_button.click()
    (line,) = again.args[0]
    assert line.startswith("cases.jsonl (jsonl): added nothing new; already there: 3 ")
    assert _info(dialog).counts["outputs"] == 3


def test_a_broken_line_names_file_and_line_and_saves_nothing_of_it(qtbot, dialog, tmp_path):
    good = tmp_path / "good.jsonl"
    shutil.copy(DATA / "cases.jsonl", good)
    broken = tmp_path / "broken.jsonl"
    lines = (DATA / "cases.jsonl").read_text().splitlines()
    broken.write_text("\n".join([lines[0].replace("case-001", "case-x"), '{"id": "oops", ',
                                 *lines[1:]]) + "\n")
    dialog.add_paths([broken, good])
    with qtbot.waitSignal(dialog.sig_done, timeout=20000) as done:
        dialog.import_button.click()
    first, second = done.args[0]
    assert first.startswith("broken.jsonl: NOT imported") and "line 2" in first
    assert second.startswith("good.jsonl (jsonl): added")
    assert _info(dialog).counts["outputs"] == 3  # only the good file's answers
