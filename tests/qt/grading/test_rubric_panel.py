"""RubricPanel and the per-kind question widgets, driven through their key handlers."""

from __future__ import annotations

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.grading.rubric_panel import RubricPanel
from medreview.services.sample_project import sample_rubric, sample_taxonomy


def _panel(qtbot, pairwise: bool = False):  # type: ignore[no-untyped-def]
    questions = (*sample_rubric(pairwise).questions,
                 Question("criterion:x", QuestionKind.CRITERION, "Mentions X", points=-3,
                          required=True),
                 *sample_taxonomy().questions)
    panel = RubricPanel()
    qtbot.addWidget(panel)
    edits: list[tuple[str, object]] = []
    panel.sig_answer_changed.connect(lambda q, v: edits.append((q, v)))
    panel.load("t", questions, JudgmentDraft(answers={"safe": "no"}))
    return panel, edits


def test_widgets_follow_the_form_and_show_the_draft(qtbot) -> None:
    panel, edits = _panel(qtbot)
    assert [w.question.id for w in panel.widgets] == [
        "overall", "safe", "issues", "minutes", "comment", "criterion:x", "errors"]
    assert panel.value_of("safe") == "no"
    assert panel.widgets[1].buttons[2].isChecked()
    assert "5 · Excellent" in panel.widgets[0].buttons[4].text()
    assert edits == []  # loading is not an edit


def test_digits_answer_the_current_question_and_move_on(qtbot) -> None:
    panel, edits = _panel(qtbot)
    assert panel.digit(9) is False  # no 9th anchor on a 5-point scale
    assert panel.digit(5)
    assert edits == [("overall", 5)] and panel.current == 1
    panel.digit(1)
    assert edits[-1] == ("safe", "yes") and panel.current == 2
    panel.digit(1)
    panel.digit(3)
    panel.digit(1)  # toggles accuracy off again
    assert edits[-1] == ("issues", ["communication"]) and panel.current == 2
    panel.step_question(1)
    panel.digit(4)
    panel.digit(2)
    assert edits[-1] == ("minutes", 42)
    panel.step_question(2)
    assert panel.yes_no(True)
    assert edits[-1] == ("criterion:x", True)
    assert panel.current == 6  # moved to the error question
    assert panel.yes_no(True) is False  # Y means nothing to an error question


def test_error_entries_by_category_then_severity(qtbot) -> None:
    panel, edits = _panel(qtbot)
    panel.set_current(6)
    err = panel.error_widget()
    panel.digit(2)  # omission
    assert err.pending_category == "omission" and edits == []
    panel.digit(3)  # major
    assert edits[-1] == ("errors", [{"category": "omission", "severity": 3}])
    assert panel.start_error_span({"start": 4, "end": 9, "text": "words"})
    panel.digit(1)
    panel.digit(1)
    assert edits[-1][1][-1] == {"category": "factual", "severity": 1,
                                "span": {"start": 4, "end": 9, "text": "words"}}
    assert err.entries.count() == 2
    panel.clear_current()  # removes the last entry
    assert len(edits[-1][1]) == 1
    panel.clear_current()
    panel.clear_current()  # an explicit empty list: "no error found"
    assert edits[-1] == ("errors", [])


def test_current_question_and_missing_marks(qtbot) -> None:
    panel, _ = _panel(qtbot)
    panel.step_question(-1)
    assert panel.current == 0
    panel.step_question(99)
    assert panel.current == len(panel.widgets) - 1
    panel.set_missing(["overall", "criterion:x"])
    assert panel.widgets[0].property("missing") is True
    assert panel.widgets[1].property("missing") is False
    panel.show_first_missing(["criterion:x"])
    assert panel.current_widget().question.id == "criterion:x"
    assert "2 required questions left" in panel.missing_label.text()


def test_pairwise_confidence_and_clear(qtbot) -> None:
    panel, edits = _panel(qtbot, pairwise=True)
    panel.digit(3)
    assert edits[-1] == ("preference", "tie")
    confidences: list[object] = []
    panel.sig_confidence_changed.connect(confidences.append)
    panel.step_confidence(1)
    panel.step_confidence(1)
    panel.step_confidence(-1)
    assert confidences == [0.2, 0.4, 0.2]
    panel.set_current(0)
    assert panel.clear_current()
    assert edits[-1] == ("preference", None)


