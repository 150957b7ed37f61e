"""A keyboard-only walk through the demo: grade, open and close tool windows with their keys,
grade again without a click, settle a disagreement in the adjudication window and leave it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _focused() -> QWidget | None:
    return QApplication.focusWidget()


def _key(qtbot: Any, key: Any, mods: Any = Qt.KeyboardModifier.NoModifier) -> None:
    target = _focused()
    assert target is not None, "nothing has keyboard focus"
    qtbot.keyClick(target, key, mods)


def _activate(qtbot: Any, window: QWidget) -> None:
    """Offscreen has no window manager to activate a newly shown window: do its part."""
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def _grade_one_key(qtbot: Any, w: Any) -> None:
    """The focused panel takes the keys: J to the first criterion, Y marks it met."""
    c = w.controller
    assert _focused() is w.view.panel
    _key(qtbot, "j")
    _key(qtbot, "y")
    assert c.dirty and True in c.draft.answers.values()


def test_keyboard_only_walkthrough(qtbot: Any, demo_copy: Path, tmp_path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.stats.dashboard import DashboardWindow
    from medreview.qt.study.adjudication import AdjudicationWindow
    from medreview.qt.theme import apply_theme

    apply_theme(make_app(), "light", 10)
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(demo_copy)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None
                    and w.view.panel.widgets != [], timeout=15000)
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)
    first = w.controller.item.output_id
    _grade_one_key(qtbot, w)
    _key(qtbot, Qt.Key.Key_PageDown)  # saves, then the next item
    qtbot.waitUntil(lambda: w.controller.item.output_id != first, timeout=10000)
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)

    # The dashboard opens with its key and closes with Escape; the keys come back here.
    _key(qtbot, Qt.Key.Key_D, CTRL_SHIFT)
    dash = w.tool_windows["dashboard"]
    assert isinstance(dash, DashboardWindow)
    _activate(qtbot, dash)
    _key(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dash.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)
    _grade_one_key(qtbot, w)

    # The calibration window and the judge dialog (idle) close with Escape too.
    for keys, name in ((Qt.Key.Key_K, "calibration"), (Qt.Key.Key_J, "judge")):
        _key(qtbot, keys, CTRL_SHIFT)
        tool = w.tool_windows[name]
        _activate(qtbot, tool)
        _key(qtbot, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda tool=tool: not tool.isVisible(), timeout=5000)
        qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)

    # A modal dialog (the cheat sheet, F1) closed with Escape: the keys come back too.
    def close_modal() -> None:
        modal = QApplication.activeModalWidget()
        assert modal is not None
        qtbot.keyClick(modal, Qt.Key.Key_Escape)

    QTimer.singleShot(300, close_modal)
    _key(qtbot, Qt.Key.Key_F1)  # returns when the dialog is closed
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)
    _grade_one_key(qtbot, w)

    # Adjudication: open with its key, settle one disagreement with keys only, Escape out.
    _key(qtbot, Qt.Key.Key_A, CTRL_SHIFT)
    adj = w.tool_windows["adjudication"]
    assert isinstance(adj, AdjudicationWindow)
    _activate(qtbot, adj)
    qtbot.waitUntil(lambda: adj.queue.items != []
                    and adj.editor.widget is not None, timeout=15000)
    qtbot.waitUntil(lambda: _focused() is adj.queue.table, timeout=5000)
    def ready() -> bool:
        cur = adj.current
        return (cur is not None and adj.item is not None and adj.item.output_id == cur[0]
                and adj.ratings is not None and adj.ratings.output_id == cur[0]
                and adj.editor.question is not None and adj.editor.question.id == cur[1])

    # PgDown to a yes/no criterion, then Y, R and a rationale, Ctrl+Enter.
    qtbot.waitUntil(ready, timeout=10000)
    for _ in range(60):
        if adj.editor.question.kind.value == "criterion":
            break
        before = adj.current
        _key(qtbot, Qt.Key.Key_PageDown)
        qtbot.waitUntil(lambda before=before: adj.current != before and ready(), timeout=10000)
    settled = adj.current
    assert adj.editor.question.kind.value == "criterion"
    _key(qtbot, Qt.Key.Key_Y)
    assert adj.editor.value() is True
    _key(qtbot, Qt.Key.Key_R)
    assert _focused() is adj.editor.rationale
    for ch in "Stated plainly":
        _key(qtbot, ch)
    _key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    if not adj.adjudicator.currentText():  # nobody adjudicated yet: a name first
        assert _focused() in (adj.adjudicator, adj.adjudicator.lineEdit())
        for ch in "Dr Keys":
            _key(qtbot, ch)
        _key(qtbot, Qt.Key.Key_Escape)  # back to the queue
        assert _focused() is adj.queue.table
        _key(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: settled not in {(d.output_id, d.question_id)
                                            for d in adj.queue.items}, timeout=10000)
    assert adj.adjudicator.currentText() in ("Dr Keys", adj.adjudicator.itemText(0))
    qtbot.waitUntil(lambda: _focused() is adj.queue.table, timeout=5000)
    _key(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not adj.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)
    _grade_one_key(qtbot, w)
