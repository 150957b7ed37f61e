"""Reading comfort on the real grading window with the demo: notes reflowed into paragraphs in
panes that grow with the window, a readable queue title, and splitters remembered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from medreview.domain.display_text import visible_text
from medreview.domain.reflow import reflow_text
from medreview.qt.main_window import MainWindow
from tests.qt.grading.helpers import open_and_wait


def _open_case(qtbot, w: MainWindow, external_id: str,  # type: ignore[no-untyped-def]
               notes: bool = True) -> None:
    row = next(r for r in w.queue.model.rows if r.case_external_id == external_id)
    w.open_item(row.output_id)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None
                    and w.controller.item.output_id == row.output_id
                    and (w.view.case_view.sections != []) == notes, timeout=10000)


def test_note_is_reflowed_plain_text(qtbot, make_window, demo_copy: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, demo_copy)
    _open_case(qtbot, w, "rad-001")  # a CT report wrapped at ~115 columns in the demo
    item = w.controller.item
    assert item is not None
    raw = item.case.context[0].text
    assert raw.count("\n") >= 3  # the demo note really is hard-wrapped
    body = w.view.case_view.sections[0].body
    assert body.textFormat() == Qt.TextFormat.PlainText
    assert body.text() == visible_text(reflow_text(raw))
    assert "\n" not in body.text()  # one paragraph: wraps to the pane, not at column 115
    assert body.wordWrap()


def test_prompt_is_reflowed(qtbot, make_window, demo_copy: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, demo_copy)
    _open_case(qtbot, w, "cardio-001", notes=False)
    item = w.controller.item
    assert item is not None
    assert "into my\n    left arm" in item.case.messages[0].content  # wrapped in the demo
    shown = w.view.case_view.conversation.toPlainText()
    assert "heavy pressure in my chest that goes into my left arm. I'm sitting down" in shown
    assert "take an antacid. What should I do?" in shown


def test_case_panes_grow_with_the_window(qtbot, make_window, demo_copy: Path) -> None:
    w = make_window()
    w.resize(1366, 700)
    open_and_wait(qtbot, w, demo_copy)
    _open_case(qtbot, w, "rad-001")
    cv = w.view.case_view
    qtbot.wait(50)
    small = (cv.conversation.height(), cv._context_area.height())
    w.resize(1600, 1000)
    qtbot.waitUntil(lambda: cv._context_area.height() > small[1] + 40, timeout=3000)
    assert cv.conversation.height() > small[0] + 40


def _title_chars(w: MainWindow) -> float:
    t = w.queue.table
    return t.columnWidth(2) / t.fontMetrics().averageCharWidth()


def test_queue_title_is_readable(qtbot, make_window, demo_copy: Path) -> None:
    w = make_window()  # the default size of a first start
    open_and_wait(qtbot, w, demo_copy)
    qtbot.wait(50)
    assert _title_chars(w) >= 20, w.queue.table.columnWidth(2)
    w.resize(1366, 768)  # a small laptop keeps it too
    qtbot.waitUntil(lambda: w.width() == 1366, timeout=3000)
    qtbot.wait(50)
    assert _title_chars(w) >= 20, w.queue.table.columnWidth(2)
    hint = w.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 768, hint
    model = w.queue.model
    longest = max(range(model.rowCount()), key=lambda r: len(model.row_at(r).case_title))
    tip = model.data(model.index(longest, 2), Qt.ItemDataRole.ToolTipRole)
    assert model.row_at(longest).case_title in tip  # the whole title, not the elided cell


def test_splitters_remembered_across_restarts(qtbot, make_window, demo_copy: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, demo_copy)
    parts = w._layout_parts()
    wanted: dict[str, list[int]] = {}
    for key, splitter in parts.items():
        total = sum(splitter.sizes())
        if splitter.count() < 2 or total < 200:
            continue
        # a drag of a sixth of the splitter, towards whichever side has more room
        shift = total // 6 if splitter.sizes()[0] < total // 2 else -(total // 6)
        first = splitter.sizes()[0] + shift
        splitter.setSizes([first, total - first] + [0] * (splitter.count() - 2))
        wanted[key] = splitter.sizes()
    assert {"grading/outer", "grading/main", "grading/text", "grading/case"} <= set(wanted)
    w.close()  # saves the layout as a quit does
    qtbot.waitUntil(lambda: w.project is None, timeout=10000)

    again = make_window()  # a restart: same settings file, new window
    open_and_wait(qtbot, again, demo_copy)
    qtbot.wait(50)
    for key, splitter in again._layout_parts().items():
        if key in wanted:
            got = splitter.sizes()
            assert all(abs(a - b) <= 8 for a, b in zip(got, wanted[key], strict=True)), (
                key, got, wanted[key])