def test_more_than_nine_options_take_two_digits(qtbot) -> None:
    from medreview.domain.rubric import ErrorCategory, Option

    cats = tuple(ErrorCategory(f"c{i}", f"Cat {i}") for i in range(1, 12))
    q = Question("errs", QuestionKind.ERROR, "Errors", categories=cats,
                 severities=(Option(1, "Minor"), Option(2, "Major")))
    panel = RubricPanel()
    qtbot.addWidget(panel)
    edits: list[tuple[str, object]] = []
    panel.sig_answer_changed.connect(lambda qid, v: edits.append((qid, v)))
    panel.load("t", (q,), JudgmentDraft())
    err = panel.error_widget()
    panel.digit(1)
    assert err.pending_digit == 1 and err.pending_category is None
    panel.digit(1)  # 11
    assert err.pending_category == "c11"
    panel.digit(2)
    panel.digit(1)
    panel.clear_current()  # "1" then "0": 10
    assert err.pending_category == "c10"
    panel.digit(1)
    panel.digit(1)
    err.flush_digit()  # no second digit came: category 1
    assert err.pending_category == "c1"
    panel.digit(2)
    assert [e["category"] for e in edits[-1][1]] == ["c11", "c10", "c1"]
    panel.digit(5)  # 5 has no two-digit follow-up among 11: immediate
    assert err.pending_category == "c5" and err.pending_digit is None
    panel.digit(1)  # its severity
    assert edits[-1][1][-1] == {"category": "c5", "severity": 1}
    panel.digit(1)
    panel.digit(2)  # 12 does not exist: category 1 stands and 2 is its severity
    assert edits[-1][1][-1] == {"category": "c1", "severity": 2}


def test_no_errors_found_reads_differently_from_not_reviewed(qtbot) -> None:
    panel, edits = _panel(qtbot)
    panel.set_missing(["errors"])
    err = panel.error_widget()
    panel.set_current(6)
    assert err.value() is None
    assert err.state_chip.text() == "○ Not reviewed yet"
    assert "Errors: ○ Not reviewed yet" in panel.missing_label.text()
    panel.clear_current()  # 0 on an unreviewed error question: "no errors found"
    assert edits[-1] == ("errors", [])
    assert err.state_chip.text() == "✓ No errors found"
    assert err.state_chip.isVisibleTo(err)
    assert "Errors: ✓ No errors found" in panel.missing_label.text()
    panel.set_values(JudgmentDraft(answers={}))  # undo shows the state too
    assert err.state_chip.text() == "○ Not reviewed yet"
    assert "Errors: ○ Not reviewed yet" in panel.missing_label.text()
    panel.digit(2)
    panel.digit(3)
    assert err.state_chip.text() == "⚠ 1 error recorded"
    assert "Errors: ⚠ 1 error recorded" in panel.missing_label.text()


def test_one_rationale_box_when_the_form_asks_for_its_own(qtbot) -> None:
    from PySide6.QtWidgets import QApplication, QPlainTextEdit

    from medreview.rubrics.templates import load_template

    questions = load_template("quality_harm").questions
    panel = RubricPanel()
    qtbot.addWidget(panel)
    panel.resize(600, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.load("t", questions, JudgmentDraft())
    own = panel.form_rationale()
    assert own is not None
    qtbot.waitUntil(lambda: own.text_box.isVisibleTo(panel), timeout=2000)  # shown queued
    boxes = [b for b in panel.findChildren(QPlainTextEdit) if b.isVisibleTo(panel)]
    assert boxes == [own.text_box]
    assert not panel.rationale_title.isVisibleTo(panel)
    panel.rationale.setFocus()  # what R does: lands in the form's rationale question
    qtbot.waitUntil(lambda: QApplication.focusWidget() is own.text_box, timeout=2000)
    # Older work with text in the panel's rationale keeps it on screen: nothing is hidden.
    panel.load("t", questions, JudgmentDraft(rationale="kept"))
    assert panel.rationale.isVisibleTo(panel) and panel.rationale.toPlainText() == "kept"
    # A form without its own rationale question keeps the panel's box.
    panel.load("t", sample_rubric(False).questions, JudgmentDraft())
    assert panel.form_rationale() is None and panel.rationale.isVisibleTo(panel)
