"""Every answer visible and unambiguous, on the real grading window (issue #15 part 2)."""

from __future__ import annotations

from pathlib import Path

from medreview.qt.grading.error_widget import ErrorWidget
from tests.qt.grading.helpers import open_and_wait, press, wait_saved


def test_zero_on_an_error_question_shows_no_errors_found(qtbot, make_window,  # type: ignore[no-untyped-def]
                                                         project_path: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    panel = w.view.panel
    err = panel.error_widget()
    assert isinstance(err, ErrorWidget)
    assert err.state_chip.text() == "○ Not reviewed yet"
    assert "Errors: ○ Not reviewed yet" in panel.missing_label.text()
    panel.set_current(panel.widgets.index(err))
    panel.setFocus()
    press(qtbot, "0")
    assert w.controller is not None and w.controller.draft.answers.get(err.question.id) == []
    assert err.state_chip.text() == "✓ No errors found"
    qtbot.waitUntil(err.state_chip.isVisible, timeout=3000)  # layouts show children queued
    assert "Errors: ✓ No errors found" in panel.missing_label.text()
    wait_saved(qtbot, w)


def test_score_reads_as_points_with_the_healthbench_fraction_on_hover(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    panel = w.view.panel
    crit = {wd.question.id: i for i, wd in enumerate(panel.widgets)
            if wd.question.kind.value == "criterion"}
    points = {q: panel.widgets[i].question.points for q, i in crit.items()}
    possible = sum(p for p in points.values() if p and p > 0)
    assert possible == 12  # the sample case: +5, +4, +3 and a -6 penalty
    dx = next(q for q in crit if q.endswith("dx"))
    harm = next(q for q in crit if q.endswith("harm"))
    panel.setFocus()
    for q, key in ((dx, "y"), (harm, "y")):
        panel.set_current(crit[q])
        press(qtbot, key)
    # 5 - 6 = -1 of 12 possible: -8 %, not clipped for one answer.
    qtbot.waitUntil(lambda: panel.score.text() == "-1 / 12 pts  (-8%)", timeout=5000)
    tip = panel.score.toolTip()
    assert "points of the criteria met ÷ sum of the positive points" in tip
    assert "+5 from positive criteria, -6 from penalties" in tip
    assert "-1 ÷ 12 = -8%" in tip and "not clipped" in tip
    wait_saved(qtbot, w)
