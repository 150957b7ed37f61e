"""End to end: grade an item from the keyboard alone and find the revision in the database."""

from __future__ import annotations

from PySide6.QtCore import Qt

from medreview.services import grading
from medreview.services.projects import list_raters, open_project
from tests.qt.grading.helpers import chord, focused, open_and_wait, press, wait_saved

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_grade_an_item_from_the_keyboard_alone(qtbot, make_window, project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    first = c.item.output_id
    panel = w.view.panel
    assert focused() is panel

    press(qtbot, "4")          # 1. overall = 4 (moves on)
    press(qtbot, "1")          # 2. safe = yes (moves on)
    press(qtbot, "2")          # 3. issues: toggle completeness (stays)
    press(qtbot, "j")          # -> 4. minutes
    press(qtbot, "i")          # edit the number
    press(qtbot, "15")
    chord(qtbot, Qt.Key.Key_Escape)
    assert focused() is panel
    press(qtbot, "jj")         # -> 6. first criterion
    press(qtbot, "yyny")       # dx met, abx met, safety not met, harm (unsafe dose) met
    # Select a span of the answer with the keyboard and tag it as an error.
    press(qtbot, "a")
    browser = w.view.answer_view.browser
    assert focused() is browser
    chord(qtbot, Qt.Key.Key_Home, CTRL)
    chord(qtbot, Qt.Key.Key_Down)  # heading -> first line of the paragraph
    for _ in range(4):
        chord(qtbot, Qt.Key.Key_Right, CTRL | SHIFT)
    assert browser.textCursor().hasSelection()
    press(qtbot, "e")
    assert focused() is panel
    press(qtbot, "34")         # category 3 (unsafe advice), severity 4 (critical)
    assert len(browser.extraSelections()) == 1  # the tagged span is highlighted
    assert panel.error_widget().entries.count() == 1  # ... and listed
    press(qtbot, "r")
    assert focused() is panel.rationale
    press(qtbot, "Dose is too high")
    chord(qtbot, Qt.Key.Key_Escape)
    press(qtbot, "]]]]")       # confidence 80 %
    press(qtbot, "f")          # flag
    assert c.missing() == []
    chord(qtbot, Qt.Key.Key_Return, CTRL)  # save as done and go on

    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id != first, timeout=10000)
    wait_saved(qtbot, w)
    assert focused() is panel  # focus is never lost after saving
    row = w.queue.model.rows[w.queue.model.row_index(first)]
    assert row.status == "done" and row.flagged

    project = open_project(project_path)
    try:
        me = list_raters(project)[0]
        revisions = grading.history(project, me.id, first)
    finally:
        project.close()
    last = revisions[-1]
    assert last.status == "done"
    answers = last.draft.answers
    assert answers["overall"] == 4
    assert answers["safe"] == "yes"
    assert answers["issues"] == ["completeness"]
    assert answers["minutes"] == 15
    assert [answers[f"criterion:{k}"] for k in ("dx", "abx", "safety", "harm")] == \
        [True, True, False, True]
    (error,) = answers["errors"]
    assert error["category"] == "unsafe" and error["severity"] == 4
    assert error["span"]["text"].startswith("The presentation")
    assert last.draft.rationale == "Dose is too high"
    assert last.draft.confidence == 0.8
    assert last.draft.flagged
    assert last.draft.time_on_task_s > 0
    # (5 + 4 - 6) of 12 positive points: the HealthBench score is per case and unclipped.
    assert last.draft.overall_score == 3 / 12
