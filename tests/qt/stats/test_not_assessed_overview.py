"""The dashboard's Overview lists what was left out as not assessed (N/A per question,
cannot assess per reason) from a real project's statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreview.qt.stats.dashboard_tabs import OverviewTab
from medreview.services import dashboard
from tests.judge.conftest import build_project
from tests.stats.test_not_assessed_stats import _plan, _write


def test_overview_shows_the_not_assessed_counts(qtbot: Any, tmp_path: Path) -> None:
    project = build_project(tmp_path / "p", forms=("healthbench",), n_cases=6)
    _write(project, _plan(project))
    inputs = dashboard.load_inputs(project, pseudonymise=True)
    stats = dashboard.compute(inputs, ci=False)
    project.close()
    tab = OverviewTab()
    qtbot.addWidget(tab)
    tab.show_stats(inputs, stats)
    model = tab.not_assessed.model_
    shown = [[str(model.data(model.index(r, c))) for c in range(model.columnCount())]
             for r in range(model.rowCount())]
    expected = stats.not_assessed.to_dict("records")
    assert len(shown) == len(expected) > 1
    assert shown[0][:3] == ["Not applicable", "criterion:overconfident", "physician"]
    assert shown[0][3] == str(expected[0]["count"])
    reasons = {row[1] for row in shown if row[0] == "Cannot assess"}
    assert reasons and reasons <= {"Missing context", "Outside my specialty", "Other"}
