"""The "Judge evaluation" window, opened from the Analysis menu on the demo with its two judge
prompt versions: it shows the same tables as ``medreview judge-eval``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _menu_action(w: Any, menu: str, text: str) -> Any:
    bar = w.menuBar()
    m = next(a.menu() for a in bar.actions() if a.text().replace("&", "") == menu)
    return next(a for a in m.actions() if a.text() == text)


def test_window_from_the_menu_shows_the_cli_tables(qtbot: Any, demo_copy: Path,
                                                   tmp_path: Path) -> None:
    from medreview.demo.judge_versions import add_to_demo
    from medreview.qt.app import make_app
    from medreview.qt.judge_eval_window import JudgeEvalWindow
    from medreview.qt.keys import menu_key
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.services import projects
    from medreview.services.judge_eval import evaluate_runs, report_tables

    add_to_demo(demo_copy)
    make_app()
    p = projects.open_project(demo_copy)
    lead = projects.add_rater(p, "Dr Lead")
    p.close()
    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    assert w.open_project(demo_copy, rater_id=lead.id)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    action = _menu_action(w, "Analysis", "Judge evaluation (prompt versions)")
    assert action.shortcut().toString() == menu_key("judge_eval")
    action.trigger()
    win = w.tool_windows["judge_eval"]
    assert isinstance(win, JudgeEvalWindow) and win.isVisible()
    qtbot.waitUntil(lambda: win.report is not None and not win.job.running, timeout=60000)
    assert win.selected_runs() == [1, 2]  # the first and the newest run
    assert win.run_b.count() == 3  # (none), run 1, run 2
    # The same numbers as the command line's table, cell for cell.
    p = projects.open_project(demo_copy, read_only=True)
    try:
        expected = report_tables(evaluate_runs(p, [1, 2]))[0]
    finally:
        p.close()
    shown = [[win.metrics.item(r, c).text() for c in range(win.metrics.columnCount())]
             for r in range(win.metrics.rowCount())]
    assert shown == [list(row) for row in expected.rows]
    header = [win.metrics.horizontalHeaderItem(c).text() for c in range(win.metrics.columnCount())]
    assert header == list(expected.header) and "physician ceiling" in header
    assert win.calibration.rowCount() == 2 and win.self_pref.rowCount() == 2
    # Only version A: no difference column.
    win.run_b.setCurrentIndex(0)
    win.recompute()
    qtbot.waitUntil(lambda: win.report is not None and len(win.report.runs) == 1
                    and not win.job.running, timeout=60000)
    assert "B − A" not in [win.metrics.horizontalHeaderItem(c).text()
                           for c in range(win.metrics.columnCount())]


def test_bad_split_is_one_line_in_the_status(qtbot: Any, demo_copy: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.judge_eval_window import JudgeEvalWindow
    from medreview.services import projects
    from medreview.services.bus import ChangeBus
    from medreview.services.tasks import DbExecutor, WorkExecutor

    make_app()
    db, work = DbExecutor(), WorkExecutor()
    project = db.submit(projects.open_project, demo_copy).result()
    try:
        win = JudgeEvalWindow(project, db, work, ChangeBus())
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.report is not None, timeout=60000)
        win.part.setCurrentIndex(win.part.findData("dev"))  # the demo has no dev part
        win.recompute()
        qtbot.waitUntil(lambda: not win.job.running, timeout=60000)
        text = win.strip.status.text()
        assert "dev split is empty" in text and "\n" not in text
        win.close()
    finally:
        db.submit(project.close).result()
        db.shutdown()
        work.shutdown()
