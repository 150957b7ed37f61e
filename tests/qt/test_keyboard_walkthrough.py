"""A keyboard-only walk through the demo: grade, open and close tool windows with their keys,
grade again without a click, settle a disagreement in the adjudication window and leave it.
Then every dialog and window of the app, one by one (``WALKS``): opened with its keys, every
input reached with Tab, closed with Escape or Enter, the keys back on the grading panel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QWidget,
)

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


# --- every dialog and tool window, keyboard only ----------------------------------------------
#
# WALKS lists every dialog and window the app opens from the main window, with the keys that
# open it: its shortcut, or the menu reached with Alt+<letter> and the arrow keys. Each is
# walked with Tab until every enabled input has had the focus, closed with Escape (or its
# default button with Enter), and the keys must be back on the grading panel afterwards.
# A QDialog or QMainWindow subclass under medreview.qt that is not listed here fails
# ``test_every_dialog_has_a_walkthrough``: a new dialog needs its walk-through.


@dataclass(frozen=True)
class Walk:
    cls: str  # module.Class of the window the keys open
    keys: tuple[str, ...] = ()  # a shortcut (QKeySequence text), pressed on the grading panel
    menu: tuple[str, str] | None = None  # (menu bar title, command): Alt+letter, arrows, Enter
    label: str = ""  # the test id when a class is walked twice
    finish: str = "Escape"  # or "Return": the default button
    tool: bool = False  # a window beside the main one (not modal)

    @property
    def name(self) -> str:
        name = self.cls.rsplit(".", 1)[-1].replace("QMessageBox:", "").replace(" ", "_")
        return f"{name}-{self.label}" if self.label else name


WALKS: tuple[Walk, ...] = (
    Walk("medreview.qt.new_project_dialog.NewProjectDialog", keys=("Ctrl+N",)),
    Walk("medreview.qt.import_dialog.ImportDialog", keys=("Ctrl+I",)),
    Walk("medreview.qt.export_dialog.ExportDialog", keys=("Ctrl+E",)),
    Walk("medreview.qt.cheatsheet.CheatSheetDialog", keys=("F1",), finish="Return"),
    Walk("medreview.qt.grading.history_dialog.HistoryDialog", keys=("Ctrl+H",), finish="Return"),
    Walk("medreview.qt.grading.peer_comments.CommentsDialog", keys=("O",), finish="Return"),
    Walk("medreview.qt.grading.cannot_assess_dialog.CannotAssessDialog", keys=("C",)),
    Walk("medreview.qt.server_open_dialog.ServerOpenDialog",
         menu=("&Project", "Open server project…")),
    Walk("medreview.qt.study.package_files.OpenPackageDialog",
         menu=("&Project", "Open a rater package…")),
    Walk("medreview.qt.study.package_files.ReturnPackageDialog",
         menu=("&Project", "Return this package to the study lead…")),
    Walk("medreview.qt.study.assign_dialog.AssignDialog", menu=("&Study", "Assign raters…")),
    Walk("medreview.qt.study.qualification.QualificationDialog",
         menu=("&Study", "Qualification…")),
    Walk("medreview.qt.study.escalation_dialog.EscalationDialog",
         menu=("&Study", "Escalation rules…")),
    Walk("medreview.qt.study.make_packages.MakePackagesDialog",
         menu=("&Study", "Make rater packages…")),
    Walk("medreview.qt.study.merge_dialog.MergeDialog",
         menu=("&Study", "Merge returned packages…")),
    Walk("medreview.qt.form_editor.dialog.FormEditorDialog",
         menu=("&Study", "Edit rubric and guidelines…")),
    Walk("medreview.qt.form_editor.dialog.FormEditorDialog",
         menu=("&Study", "Edit error taxonomy…"), label="taxonomy"),
    Walk("medreview.qt.study.adjudication.AdjudicationWindow", keys=("Ctrl+Shift+A",),
         tool=True),
    Walk("medreview.qt.stats.dashboard.DashboardWindow", keys=("Ctrl+Shift+D",), tool=True),
    Walk("medreview.qt.stats.calibration_view.CalibrationWindow", keys=("Ctrl+Shift+K",),
         tool=True),
    Walk("medreview.qt.judge.run_dialog.JudgeRunDialog", keys=("Ctrl+Shift+J",), tool=True),
    Walk("medreview.qt.judge_eval_window.JudgeEvalWindow", keys=("Ctrl+Shift+E",), tool=True),
    Walk("QMessageBox:About medreview", menu=("&Help", "About medreview"), finish="Return"),
)
# Windows that are not walked from the main window, and why.
NOT_WALKED = {
    "medreview.qt.main_window.MainWindow": "the window every walk starts and ends in",
    "medreview.qt.stats.window.StatsWindow": "base class of the dashboard and calibration",
    "medreview.qt.stats.items_list.ItemsDialog": "opened from a dashboard row (tests/qt/stats)",
    "medreview.qt.study.qualification.FeedbackDialog":
        "opened by saving a qualification item (tests/qt/grading/test_qualification_feedback.py)",
}


def _qt_window_classes() -> set[str]:
    """Every QDialog / QMainWindow subclass defined in a module under medreview.qt."""
    import importlib
    import inspect
    import pkgutil

    from PySide6.QtWidgets import QDialog, QMainWindow

    import medreview.qt

    found: set[str] = set()
    for info in pkgutil.walk_packages(medreview.qt.__path__, "medreview.qt."):
        if "._generated" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, (QDialog, QMainWindow)):
                found.add(f"{obj.__module__}.{obj.__qualname__}")
    return found


def test_every_dialog_has_a_walkthrough() -> None:
    listed = {w.cls for w in WALKS} | set(NOT_WALKED)
    missing = sorted(_qt_window_classes() - listed)
    assert missing == [], f"dialogs without a keyboard walk-through in WALKS: {missing}"
    gone = sorted(c for c in listed - _qt_window_classes() if not c.startswith("QMessageBox"))
    assert gone == [], f"WALKS names classes that no longer exist: {gone}"


def _inputs(window: QWidget) -> list[QWidget]:
    """The enabled, visible widgets of ``window`` that Tab should reach."""
    out = []
    for w in window.findChildren(QWidget):
        if w.window() is not window or not w.isVisibleTo(window) or not w.isEnabled():
            continue
        if not w.focusPolicy() & Qt.FocusPolicy.TabFocus or w.focusProxy() is not None:
            continue
        parent = w.parentWidget()
        if isinstance(parent, QAbstractScrollArea) and w is parent.viewport():
            continue  # a scroll area's viewport takes no focus of its own
        out.append(w)
    return out


def _group_key(w: QWidget) -> int:
    """Tab reaches one button of an exclusive radio group (arrows move inside it): the group
    counts as one input."""
    if isinstance(w, QRadioButton):
        group = w.group()
        if group is not None and group.exclusive():
            return id(group)
        if w.autoExclusive():
            return id(w.parentWidget())
    return id(w)


def _owner(w: QWidget | None, inputs: list[QWidget]) -> QWidget | None:
    """The input ``w`` belongs to (itself, or the widget it is the focus proxy of)."""
    while w is not None:
        if w in inputs:
            return w
        w = w.parentWidget()
    return None


def _describe(w: QWidget) -> str:
    text = w.property("text") or w.accessibleName() or w.objectName() or ""
    return f"{type(w).__name__}({str(text)[:30]!r})"


def _labels_without_buddy(window: QWidget) -> list[str]:
    """Labels that promise an Alt+letter (an "&" in their text) but move the focus nowhere."""
    out = []
    for label in window.findChildren(QLabel):
        text = label.text()
        if label.textFormat() == Qt.TextFormat.PlainText or "&" not in text.replace("&&", ""):
            continue
        if "<" in text or label.buddy() is not None:  # rich text shows "&" as it is
            continue
        out.append(text)
    return out


def _settle(qtbot: Any, window: QWidget) -> None:
    """Most windows read the project when they open and add inputs when it answers: wait
    until the inputs stop changing (at most 3 s)."""
    counts: list[int] = []
    for _ in range(30):
        qtbot.wait(100)
        counts.append(len(_inputs(window)))
        if len(counts) >= 3 and len(set(counts[-3:])) == 1:
            return


def _tab_walk(qtbot: Any, window: QWidget) -> list[str]:
    """Press Tab until every input had the focus (or it cycles); return the ones never reached."""
    inputs = _inputs(window)
    assert inputs, f"{type(window).__name__} has no input that takes the focus"
    wanted = {_group_key(w) for w in inputs}
    seen: set[int] = set()
    stuck = 0
    last: QWidget | None = None
    for _ in range(3 * len(inputs) + 10):
        focus = QApplication.focusWidget()
        owner = _owner(focus, inputs)
        if owner is not None:
            seen.add(_group_key(owner))
        if seen >= wanted:
            break
        stuck = stuck + 1 if owner is last else 0
        if stuck > 3:  # Tab typed into it, or moved inside it: the walk cannot leave
            return [f"Tab is trapped in {_describe(owner) if owner else repr(focus)}"]
        last = owner
        assert focus is not None, f"nothing has the focus in {type(window).__name__}"
        qtbot.keyClick(focus, Qt.Key.Key_Tab)
    return [_describe(w) for w in inputs if _group_key(w) not in seen]


def _keys(text: str) -> tuple[Qt.Key, Qt.KeyboardModifier]:
    combo = QKeySequence(text)[0]  # type: ignore[index]  # PySide6 stubs lack __getitem__
    return combo.key(), combo.keyboardModifiers()


def _press(qtbot: Any, text: str, target: QWidget | None = None) -> None:
    key, mods = _keys(text)
    target = target or QApplication.focusWidget()
    assert target is not None, f"nothing has the focus to take {text}"
    qtbot.keyClick(target, key, mods)


def _open_menu_item(qtbot: Any, w: Any, menu_title: str, command: str) -> None:
    """Alt+<the title's accelerator>, Down until the command is active, then Return."""
    letter = menu_title[menu_title.index("&") + 1]
    _press(qtbot, f"Alt+{letter.upper()}", w.view.panel)
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == menu_title)
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    for _ in range(len(menu.actions()) + 1):
        act = menu.activeAction()
        if act is not None and act.text() == command:
            break
        qtbot.keyClick(menu, Qt.Key.Key_Down)
    act = menu.activeAction()
    assert act is not None and act.text() == command and act.isEnabled(), (
        f"{command} is not reachable with the keys in {menu_title}")
    qtbot.keyClick(menu, Qt.Key.Key_Return)


