"""The Raters tab on the demo: computed off the UI thread, the same numbers as the service, and
its controls recompute (window size, threshold flags)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from medreview.qt.stats.raters_tab import RatersTab
from medreview.services import rater_quality as rq
from tests.qt.stats.conftest import spin_until


def _cells(table: Any, row: int) -> list[str]:
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_raters_tab_shows_the_service_numbers(demo_env: Any, qapp: Any, qtbot: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project, db, work = demo_env
    tab = RatersTab(project, db, work)
    qtbot.addWidget(tab)
    threads: list[str] = []
    original = rq.compute_rater_report

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(rq, "compute_rater_report", spy)
    tab.refresh()
    spin_until(qapp, lambda: tab.report is not None and not tab.job.running)
    monkeypatch.undo()
    assert threads and threads[0].startswith("medreview-work")
    expected = db.submit(lambda: rq.rater_report(project)).result()
    assert tab.summary.rowCount() == len(expected.raters) >= 3
    assert [_cells(tab.summary, i) for i in range(tab.summary.rowCount())] == [
        list(r) for r in rq.summary_rows(expected)]
    assert tab.drift.rowCount() == len(rq.drift_rows(expected)) > 0
    assert "criteria" in tab.status.text()
    assert tab.question.findData("score") >= 0  # choices filled from the project
    assert not tab.plot.message  # a chart, not the "nothing to show" text

    # 20-item windows and a threshold above every kappa: every window with enough units flags.
    tab.window_box.setCurrentIndex(tab.window_box.findData("20"))
    tab.threshold.setValue(1.0)
    tab.refresh()
    spin_until(qapp, lambda: tab.report is not None and tab.report.window == "20 items"
               and not tab.job.running)
    report = tab.report
    assert report is not None and report.threshold == 1.0
    flagged = [w for r in report.raters for w in r.drift if w.flagged]
    assert flagged and all(w.kappa.value < 1.0 for w in flagged)
    shown = [_cells(tab.drift, i)[-1] for i in range(tab.drift.rowCount())]
    assert shown.count("yes") == len(flagged)

    # A numeric question: no drift (categorical only), said in the status, chart explains.
    tab.question.setCurrentIndex(tab.question.findData("score"))
    tab.refresh()
    spin_until(qapp, lambda: tab.report is not None and tab.report.question_id == "score"
               and not tab.job.running)
    assert tab.drift.rowCount() == 0 and "numeric" in tab.status.text()
    assert tab.plot.message
