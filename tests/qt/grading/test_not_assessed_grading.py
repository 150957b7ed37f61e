"""The grading screen's "not applicable" per criterion (X) and "cannot assess" per item (C and
its reason dialog), from the keyboard, saved, shown, and undone."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE
from medreview.qt.grading.cannot_assess_dialog import CannotAssessDialog
from medreview.services import grading
from medreview.services.projects import list_raters, open_project
from tests.qt.grading.helpers import chord, focused, open_and_wait, press, wait_saved

CTRL = Qt.KeyboardModifier.ControlModifier


def _in_dialog(qtbot: Any, steps: Any) -> dict[str, Any]:
    """Run ``steps(dialog)`` inside the modal dialog the next key opens."""
    seen: dict[str, Any] = {}

    def poll() -> None:
        d = QApplication.activeModalWidget()
        if isinstance(d, CannotAssessDialog):
            try:
                d.activateWindow()  # offscreen has no window manager to do it
                qtbot.waitUntil(d.isActiveWindow, timeout=3000)
                steps(d)
            except BaseException as exc:  # reported after the dialog closed
                seen["error"] = repr(exc)
                d.reject()
            seen["done"] = True
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(0, poll)
    return seen


def _history(path: Any, output_id: int) -> list[Any]:
    project = open_project(path)
    try:
        return grading.history(project, list_raters(project)[0].id, output_id)
    finally:
        project.close()


def test_not_applicable_per_criterion_from_the_keyboard(qtbot, make_window,  # type: ignore[no-untyped-def]
                                                         project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c, panel = w.controller, w.view.panel
    kinds = [wd.question.kind.value for wd in panel.widgets]
    first_crit = kinds.index("criterion")
    # a Likert question has no N/A: X does nothing there
    panel.set_current(kinds.index("ordinal"))
    assert panel.current_widget().na_button is None
    press(qtbot, "x")
    assert c.draft.answers == {}
    panel.set_current(first_crit)
    crit = panel.current_widget()
    assert crit.na_button is not None and not crit.na_button.isChecked()
    press(qtbot, "x")
    qid = crit.question.id
    assert c.draft.answers[qid] == NOT_APPLICABLE
    assert crit.na_button.isChecked() and not crit.met.isChecked()
    assert panel.current == first_crit + 1  # moved on, like Y and N
    assert qid not in c.missing()  # N/A answers a required criterion
    # the score leaves it out: the tooltip says so
    assert "not applicable left out" in panel.score.toolTip()
    # X again on it takes N/A back; Y after N/A is plainly "met"
    panel.set_current(first_crit)
    press(qtbot, "x")
    assert qid not in c.draft.answers and not crit.na_button.isChecked()
    press(qtbot, "x")
    panel.set_current(first_crit)
    press(qtbot, "y")
    assert c.draft.answers[qid] is True and not crit.na_button.isChecked()
    panel.set_current(first_crit)
    crit.na_button.click()  # the button does what X does
    assert c.draft.answers[qid] == NOT_APPLICABLE
    wait_saved(qtbot, w)
    assert _history(project_path, c.item.output_id)[-1].draft.answers[qid] == NOT_APPLICABLE


def test_cannot_assess_with_a_reason_saves_done_and_undoes(qtbot, make_window,  # type: ignore[no-untyped-def]
                                                           project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c, panel = w.controller, w.view.panel
    item = c.item.output_id
    press(qtbot, "4")  # an answer typed before: kept, but the item is not rated
    assert c.missing()

    def other_without_then_with_note(d: CannotAssessDialog) -> None:
        assert d.buttons["missing_context"].isChecked()
        assert QApplication.focusWidget() is d.buttons["missing_context"]
        for _ in range(3):  # arrows move inside the reasons to "Other"
            qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Down)
        assert d.reason() == "other"
        d.mark.click()  # Other needs a note: the dialog says so and stays open
        assert d.isVisible() and "needs a note" in d.problem.text()
        assert QApplication.focusWidget() is d.note
        qtbot.keyClicks(d.note, "no vital signs given")
        qtbot.keyClick(d.note, Qt.Key.Key_Return)

    seen = _in_dialog(qtbot, other_without_then_with_note)
    press(qtbot, "c")
    qtbot.waitUntil(lambda: seen.get("done", False), timeout=5000)
    assert "error" not in seen, seen["error"]
    assert c.draft.answers[CANNOT_ASSESS_KEY] == {"reason": "other",
                                                  "note": "no vital signs given"}
    assert c.draft.answers["overall"] == 4
    assert panel.cannot_label.isVisible()
    assert "Other: no vital signs given" in panel.cannot_label.text()
    assert not any(wd.isEnabled() for wd in panel.widgets)
    assert c.missing() == [] and c.score() is None
    qtbot.waitUntil(lambda: focused() is panel, timeout=5000)
    chord(qtbot, Qt.Key.Key_Return, CTRL)  # done, next item
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id != item, timeout=10000)
    wait_saved(qtbot, w)
    assert not panel.cannot_label.isVisible()  # the next item is not marked
    assert all(wd.isEnabled() for wd in panel.widgets)
    last = _history(project_path, item)[-1]
    assert last.status == "done"
    assert last.draft.answers[CANNOT_ASSESS_KEY]["reason"] == "other"

    # back to it: the mark is shown; remove it in the dialog, then Ctrl+Z brings it back
    chord(qtbot, Qt.Key.Key_Up, CTRL)
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id == item, timeout=10000)
    assert panel.cannot_label.isVisible()
    seen = _in_dialog(qtbot, lambda d: d.unmark.click())
    qtbot.waitUntil(lambda: focused() is panel, timeout=5000)
    press(qtbot, "c")
    qtbot.waitUntil(lambda: seen.get("done", False), timeout=5000)
    assert "error" not in seen, seen["error"]
    assert CANNOT_ASSESS_KEY not in c.draft.answers and not panel.cannot_label.isVisible()
    wait_saved(qtbot, w)
    assert CANNOT_ASSESS_KEY not in _history(project_path, item)[-1].draft.answers
    chord(qtbot, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: CANNOT_ASSESS_KEY in c.draft.answers, timeout=10000)
    qtbot.waitUntil(panel.cannot_label.isVisible, timeout=5000)


def test_the_history_names_both() -> None:
    from medreview.domain.judgment import JudgmentDraft
    from medreview.domain.not_assessed import cannot_assess_value
    from medreview.domain.rubric import Question, QuestionKind
    from medreview.qt.grading.history_dialog import revision_html

    crit = Question("c1", QuestionKind.CRITERION, "Calls 911", points=5)
    html = revision_html(JudgmentDraft(answers={"c1": NOT_APPLICABLE}), (crit,))
    assert "not applicable (N/A)" in html and "not met" not in html
    html = revision_html(JudgmentDraft(answers={
        "c1": True, CANNOT_ASSESS_KEY: cannot_assess_value("other", "<b>no vitals</b>")}),
        (crit,))
    assert "Cannot assess" in html and "Other: &lt;b&gt;no vitals&lt;/b&gt;" in html
    assert CANNOT_ASSESS_KEY not in html
