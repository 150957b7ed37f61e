"""Grading guidelines beside the grading panel: shown on G (and the toolbar button) without
taking the keys from grading, the version shown stored with each revision saved from the
grading screen (and in the audit), hostile Markdown rendered by the safe policy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.qt.cheatsheet import cheatsheet_html
from medreview.qt.form_editor.guideline_pane import NO_GUIDELINES, GuidelinePane
from medreview.services import form_editing
from medreview.services.form_editing import GuidelineView
from medreview.services.projects import open_project
from medreview.services.sample_project import build_sample_project
from medreview.storage.audit import judgment_history
from tests.qt.grading.helpers import focused, open_and_wait, press, wait_saved

HOSTILE = ("# Rules\n<img src=\"http://127.0.0.1:9/x.png\">\n![x](file:///etc/passwd)\n"
           "[click](http://127.0.0.1:9/)\n<span style='display:none'>hidden</span>\u200b\n")


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDREVIEW_HOME", str(tmp_path / "home"))


@pytest.fixture
def guided(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=2, outputs_per_case=2, with_dicom=False)
    key = form_editing.load_active(project, form_editing.FormKind.RUBRIC).form.key
    form_editing.save_guideline(project, key, "# Rules\nScore **harm** first.", "Dr Lead")
    project.close()
    return path, key


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt-state.ini"))
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.project is not None:
        w.close()


def _audit(path: Path) -> list[dict[str, object]]:
    project = open_project(path)
    try:
        return judgment_history(project)
    finally:
        project.close()


def test_g_shows_the_guidelines_and_each_save_records_the_version_shown(
        qtbot, window, guided) -> None:
    path, key = guided
    w = window
    open_and_wait(qtbot, w, path)
    pane = w.guidelines.pane
    qtbot.waitUntil(lambda: pane.version == 1, timeout=10000)
    assert not w.guidelines.isVisible()
    panel = w.view.panel
    assert focused() is panel
    press(qtbot, "g")
    assert w.guidelines.isVisible() and w.guidelines_act.isChecked()
    assert focused() is panel  # the keys stay with grading
    assert pane.version_label.text().startswith(f"Guidelines for {key}, version 1")
    assert "Score harm first." in pane.browser.toPlainText()
    assert pane.browser.refused == []
    # the window still fits a 1366x768 screen with the pane open
    assert w.minimumSizeHint().width() <= 1366
    press(qtbot, "4")
    wait_saved(qtbot, w)
    first = w.controller.item.output_id
    # The lead saves version 2 meanwhile; the next item shows (and records) it.
    w.executor.submit(form_editing.save_guideline, w.project, key, "# Rules\nv2", "Dr Lead") \
        .result()
    w.step_item(1)
    qtbot.waitUntil(lambda: w.controller.item.output_id != first and pane.version == 2,
                    timeout=10000)
    press(qtbot, "3")
    wait_saved(qtbot, w)
    press(qtbot, "g")
    assert not w.guidelines.isVisible()
    w.close()
    ui = [r for r in _audit(path) if r["source"] == "ui"]
    assert [r["guideline_version"] for r in ui] == [1, 2]


def test_the_key_and_the_menu_commands_are_in_the_cheat_sheet(qtbot, window) -> None:
    html = cheatsheet_html(window.menu_keys())
    assert "<b>G</b>" in html and "grading guidelines" in html
    study = next(a.menu() for a in window.menuBar().actions() if "Study" in a.text())
    texts = [a.text() for a in study.actions()]
    assert "Edit rubric and guidelines…" in texts and "Edit error taxonomy…" in texts


def test_hostile_guidelines_are_shown_literally_and_load_nothing(qtbot) -> None:
    import datetime as dt

    pane = GuidelinePane()
    qtbot.addWidget(pane)
    assert pane.browser.toPlainText() == NO_GUIDELINES and pane.version is None
    got: list[object] = []
    pane.sig_version.connect(got.append)
    pane.show_guideline("rub<b>ric", GuidelineView("rub<b>ric", 3, HOSTILE, "<i>lead</i>",
                                                   dt.datetime(2026, 12, 6, tzinfo=dt.UTC)))
    assert got == [3]
    shown = pane.browser.toPlainText()
    assert '<img src="http://127.0.0.1:9/x.png">' in shown
    assert "![x](file:///etc/passwd)" in shown and "[click](http://127.0.0.1:9/)" in shown
    assert "<span style='display:none'>hidden</span>" in shown and "⟦U+200B⟧" in shown
    assert pane.browser.refused == []
    html = pane.browser.toHtml()
    assert "<img" not in html and "href=" not in html and "display:none" not in html.replace(
        "&lt;span style='display:none'&gt;", "")
    assert pane.version_label.text() == ("Guidelines for rub<b>ric, version 3 "
                                         "(2026-12-06 by <i>lead</i>)")


def test_a_rubric_edit_from_the_menu_shows_the_new_version_on_the_grading_screen(
        qtbot, window, guided) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from medreview.qt.form_editor.dialog import FormEditorDialog

    path, _key = guided
    w = window
    open_and_wait(qtbot, w, path)
    press(qtbot, "4")
    wait_saved(qtbot, w)  # graded: the edit must become version 2
    assert w.controller.item.form.version == 1
    steps: list[str] = []

    def drive() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, FormEditorDialog) or not dlg.loaded:
            QTimer.singleShot(20, drive)
            return
        if not steps:
            steps.append("edit")
            dlg.question_list.setCurrentRow(0)
            dlg.editor.help_edit.setPlainText("Read the whole answer first.")
            dlg.save()
        if dlg.saving or dlg.last_saved is None:
            QTimer.singleShot(20, drive)
            return
        steps.append(f"saved v{dlg.last_saved.version}")
        dlg.reject()

    QTimer.singleShot(0, drive)
    w.show_form_editor("rubric")  # modal until drive() closes it
    assert steps == ["edit", "saved v2"]
    qtbot.waitUntil(lambda: w.controller.item.form.version == 2, timeout=10000)
    assert w.controller.item.form.questions[0].help == "Read the whole answer first."
    assert w.guidelines.pane.version == 1  # the guidelines belong to the key, not the version
    assert focused() is w.view.panel
