"""From the main window: Analysis menu → dashboard → a row → its items in the grading queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt


def _menu_action(w: Any, menu: str, text: str) -> Any:
    bar = w.menuBar()
    m = next(a.menu() for a in bar.actions() if a.text().replace("&", "") == menu)
    return next(a for a in m.actions() if a.text() == text)


def test_a_dashboard_row_opens_its_disagreements_in_the_grading_window(
        qtbot: Any, demo_copy: Path, tmp_path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.stats.dashboard import DashboardWindow
    from medreview.services import projects

    make_app()
    p = projects.open_project(demo_copy)
    lead = projects.add_rater(p, "Dr Lead")  # no assignments: the lead's queue is every item
    p.close()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(demo_copy, rater_id=lead.id)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    _menu_action(w, "Analysis", "Agreement dashboard").trigger()
    dash = w.tool_windows["dashboard"]
    assert isinstance(dash, DashboardWindow) and dash.isVisible()
    qtbot.waitUntil(lambda: dash.stack.currentWidget() is dash.tabs, timeout=60000)
    table = dash.overview.agreement
    i = next(k for k, r in enumerate(table.rows()) if r["question_id"] == "score")
    table.setFocus()
    table.selectRow(i)
    with qtbot.waitSignal(dash.sig_open_items, timeout=5000) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    ids = set(blocker.args[0])
    model = w.queue.model
    assert {model.row_at(k).output_id for k in range(model.rowCount())} == ids
    qtbot.waitUntil(lambda: w.controller.item.output_id in ids, timeout=10000)
    assert w.queue.focus_bar.isVisible()
    # Asking again raises the same window rather than computing a second one.
    _menu_action(w, "Analysis", "Agreement dashboard").trigger()
    assert w.tool_windows["dashboard"] is dash
    _menu_action(w, "Analysis", "Judge calibration").trigger()
    assert w.tool_windows["calibration"].isVisible()
    w.close()
    assert not w.tool_windows and not dash.isVisible()


def test_judge_dialog_from_the_menu_and_closed_with_the_project(
        qtbot: Any, demo_copy: Path, tmp_path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.judge.run_dialog import JudgeRunDialog
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(demo_copy)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    _menu_action(w, "Analysis", "Run the LLM judge…").trigger()
    dlg = w.tool_windows["judge"]
    assert isinstance(dlg, JudgeRunDialog) and dlg.isVisible() and not dlg.running
    assert w.rater is not None and dlg.consenter.startswith(f"{w.rater.name} (")
    w.close_to_welcome()
    assert not w.tool_windows and not dlg.isVisible() and w.project is None


def test_adjudication_window_from_the_study_menu(qtbot: Any, demo_copy: Path,
                                                 tmp_path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.study.adjudication import AdjudicationWindow

    make_app()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(demo_copy)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    study = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Study")
    titles = [a.text() for a in study.actions()]
    assert titles[:3] == ["Assign raters…", "Make rater packages…", "Merge returned packages…"]
    _menu_action(w, "Study", "Adjudicate disagreements").trigger()
    adj = w.tool_windows["adjudication"]
    assert isinstance(adj, AdjudicationWindow) and adj.isVisible() and adj.isWindow()
    w.close()
    assert not w.tool_windows
