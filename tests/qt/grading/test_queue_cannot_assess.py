"""Items marked "cannot assess" have their own state in the queue: text, colour, tooltip with
the reason, counts (finished work: among the done ones) and a tab of their own.

Real parts: a sample project on disk, saves through the grading services (the queue is read
back from the database) and the main window driven from the keyboard, dialog and all.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, cannot_assess_value
from medreview.qt.grading.cannot_assess_dialog import CannotAssessDialog
from medreview.qt.grading.queue_model import STATUS_TEXT, QueueModel
from medreview.qt.status import TONES
from medreview.services import grading
from medreview.services.grading_screen import (
    STATUS_FILTERS,
    QueueFilter,
    count_queue,
    filter_rows,
    recount,
    with_status,
)
from medreview.services.projects import list_raters, open_project
from medreview.services.views import QueueRow
from tests.qt.grading.helpers import chord, focused, open_and_wait, press, wait_saved
from tests.qt.grading.test_not_assessed_grading import _in_dialog

CTRL = Qt.KeyboardModifier.ControlModifier
STATUS = 4  # the Status column


def _save(path: Path, output_id: int, answers: dict[str, Any], status: str) -> None:
    project = open_project(path)
    try:
        rater = list_raters(project)[0].id
        grading.save_revision(project, rater, output_id, JudgmentDraft(answers=answers),
                              status=status)
    finally:
        project.close()


def _queue(path: Path) -> list[QueueRow]:
    project = open_project(path)
    try:
        return grading.load_queue(project, list_raters(project)[0].id)
    finally:
        project.close()


def test_the_queue_reads_the_mark_of_the_current_done_revision_only(project_path: Path) -> None:
    ids = [r.output_id for r in _queue(project_path)]
    hostile = "line one\n<b>two</b>\u202e" + "x" * 400
    _save(project_path, ids[0], {CANNOT_ASSESS_KEY: cannot_assess_value("other", hostile)},
          "done")
    _save(project_path, ids[1], {CANNOT_ASSESS_KEY: cannot_assess_value("missing_context")},
          "done")
    _save(project_path, ids[1], {"overall": 3}, "done")  # assessed after all: no mark
    _save(project_path, ids[2], {CANNOT_ASSESS_KEY: cannot_assess_value("outside_specialty")},
          "draft")  # not finished: shown as started
    _save(project_path, ids[3], {"_cannot_assess_note": "not the key"}, "done")
    rows = {r.output_id: r for r in _queue(project_path)}
    mark = rows[ids[0]].cannot_assess
    assert mark.startswith("Other: line one <b>two</b>") and "\n" not in mark
    assert len(mark) == 300 and mark.endswith("…")  # a long note is cut for the tooltip
    assert [rows[i].cannot_assess for i in ids[1:4]] == ["", "", ""]
    assert rows[ids[1]].status == "done" and rows[ids[2]].status == "draft"
    counts = count_queue(list(rows.values()))
    assert (counts.done, counts.cannot_assess, counts.draft) == (3, 1, 1)

    model = QueueModel(list(rows.values()))
    d = model.display_row(ids[0])
    assert d is not None
    cell = model.index(d, STATUS)
    assert model.data(cell) == STATUS_TEXT["cannot"] != STATUS_TEXT["done"]
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole).color().name() == TONES["set_aside"]
    tip = model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("<qt>Cannot assess (done, not a rating): Other: line one")
    assert "&lt;b&gt;two&lt;/b&gt;" in tip and "<b>" not in tip  # the note is data, not HTML
    plain = model.display_row(ids[1])
    assert plain is not None and model.data(model.index(plain, STATUS)) == STATUS_TEXT["done"]
    assert model.data(model.index(plain, STATUS), Qt.ItemDataRole.ToolTipRole) is None


def _row(i: int, status: str, mark: str, flagged: bool) -> QueueRow:
    return QueueRow(i, i, f"c{i}", f"Case {i}", "m", "Response A", status, flagged, (), i, None,
                    cannot_assess=mark)


def test_counts_filters_and_saves_agree_on_the_cannot_assess_state() -> None:
    rnd = random.Random(7)
    states = ["todo", "draft", "done", "skipped"]

    def any_row(i: int) -> QueueRow:
        return _row(i, rnd.choice(states), rnd.choice(["", "Missing context"]),
                    rnd.random() < 0.2)

    rows = [any_row(i) for i in range(200)]
    counts = count_queue(rows)
    for _ in range(300):  # saves: the incremental count stays the full count
        i = rnd.randrange(len(rows))
        answers = ({CANNOT_ASSESS_KEY: cannot_assess_value("ambiguous_question")}
                   if rnd.random() < 0.5 else {"overall": 2})
        new = with_status(rows[i], rnd.choice(states), rnd.random() < 0.2, answers=answers)
        assert new.cannot_assess == ("Ambiguous question" if new.status == "done"
                                     and CANNOT_ASSESS_KEY in answers else "")
        counts = recount(counts, rows[i], new)
        rows[i] = new
        assert counts == count_queue(rows)
    cannot = {i for i, r in enumerate(rows) if r.status == "done" and r.cannot_assess}
    assert counts.cannot_assess == len(cannot) > 0
    assert set(filter_rows(rows, QueueFilter(status="cannot"))) == cannot
    done = set(filter_rows(rows, QueueFilter(status="done")))
    assert cannot < done and len(done) == counts.done  # finished work: counted as done
    assert not cannot & set(filter_rows(rows, QueueFilter(status="todo")))


def test_marked_from_the_keyboard_the_queue_shows_counts_and_filters_it(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c, q = w.controller, w.queue
    cannot_tab = STATUS_FILTERS.index("cannot")
    assert not q.tabs.isTabVisible(cannot_tab)  # none yet: the four usual tabs only
    item = c.item.output_id

    def outside_specialty(d: CannotAssessDialog) -> None:
        d.buttons["outside_specialty"].setChecked(True)
        qtbot.keyClicks(d.note, "needs a dermatologist")
        qtbot.keyClick(d.note, Qt.Key.Key_Return)

    seen = _in_dialog(qtbot, outside_specialty)
    press(qtbot, "c")
    qtbot.waitUntil(lambda: seen.get("done", False), timeout=5000)
    assert "error" not in seen, seen["error"]
    qtbot.waitUntil(lambda: focused() is w.view.panel, timeout=5000)
    chord(qtbot, Qt.Key.Key_Return, CTRL)  # done, next item
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id != item, timeout=10000)
    wait_saved(qtbot, w)

    def status_cell() -> Any:
        d = q.model.display_row(item)
        assert d is not None
        return q.model.index(d, STATUS)

    assert q.model.data(status_cell()) == STATUS_TEXT["cannot"]
    assert "Outside my specialty: needs a dermatologist" in q.model.data(
        status_cell(), Qt.ItemDataRole.ToolTipRole)
    counts = q.model.counts()
    assert (counts.done, counts.cannot_assess) == (1, 1)
    assert q.tabs.isTabVisible(cannot_tab)
    assert q.tabs.tabText(cannot_tab) == "Can't (1)"
    assert q.tabs.tabText(STATUS_FILTERS.index("done")) == "Done (1)"
    assert q.progress.value() == 1  # finished work
    assert q.count_label.text().endswith("· can't assess 1")

    q.tabs.setCurrentIndex(cannot_tab)  # the tab filters to the marked items
    assert [r.output_id for r in (q.model.row_at(i) for i in range(q.model.rowCount()))] == [item]
    q.set_status_tab("todo")
    assert item not in {q.model.row_at(i).output_id for i in range(q.model.rowCount())}

    # Read back from the database (as on opening the project): the same state.
    w.controller.flush_blocking()
    w2 = make_window()
    open_and_wait(qtbot, w2, project_path)
    row = w2.queue.model.rows[w2.queue.model.row_index(item)]  # type: ignore[index]
    assert row.cannot_assess == "Outside my specialty: needs a dermatologist"
    assert w2.queue.model.counts().cannot_assess == 1
    assert w2.queue.tabs.isTabVisible(cannot_tab)
    QApplication.processEvents()
