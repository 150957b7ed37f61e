"""Dashboard rows open their items in the grading window; the lead's menus."""

from __future__ import annotations

from tests.qt.grading.helpers import open_and_wait


def test_focus_narrows_the_queue_and_opens_the_first_item(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    rows = w.queue.model.rows
    assert len(rows) == 6
    wanted = [rows[4].output_id, rows[1].output_id]
    w.focus_outputs([*wanted, 999_999], "overall · rater A vs rater B")
    model = w.queue.model
    assert model.rowCount() == 2
    assert {model.row_at(i).output_id for i in range(2)} == set(wanted)
    assert w.queue.focus_bar.isVisible()
    assert "1 not in this queue" in w.queue.focus_label.text()
    first = model.row_at(0).output_id
    qtbot.waitUntil(lambda: w.controller.item.output_id == first, timeout=10000)
    w.queue.focus_clear.click()
    assert model.rowCount() == 6 and not w.queue.focus_bar.isVisible()


def test_focus_on_items_outside_the_queue_says_so(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    before = w.controller.item.output_id
    w.focus_outputs([999_998, 999_999], "nothing here")
    assert w.queue.model.rowCount() == 0
    assert "None of these 2 item(s)" in w.statusBar().currentMessage()
    assert w.controller.item.output_id == before


def test_project_menus_follow_the_open_project(qtbot, make_window, project_path):
    w = make_window()
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles == ["&Project", "&Study", "&Analysis", "&Help"]
    assert w.project_actions and not any(a.isEnabled() for a in w.project_actions)
    open_and_wait(qtbot, w, project_path)
    assert all(a.isEnabled() for a in w.project_actions)
    w.close_to_welcome()
    assert w.project is None and w.stack.currentWidget() is w.welcome
    assert not any(a.isEnabled() for a in w.project_actions)
