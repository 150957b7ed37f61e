"""A read-only project is browsed: nobody is asked "Who is grading?", grading keys change
nothing on disk (one plain line in the status bar says why, no dialogs), statistics and export
stay available."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from tests.qt.grading.helpers import chord, open_and_wait, press


def _disk(project: Path) -> dict[str, bytes]:
    """The database and its write-ahead log, byte for byte (SQLite may leave an empty log
    behind a read-only connection: that holds nothing)."""
    return {p.name: p.read_bytes() for p in sorted(project.glob("project.sqlite*"))
            if not p.name.endswith("-shm") and p.stat().st_size}


@pytest.fixture
def no_dialogs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every dialog the window tries to show, instead of showing it."""
    shown: list[str] = []

    def ask(_parent: Any, title: str, *_a: Any, **_k: Any) -> tuple[str, bool]:
        shown.append(title)
        return "Dr Intruder", True

    def box(_parent: Any, title: str, *_a: Any, **_k: Any) -> QMessageBox.StandardButton:
        shown.append(title)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QInputDialog, "getText", ask)
    for name in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, name, box)
    return shown


@pytest.fixture
def nobody_graded(project_path: Path) -> Path:
    """The sample project without its physician: opening it writable asks who is grading."""
    con = sqlite3.connect(project_path / "project.sqlite")
    with con:
        con.execute("DELETE FROM rater WHERE kind = 'physician'")
    con.close()
    return project_path


def _menu_action(w: Any, menu: str, text: str) -> Any:
    m = next(a.menu() for a in w.menuBar().actions() if a.text().replace("&", "") == menu)
    return next(a for a in m.actions() if a.text() == text)


def _press_grading_keys(qtbot: Any, w: Any) -> None:
    w.view.panel.setFocus()
    press(qtbot, "1y2f]")
    chord(qtbot, Qt.Key.Key_Return)  # save and next
    press(qtbot, "3s")  # answer, then skip
    chord(qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    qtbot.wait(800)  # past the autosave delay


def test_read_only_browses_as_a_viewer_and_saves_nothing(  # type: ignore[no-untyped-def]
    qtbot, make_window, nobody_graded: Path, monkeypatch: pytest.MonkeyPatch,
    no_dialogs: list[str]
) -> None:
    before = _disk(nobody_graded)
    monkeypatch.setenv("MEDREVIEW_READ_ONLY", "1")
    w = make_window()
    open_and_wait(qtbot, w, nobody_graded)
    assert no_dialogs == []  # no "Who is grading?"
    assert w.rater is not None and w.rater.name == "read-only viewer"
    assert [w.rater_box.itemText(i) for i in range(w.rater_box.count())] == ["read-only viewer"]
    assert len(w.queue.model.rows) == 6 and w.view.panel.widgets

    first = w.controller.item.output_id
    _press_grading_keys(qtbot, w)
    assert no_dialogs == []
    message = w.statusBar().currentMessage()
    assert message.startswith("Read-only project (opened read-only on request): grades cannot")
    assert "<" not in message  # one plain line
    c = w.controller
    assert not c.dirty and not c.saving and not c.draft.answers and not c.draft.flagged
    assert all(x.value() is None for x in w.view.panel.widgets)  # the widgets show it too
    assert w.view.panel.rationale.isReadOnly()
    assert c.item.output_id != first  # Enter and S still move through the queue
    assert _disk(nobody_graded) == before

    # Whatever writes is off; statistics and export are not.
    for menu, text in (("Project", "Import cases, answers, images…"),
                       ("Study", "Merge returned packages…"),
                       ("Analysis", "Run the LLM judge…")):
        assert not _menu_action(w, menu, text).isEnabled()
    assert _menu_action(w, "Project", "Export…").isEnabled()
    dash_act = _menu_action(w, "Analysis", "Agreement dashboard")
    assert dash_act.isEnabled()
    dash_act.trigger()
    dash = w.tool_windows["dashboard"]
    assert dash.isVisible()
    qtbot.waitUntil(lambda: dash.windowTitle().startswith("Statistics —"), timeout=30000)
    assert no_dialogs == []
    db_thread = w.executor
    w.close_to_welcome()
    db_thread.shutdown(wait=True)
    assert _disk(nobody_graded) == before


def test_read_only_with_a_rater_shows_their_grades_and_refuses_edits(  # type: ignore[no-untyped-def]
    qtbot, make_window, project_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_dialogs: list[str]
) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)  # writable first: grade one item for real
    w.view.panel.setFocus()
    press(qtbot, "1")
    qtbot.waitUntil(lambda: w.controller.revision_no == 1 and not w.controller.saving,
                    timeout=10000)
    graded = w.controller.item.output_id
    db_thread = w.executor
    w.close_to_welcome()
    db_thread.shutdown(wait=True)  # the close runs behind the last save on the project's thread
    before = _disk(project_path)

    monkeypatch.setenv("MEDREVIEW_READ_ONLY", "1")
    open_and_wait(qtbot, w, project_path)
    assert w.rater is not None and w.rater.name == "Dr Example"
    assert "＋ New rater…" not in [w.rater_box.itemText(i) for i in range(w.rater_box.count())]
    assert w.controller.item.output_id == graded and w.controller.draft.answers  # their grade
    saved = dict(w.controller.draft.answers)
    _press_grading_keys(qtbot, w)
    w.open_item(graded)
    qtbot.waitUntil(lambda: w.controller.item.output_id == graded, timeout=5000)
    assert w.controller.draft.answers == saved and w.controller.revision_no == 1
    assert "grades cannot be saved" in w.statusBar().currentMessage()
    assert no_dialogs == []
    w.reveal_act.trigger()  # revealing model names is for this screen only
    db_thread = w.executor
    w.close_to_welcome()
    db_thread.shutdown(wait=True)
    assert _disk(project_path) == before
