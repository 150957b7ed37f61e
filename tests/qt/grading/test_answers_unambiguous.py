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
    assert err.state_chip.isVisible() and err.state_chip.text() == "✓ No errors found"
    assert "Errors: ✓ No errors found" in panel.missing_label.text()
    wait_saved(qtbot, w)
