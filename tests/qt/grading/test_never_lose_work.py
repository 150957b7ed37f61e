"""Autosave, close and reopen mid-item, undo and history: nothing shown as saved is lost."""

from __future__ import annotations

from PySide6.QtCore import Qt

from medreview.services import grading
from medreview.services.projects import list_raters, open_project
from tests.qt.grading.helpers import chord, open_and_wait, press, wait_saved

CTRL = Qt.KeyboardModifier.ControlModifier


def _history(path, output_id):  # type: ignore[no-untyped-def]
    project = open_project(path)
    try:
        return grading.history(project, list_raters(project)[0].id, output_id)
    finally:
        project.close()


def test_autosave_writes_a_revision_without_any_save_key(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    out = w.controller.item.output_id
    press(qtbot, "3")
    assert w.save_label.property("state") == "dirty"
    wait_saved(qtbot, w)  # the debounce timer fired and the commit returned
    assert "revision 1" in w.save_label.text()
    (rev,) = _history(project_path, out)
    assert rev.draft.answers == {"overall": 3}
    assert rev.status == "draft"


def test_close_mid_item_and_reopen_keeps_what_was_entered(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    out = w.controller.item.output_id
    press(qtbot, "5")
    press(qtbot, "2")
    press(qtbot, "r")
    press(qtbot, "half done")
    # Close at once: the autosave timer has not fired; closing must still save.
    assert w.controller.dirty
    w.close()
    assert w.project is None

    again = make_window()
    open_and_wait(qtbot, again, project_path)
    assert again.controller.item.output_id == out  # the same item is still the first open one
    d = again.controller.draft
    assert d.answers == {"overall": 5, "safe": "caveats"}
    assert d.rationale == "half done"
    assert again.view.panel.value_of("overall") == 5
    assert again.view.panel.rationale.toPlainText() == "half done"
    assert again.queue.model.rows[0].status == "draft"


def test_navigation_saves_and_undo_restores(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    out = c.item.output_id
    press(qtbot, "2")
    wait_saved(qtbot, w)
    press(qtbot, "k")  # back to question 1
    press(qtbot, "4")
    wait_saved(qtbot, w)
    assert c.draft.answers["overall"] == 4
    chord(qtbot, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: c.draft.answers.get("overall") == 2, timeout=10000)
    assert w.view.panel.value_of("overall") == 2
    revs = _history(project_path, out)
    assert [r.source for r in revs] == ["ui", "ui", "undo"]
    assert revs[-1].draft.answers == {"overall": 2}

    # Moving to another item saves the edit first (no wait for the timer).
    press(qtbot, "k")
    press(qtbot, "1")
    chord(qtbot, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: c.item.output_id != out, timeout=10000)
    wait_saved(qtbot, w)
    assert _history(project_path, out)[-1].draft.answers == {"overall": 1}


def test_history_dialog_lists_every_revision(qtbot, make_window, project_path, monkeypatch):
    from medreview.qt.grading.history_dialog import HistoryDialog

    w = make_window()
    open_and_wait(qtbot, w, project_path)
    press(qtbot, "1")
    wait_saved(qtbot, w)
    press(qtbot, "k3")
    seen = {}

    def fake_exec(self):  # type: ignore[no-untyped-def]
        seen["rows"] = self.table.rowCount()
        seen["detail"] = self.detail.toPlainText()
        seen["first"] = self.revisions[0].draft.answers
        return 0

    monkeypatch.setattr(HistoryDialog, "exec", fake_exec)
    chord(qtbot, Qt.Key.Key_H, CTRL)  # flushes the pending edit, then shows both revisions
    qtbot.waitUntil(lambda: "rows" in seen, timeout=10000)  # read off the UI thread
    assert seen["rows"] == 2
    assert seen["first"] == {"overall": 1}
    assert "Overall clinical quality" in seen["detail"] and "Acceptable" in seen["detail"]


def test_required_questions_block_done(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    out = c.item.output_id
    press(qtbot, "4")
    chord(qtbot, Qt.Key.Key_Return, CTRL)
    wait_saved(qtbot, w)
    assert c.item.output_id == out  # did not move on
    assert c.status == "draft"
    current = w.view.panel.current_widget()
    assert current is not None and current.question.id == "criterion:dx"  # first missing
    assert w.queue.model.rows[0].status == "draft"
    assert "4 required questions left" in w.view.panel.missing_label.text()


def test_skip_marks_skipped_and_moves_on(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    out = c.item.output_id
    press(qtbot, "s")
    qtbot.waitUntil(lambda: c.item.output_id != out, timeout=10000)
    wait_saved(qtbot, w)
    assert _history(project_path, out)[-1].status == "skipped"
    assert w.queue.model.rows[0].status == "skipped"
