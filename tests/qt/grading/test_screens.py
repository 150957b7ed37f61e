"""The screens around grading: images, side-by-side, layout restore, themes, drag-and-drop,
the cheat sheet and the recent-projects list."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from medreview.qt.cheatsheet import cheatsheet_html
from medreview.qt.keys import KEYMAP
from medreview.services.grading_screen import pair_partner
from tests.qt.grading.helpers import open_and_wait, press


def test_viewer_pane_shows_the_dicom_series(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    item = w.controller.item
    assert item.case.external_id == "case-00001" and len(item.series) == 1
    pane = w.view.image_pane
    assert pane.isVisible()
    viewer = pane.viewer
    if pane.external:
        qtbot.waitUntil(lambda: viewer.current_frame() is not None, timeout=15000)
        assert viewer.slice_count() == 3
        pixels = viewer.current_frame().pixels
    else:
        qtbot.waitUntil(lambda: viewer.pixels is not None, timeout=15000)
        pixels = viewer.pixels
    assert pixels.shape == (128, 128)
    assert float(np.std(pixels)) > 0  # a real image, not a blank frame


def test_case_without_images_hides_the_pane(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    rows = w.queue.model.rows
    later = next(r.output_id for r in rows if r.case_external_id == "case-00002")
    w.open_item(later)
    qtbot.waitUntil(lambda: c.item.output_id == later, timeout=10000)
    assert not w.view.image_pane.isVisible()
    assert w.view.case_view.sections and w.view.case_view.sections[0].body.text().startswith(
        "Temp 38.4")


def test_region_drawn_on_the_image_becomes_an_annotation(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    att = w.controller.item.series[0].attachments[1]
    w.view.image_pane.sig_region_drawn.emit({
        "shape": "rect", "coords": [[10, 20], [40, 60]], "frame": 0,
        "series_uid": "1.2.826.0.1.1.1", "path": str(att.path)})
    (ann,) = w.controller.draft.annotations
    assert ann.region.attachment_id == att.id
    assert ann.region.coords == (10, 20, 30, 40)
    assert w.controller.dirty
    # Linked to the question in hand, listed in the panel, given a meaning, removable.
    current = w.view.panel.current_widget().question
    assert ann.question_id == current.id and ann.note == "mark"
    marks = w.view.panel.regions
    assert marks.isVisible() and len(marks.rows) == 1
    index, caption, box = marks.rows[0]
    assert index == 0 and caption.text().startswith("Rectangle · CT") and "slice 2/3" in \
        caption.text()
    box.setCurrentIndex(box.findData("finding_absent"))
    box.activated.emit(box.currentIndex())
    assert w.controller.draft.annotations[0].note == "finding_absent"
    assert w.controller.draft.annotations[0].region == ann.region
    w.controller.flush_blocking()
    saved = w.controller.history().result()[-1]
    assert [a.note for a in saved.draft.annotations] == ["finding_absent"]
    marks.sig_remove.emit(0)
    assert w.controller.draft.annotations == () and not marks.isVisible()
    assert w.view._regions_shown == []


def test_side_by_side_for_pairwise_forms(qtbot, make_window, pairwise_path):
    w = make_window()
    open_and_wait(qtbot, w, pairwise_path)
    view = w.view
    assert view.other_answer.isVisible()
    qtbot.waitUntil(lambda: view.other_answer.source != "", timeout=10000)
    assert view.other_answer.source != "" and view.other_answer.title.text() == "Response B"
    assert view.answer_view.title.text() == "Response A"
    partner = w.view.other_answer.source
    qtbot.waitUntil(lambda: w.controller.partner_id is not None, timeout=10000)
    press(qtbot, "2")  # preference: B better
    assert w.controller.draft.answers["preference"] == "B"
    # The preference names which answer was "B", so it stays meaningful with 3+ answers.
    (pair,) = [a for a in w.controller.draft.annotations if a.question_id == "preference"]
    rows = w.queue.model.rows
    me = w.controller.item.output_id
    assert pair.compared_output_id == pair_partner(rows, me) != me
    assert partner
    w.controller.set_answer("preference", None)  # cleared: the record goes too
    assert not [a for a in w.controller.draft.annotations if a.question_id == "preference"]


def test_layout_and_settings_are_restored(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    w.split.setSizes([420, 1180])
    w.view.splitter.setSizes([900, 450])
    outer, main = w.split.sizes(), w.view.splitter.sizes()
    w.close()
    again = make_window()
    open_and_wait(qtbot, again, project_path)
    assert again.split.sizes() == outer
    assert again.view.splitter.sizes() == main
    assert again.settings.recent_projects() == [str(project_path)]
    assert again.welcome.recent.item(0).data(Qt.ItemDataRole.UserRole) == str(project_path)
    assert not again.welcome.empty.isVisible()


def test_theme_and_font_size(qtbot, make_window):
    w = make_window()
    app = QApplication.instance()
    light = app.palette().window().color().lightness()
    w.toggle_theme()
    assert app.palette().window().color().lightness() < light
    assert w.settings.theme() == "dark"
    size = app.font().pointSize()
    w.change_font(2)
    assert app.font().pointSize() == size + 2
    w.toggle_theme()
    w.change_font(-2)


def test_dropping_a_project_folder_opens_it(qtbot, make_window, project_path):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(project_path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=10000)
    assert w.stack.currentWidget() is w.split
    assert w.rater.name == "Dr Example"


def test_every_key_in_the_table_is_a_shortcut_and_in_the_cheat_sheet(qtbot, make_window):
    w = make_window()
    sheet = cheatsheet_html()
    for b in KEYMAP:
        assert len(w.shortcuts[b.action]) == len(b.keys)
        assert html.escape(b.label) in sheet
    assert "Ctrl+Return" in sheet
    # Menu commands with shortcuts are listed too, and never reuse a grading key.
    menu_keys = w.menu_keys()
    assert ("Ctrl+Shift+D", "Analysis → Agreement dashboard") in menu_keys
    full = cheatsheet_html(menu_keys)
    assert all(html.escape(label) in full for _k, label in menu_keys)
    grading_keys = {k for b in KEYMAP for k in b.keys}
    assert not grading_keys & {k for k, _label in menu_keys}


def test_queue_filters_and_search(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    q = w.queue
    assert q.model.rowCount() == 6
    q.search.setText("patient 2")
    assert q.model.rowCount() == 2
    q.search.setText("")
    q.tag_box.setCurrentIndex(q.tag_box.findText("elderly"))
    assert {q.model.row_at(i).case_external_id for i in range(q.model.rowCount())} == \
        {"case-00003"}
    q.tag_box.setCurrentIndex(0)
    q.model_box.setCurrentIndex(q.model_box.findText("Response B"))
    assert q.model.rowCount() == 3
    q.model_box.setCurrentIndex(0)
    q.set_status_tab("done")
    assert q.model.rowCount() == 0
    q.set_status_tab("todo")
    assert q.model.rowCount() == 6
    assert q.progress.format().startswith("0 / 6")




def test_enter_in_the_queue_search_opens_the_match(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    qtbot.keyClick(w.view.panel, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.focusWidget() is w.queue.search
    qtbot.keyClicks(w.queue.search, "patient 3")
    qtbot.keyClick(w.queue.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: c.item.case.external_id == "case-00003", timeout=10000)
    assert w.focusWidget() is w.view.panel
    assert c.status == "todo"  # Enter here opened an item; it did not grade one


def test_question_mark_opens_the_cheat_sheet(qtbot, make_window, project_path, monkeypatch):
    from medreview.qt.cheatsheet import CheatSheetDialog

    shown: list[str] = []
    monkeypatch.setattr(CheatSheetDialog, "exec",
                        lambda self: shown.append(self.browser.toPlainText()) or 0)
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    qtbot.keyClick(w.view.panel, "?")
    assert shown and "Save as done and open the next item" in shown[0]