def _matches(walk: Walk, window: QWidget | None) -> bool:
    if window is None:
        return False
    if walk.cls.startswith("QMessageBox:"):
        return isinstance(window, QMessageBox) and \
            window.windowTitle() == walk.cls.split(":", 1)[1]
    return f"{type(window).__module__}.{type(window).__qualname__}" == walk.cls


@pytest.fixture
def graded_window(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.theme import apply_theme
    from medreview.services.sample_project import build_sample_project

    monkeypatch.setenv("MEDREVIEW_HOME", str(tmp_path / "home"))
    project, _me = build_sample_project(tmp_path / "project", n_cases=2, outputs_per_case=2,
                                        with_dicom=False)
    project.close()
    apply_theme(make_app(), "light", 10)
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(tmp_path / "project")
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None
                    and w.view.panel.widgets != [], timeout=15000)
    _activate(qtbot, w)
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)
    yield w
    for tool in list(w.tool_windows.values()):
        tool.close()
    if w.project is not None:
        w.close()


@pytest.mark.parametrize("walk", WALKS, ids=lambda walk: walk.name)
def test_keyboard_walkthrough_of_every_dialog(qtbot: Any, graded_window: Any, walk: Walk
                                              ) -> None:
    w = graded_window
    report: dict[str, Any] = {}

    def walk_it(window: QWidget) -> None:
        """Inside the dialog (a modal one runs this in its own event loop)."""
        try:
            _activate(qtbot, window)
            _settle(qtbot, window)
            report["dialog"] = isinstance(window, QDialog)
            report["no_buddy"] = _labels_without_buddy(window)
            report["defaults"] = [b.text() for b in window.findChildren(QPushButton)
                                  if b.isDefault() and b.isVisible()]
            report["unreached"] = _tab_walk(qtbot, window)
            # The other pages of each tab widget: Ctrl+Tab, then Tab through that page.
            for tabs in [t for t in window.findChildren(QTabWidget) if t.isVisibleTo(window)]:
                for _ in range(tabs.count() - 1):
                    qtbot.keyClick(tabs, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
                    report["unreached"] += [f"{tabs.tabText(tabs.currentIndex())}: {u}"
                                            for u in _tab_walk(qtbot, window)]
            target = QApplication.focusWidget() or window
            if walk.finish == "Return":
                default = [b for b in window.findChildren(QPushButton)
                           if b.isDefault() and b.isVisible() and b.isEnabled()]
                report["default"] = [b.text() for b in default]
                if default:
                    default[0].setFocus()  # Enter goes to the focused button, else the default
                    target = default[0]
            # Escape may first step back (out of a text box, to a window's list): at most 3.
            for _ in range(3 if walk.finish == "Escape" else 1):
                _press(qtbot, walk.finish, QApplication.focusWidget() or target)
                qtbot.wait(50)
                if not window.isVisible():
                    break
                target = window
            qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
            report["closed"] = True
        except BaseException as exc:  # reported once the dialog is gone
            report["error"] = repr(exc)
        finally:
            if window.isVisible():
                if isinstance(window, QDialog):
                    window.done(0)
                else:
                    window.close()

    def poll() -> None:
        window = QApplication.activeModalWidget() if not walk.tool else next(
            (t for t in w.tool_windows.values() if _matches(walk, t) and t.isVisible()), None)
        if window is not None and _matches(walk, window):
            walk_it(window)
        elif report.get("polls", 0) < 250:
            report["polls"] = report.get("polls", 0) + 1
            QTimer.singleShot(20, poll)

    if not walk.tool:
        QTimer.singleShot(0, poll)  # the opening key returns once the modal dialog is closed
    if walk.menu is not None:
        _open_menu_item(qtbot, w, *walk.menu)
    else:
        for text in walk.keys:
            _press(qtbot, text, w.view.panel)
    if walk.tool:
        poll()
    qtbot.waitUntil(lambda: "closed" in report or "error" in report
                    or report.get("polls", 0) >= 250, timeout=10000)
    assert report.get("polls", 0) < 250, f"{walk.name} did not open with {walk.keys or walk.menu}"
    assert "error" not in report, report["error"]
    assert report["unreached"] == [], f"Tab never reaches in {walk.name}: {report['unreached']}"
    assert report["no_buddy"] == [], f"Alt+letter labels with no field: {report['no_buddy']}"
    if report["dialog"]:
        # Enter means one deliberate thing in a dialog: its default button, shown on opening
        assert len(report["defaults"]) == 1, f"{walk.name} default buttons: {report['defaults']}"
    if walk.finish == "Return":
        assert report["default"], f"{walk.name} has no default button for Enter"
    qtbot.waitUntil(lambda: _focused() is w.view.panel, timeout=5000)


def test_the_walk_reports_a_box_that_keeps_the_tab_key(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QVBoxLayout

    from medreview.qt.app import make_app

    make_app()
    dlg = QDialog()
    qtbot.addWidget(dlg)
    lay = QVBoxLayout(dlg)
    first, notes, last = QLineEdit(), QPlainTextEdit(), QPushButton("OK")
    for w in (first, notes, last):
        lay.addWidget(w)
    dlg.show()
    _activate(qtbot, dlg)
    first.setFocus()
    assert _tab_walk(qtbot, dlg) == ["Tab is trapped in QPlainTextEdit('')"]
    notes.setTabChangesFocus(True)
    first.setFocus()
    assert _tab_walk(qtbot, dlg) == []
