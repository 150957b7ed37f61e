"""Project → New project…: one-line reasons under each field (the rubric file with the loader's
own message), Create only when all are right, the project opens afterwards; the start page;
and the assign dialog saying how to add a rubric to a project that has none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from medreview.errors import MedreviewError
from medreview.rubrics.load import load_form

DATA = Path(__file__).resolve().parents[2] / "importers" / "data"


@pytest.fixture
def window(qtbot: Any, tmp_path: Path) -> Any:
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def menu_action(w: Any, menu: str, text: str) -> Any:
    for top in w.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for act in top.menu().actions():
                if act.text() == text:
                    return act
    raise AssertionError(f"no {menu} → {text}")


def new_dialog(qtbot: Any, w: Any) -> Any:
    from medreview.qt.new_project_dialog import NewProjectDialog

    act = menu_action(w, "Project", "New project…")
    assert act.isEnabled() and act.shortcut().toString() == "Ctrl+N"
    act.trigger()
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), NewProjectDialog)
                    or any(isinstance(x, NewProjectDialog) and x.isVisible()
                           for x in QApplication.topLevelWidgets()), timeout=5000)
    return next(x for x in QApplication.topLevelWidgets()
                if isinstance(x, NewProjectDialog) and x.isVisible())


def test_each_field_says_what_is_wrong_in_one_line(qtbot: Any, window: Any,
                                                    tmp_path: Path) -> None:
    dlg = new_dialog(qtbot, window)
    assert dlg.rubric.form is not None and dlg.rubric.form.key == "quality_harm"
    assert not dlg.create_button.isEnabled()  # nothing typed yet, and no error shown yet
    assert not dlg.name_problem.isVisible()
    qtbot.keyClicks(dlg.name, "Chest pain")
    assert dlg.folder.text().endswith("chest-pain")  # the folder follows the name
    dlg.name.clear()
    assert dlg.name_problem.text() == "give the project a name"
    qtbot.keyClicks(dlg.name, "Chest pain")
    full = tmp_path / "full"
    full.mkdir()
    (full / "old.csv").write_text("x")
    dlg.set_folder(full)
    assert dlg.folder_problem.isVisible()
    assert dlg.folder_problem.text() == (f"{full}: the folder is not empty: choose a new or "
                                         "an empty folder")
    dlg.set_folder(tmp_path / "study")
    assert not dlg.folder_problem.isVisible()

    bad = tmp_path / "mine.yaml"
    bad.write_text("format: medreview-form/1\nkey: mine\nversion: 1\nname: Mine\n"
                   "kind: rubric\nquestions:\n  - id: q\n    type: nonsense\n    prompt: Q\n",
                   encoding="utf-8")
    with pytest.raises(MedreviewError) as loader:
        load_form(bad)
    dlg.rubric.select(str(bad))
    assert dlg.rubric.problem.isVisible() and dlg.rubric.problem.text() == loader.value.message
    assert len(dlg.rubric.problem.text().splitlines()) == 1
    dlg.taxonomy.select("quality_harm")
    assert "this is a rubric" in dlg.taxonomy.problem.text()
    dlg.rater.setText("Dr Lead")
    assert not dlg.create_button.isEnabled()
    dlg.rubric.select("healthbench")
    dlg.taxonomy.select("medval_errors")
    assert dlg.problems() == dict.fromkeys(("name", "folder", "rubric", "taxonomy", "rater"), "")
    assert dlg.create_button.isEnabled()
    assert "criteria" in dlg.rubric.about.text()  # the template's description is shown
    dlg.reject()


def test_create_opens_the_project_then_the_import_dialog(qtbot: Any, window: Any,
                                                         tmp_path: Path) -> None:
    from medreview.qt.import_dialog import ImportDialog
    from medreview.services import projects

    dlg = new_dialog(qtbot, window)
    qtbot.keyClicks(dlg.name, "Chest pain")
    dlg.set_folder(tmp_path / "study")
    dlg.taxonomy.select("medval_errors")
    qtbot.keyClicks(dlg.rater, "Dr Lead")
    dlg.add_import_paths([DATA / "cases.jsonl"])
    qtbot.mouseClick(dlg.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.project is not None and window.rater is not None,
                    timeout=10000)
    assert Path(window.project.path) == tmp_path / "study"
    assert window.rater.name == "Dr Lead" and window.windowTitle() == "medreview — study"
    qtbot.waitUntil(lambda: any(isinstance(x, ImportDialog) and x.isVisible()
                                for x in QApplication.topLevelWidgets()), timeout=5000)
    imports = [x for x in QApplication.topLevelWidgets()
               if isinstance(x, ImportDialog) and x.isVisible()]
    assert imports[0].paths() == [DATA / "cases.jsonl"]
    imports[0].reject()
    info = window.executor.submit(projects.project_info, window.project).result()
    assert info.name == "Chest pain"
    assert {f["key"] for f in info.forms} == {"quality_harm", "medval_errors"}


def test_a_folder_filled_meanwhile_is_refused_and_nothing_created(qtbot: Any, window: Any,
                                                                  tmp_path: Path) -> None:
    dlg = new_dialog(qtbot, window)
    qtbot.keyClicks(dlg.name, "P")
    dlg.set_folder(tmp_path / "late")
    qtbot.keyClicks(dlg.rater, "Dr Lead")
    assert dlg.create_button.isEnabled()
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "someone-elses.txt").write_text("x")
    dlg.start()
    assert not dlg.running and window.project is None
    assert "not empty" in dlg.folder_problem.text()
    assert sorted(p.name for p in (tmp_path / "late").iterdir()) == ["someone-elses.txt"]
    dlg.reject()


def test_the_start_page_offers_new_open_and_the_demo(qtbot: Any, window: Any) -> None:
    from medreview.paths import demo_project_dir
    from medreview.qt.welcome import INTRO

    page = window.welcome
    assert "medreview demo" not in INTRO and "<code>" not in INTRO
    for button in (page.new, page.browse, page.package, page.demo):
        assert button.isVisible()
    qtbot.mouseClick(page.demo, Qt.MouseButton.LeftButton)  # built on first use
    qtbot.waitUntil(lambda: window.controller is not None and window.controller.item is not None,
                    timeout=90000)  # two judge versions are simulated too
    assert Path(window.project.path) == demo_project_dir()


def test_assign_on_a_project_without_rubric_says_how_to_add_one(qtbot: Any, window: Any,
                                                                 tmp_path: Path) -> None:
    from medreview.qt.study.assign_dialog import AssignDialog
    from medreview.services import importing, projects
    from medreview.services.projects import create_project

    path = tmp_path / "bare"
    project = create_project(path, "bare")
    cases = tmp_path / "c.jsonl"
    cases.write_text(json.dumps({"id": "c1", "prompt": "Q?", "model": "m", "output": "A."}) + "\n")
    importing.import_file(project, cases)
    rater = projects.add_rater(project, "Dr Lead")
    project.close()
    window.open_project(path, rater_id=rater.id)
    qtbot.waitUntil(lambda: window.project is not None and window.rater is not None,
                    timeout=10000)
    seen: dict[str, str] = {}

    def inspect() -> None:
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, AssignDialog)
        try:
            qtbot.waitUntil(lambda: "needs a rubric" in dlg.note.text(), timeout=5000)
            seen["note"] = dlg.note.text()
            seen["assign"] = str(dlg.assign_button.isEnabled())
        finally:
            dlg.reject()

    QTimer.singleShot(0, inspect)
    menu_action(window, "Study", "Assign raters…").trigger()
    assert seen["assign"] == "False"
    assert seen["note"].startswith(f"{path}: assigning raters needs a rubric and this project "
                                   "has none: add one in the app with Study → Edit rubric "
                                   "and guidelines…")
    assert len(seen["note"].splitlines()) == 1


def test_the_rubric_editor_can_follow_then_the_import(qtbot: Any, window: Any,
                                                      tmp_path: Path) -> None:
    from medreview.qt.form_editor.dialog import FormEditorDialog
    from medreview.qt.import_dialog import ImportDialog

    dlg = new_dialog(qtbot, window)
    qtbot.keyClicks(dlg.name, "Edited")
    dlg.set_folder(tmp_path / "edited")
    qtbot.keyClicks(dlg.rater, "Dr Lead")
    dlg.add_import_paths([DATA / "cases.jsonl"])
    dlg.edit_after.setChecked(True)
    seen: list[str] = []

    def close_editor() -> None:
        editor = QApplication.activeModalWidget()
        if not isinstance(editor, FormEditorDialog) or editor.snapshot is None:
            QTimer.singleShot(50, close_editor)  # not open, or not loaded yet
            return
        seen.append(str(editor.data.get("key")))
        assert not editor.dirty
        editor.done(QDialog.DialogCode.Rejected)

    QTimer.singleShot(50, close_editor)
    qtbot.mouseClick(dlg.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(isinstance(x, ImportDialog) and x.isVisible()
                                for x in QApplication.topLevelWidgets()), timeout=15000)
    assert seen == ["quality_harm"]  # the editor came first, on the new project's rubric
    assert Path(window.project.path) == tmp_path / "edited"
    next(x for x in QApplication.topLevelWidgets()
         if isinstance(x, ImportDialog) and x.isVisible()).reject()
