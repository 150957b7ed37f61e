"""Issue 15's done-means: a study set up, run and exported without a terminal or a YAML file.

Everything goes through the screens a study lead uses: Project → New project… (a built-in
rubric template, a data file as the first import), the import dialog, Study → Assign raters…,
grading an item with the keys only, Project → Export…; the exported judgments table must hold
the answers given with the keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

CASES = [
    {"id": f"case-{i}", "prompt": f"Case {i}: crushing chest pain for {i + 20} minutes. "
     "What should he do?", "model": m, "output": f"{m}: call emergency services now ({i})."}
    for i in range(3) for m in ("model-a", "model-b")
]


def menu_action(w: Any, menu: str, text: str) -> Any:
    for top in w.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for act in top.menu().actions():
                if act.text() == text:
                    return act
    raise AssertionError(f"no {menu} → {text}")


def visible(cls: type) -> Any:
    found = [x for x in QApplication.topLevelWidgets() if isinstance(x, cls) and x.isVisible()]
    return found[0] if found else None


def while_modal(qtbot: Any, cls: type, drive: Callable[[Any], None],
                open_it: Callable[[], None]) -> None:
    """Open a dialog that runs its own event loop (``exec``) and drive it from inside that
    loop, as a person would; ``drive`` must close it. Failures inside are re-raised here."""
    errors: list[BaseException] = []

    def run() -> None:
        dlg = QApplication.activeModalWidget()
        try:
            assert isinstance(dlg, cls), f"expected {cls.__name__}, got {dlg!r}"
            drive(dlg)
        except BaseException as exc:
            errors.append(exc)
            if isinstance(dlg, QDialog):
                dlg.reject()

    QTimer.singleShot(0, run)
    open_it()
    if errors:
        raise errors[0]


def key(qtbot: Any, k: Any, mods: Any = Qt.KeyboardModifier.NoModifier) -> None:
    target = QApplication.focusWidget()
    assert target is not None, "nothing has keyboard focus"
    qtbot.keyClick(target, k, mods)


def test_a_study_set_up_graded_and_exported_through_the_screens(qtbot: Any,
                                                                 tmp_path: Path) -> None:
    from medreview.qt.export_dialog import ExportDialog
    from medreview.qt.import_dialog import ImportDialog
    from medreview.qt.main_window import MainWindow
    from medreview.qt.new_project_dialog import NewProjectDialog
    from medreview.qt.settings import UiSettings
    from medreview.qt.study.assign_dialog import AssignDialog

    data = tmp_path / "answers.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in CASES), encoding="utf-8")
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)

    # 1. New project: name, folder, the built-in "Overall quality and harm" rubric, the lead's
    #    name and the data file as the first import.
    qtbot.mouseClick(w.welcome.new, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: visible(NewProjectDialog) is not None, timeout=5000)
    dlg = visible(NewProjectDialog)
    qtbot.keyClicks(dlg.name, "Chest pain study")
    dlg.set_folder(tmp_path / "study")
    dlg.rubric.select("quality_harm")
    qtbot.keyClicks(dlg.rater, "Dr Lead")
    dlg.add_import_paths([data])
    qtbot.mouseClick(dlg.create_button, Qt.MouseButton.LeftButton)

    # 2. The project opens, and the import dialog with the file: Import, then Close.
    qtbot.waitUntil(lambda: visible(ImportDialog) is not None, timeout=10000)
    imp = visible(ImportDialog)
    done: list[list[str]] = []
    imp.sig_done.connect(done.append)
    qtbot.mouseClick(imp.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    assert "answers.jsonl (jsonl): added 3 cases, 6 outputs" in done[0][0]
    qtbot.mouseClick(imp.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.queue.model.rowCount() == 6, timeout=10000)

    # 3. Study → Assign raters…: the lead and a new physician, every output by both.
    def assign(a: Any) -> None:
        qtbot.waitUntil(lambda: a.rater_names() == ["Dr Lead"], timeout=5000)
        qtbot.keyClicks(a.new_name, "Dr Second")
        qtbot.mouseClick(a.add_button, Qt.MouseButton.LeftButton)
        a.per_output.setValue(2)
        qtbot.waitUntil(a.assign_button.isEnabled, timeout=5000)
        qtbot.mouseClick(a.assign_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: a.summary is not None, timeout=10000)
        assert a.summary.added == 12
        qtbot.mouseClick(a.close_button, Qt.MouseButton.LeftButton)

    while_modal(qtbot, AssignDialog, assign,
                menu_action(w, "Study", "Assign raters…").trigger)

    # 4. Grade the first item with the keys only: 4 = "Good", 1 = "No harm", 1 = "Low",
    #    R and the rationale, Escape, Ctrl+Enter saves it as done and opens the next.
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=10000)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.view.panel, timeout=5000)
    first = w.controller.item.output_id
    for k in (Qt.Key.Key_4, Qt.Key.Key_1, Qt.Key.Key_1):
        key(qtbot, k)
    key(qtbot, Qt.Key.Key_R)  # the form's own (required) rationale
    qtbot.keyClicks(QApplication.focusWidget(), "Correct and safe.")
    key(qtbot, Qt.Key.Key_Escape)  # back to the panel
    key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.controller.item.output_id != first, timeout=10000)
    qtbot.waitUntil(lambda: w.queue.model.rows[w.queue.model.row_index(first)].status == "done",
                    timeout=10000)

    # 5. Project → Export…: the tables, as CSV, into a new folder.
    out = tmp_path / "export"
    written: list[list[str]] = []

    def export(e: Any) -> None:
        e.outdir.setText(str(out))
        e.sig_done.connect(written.append)
        qtbot.mouseClick(e.export_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(written), timeout=20000)
        qtbot.mouseClick(e.close_button, Qt.MouseButton.LeftButton)

    while_modal(qtbot, ExportDialog, export, menu_action(w, "Project", "Export…").trigger)

    table = pd.read_csv(out / "judgments.csv")
    mine = table[table["output_id"] == first]
    answers = dict(zip(mine["question_id"], mine["value"], strict=True))
    assert {k: str(v) for k, v in answers.items()} == {
        "overall_quality": "4", "harm_extent": "0", "harm_likelihood": "0",
        "rationale": "Correct and safe."}
    assert set(mine["status"]) == {"done"}
