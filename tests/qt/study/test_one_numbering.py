"""One numbering of options: for every stored value of the built-in scales, grading's button,
the gold editor's button and the gold editor's "Current gold" / "Majority" lines read the same
caption (the key to press and the label), never the stored value."""

from __future__ import annotations

import datetime as dt

import pytest

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import QuestionKind
from medreview.qt.grading.question_widgets import ChoiceWidget
from medreview.qt.grading.rubric_panel import RubricPanel
from medreview.qt.study.gold_editor import GoldEditor
from medreview.rubrics.templates import load_template
from medreview.services.study import GoldView


@pytest.mark.parametrize("key", ["quality_harm", "medval"])
def test_grading_and_adjudication_show_the_same_caption_per_value(qtbot, key: str) -> None:
    form = load_template(key)
    scales = [q for q in form.questions
              if q.kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE)]
    assert scales
    panel = RubricPanel()
    qtbot.addWidget(panel)
    panel.load("t", form.questions, JudgmentDraft())
    editor = GoldEditor()
    qtbot.addWidget(editor)
    for q in scales:
        grading = next(w for w in panel.widgets if w.question.id == q.id)
        assert isinstance(grading, ChoiceWidget)
        for i, opt in enumerate(q.options):
            gold = GoldView(opt.value, "adjudicated", 1, "", None, dt.datetime(2026, 1, 1))
            editor.show_question(q, gold, opt.value, True, {})
            assert isinstance(editor.widget, ChoiceWidget)
            shown = grading.buttons[i].text()
            assert shown == f"{i + 1} · {opt.label}"  # the key is the position, not the value
            assert editor.widget.buttons[i].text() == shown
            assert editor.widget.buttons[i].isChecked()
            assert editor.existing.text().startswith(f"Current gold: {shown} · ")
            assert editor.majority.text() == f"Majority: {shown}"


def test_a_zero_based_scale_never_reads_zero(qtbot) -> None:
    harm = next(q for q in load_template("quality_harm").questions if q.id == "harm_extent")
    editor = GoldEditor()
    qtbot.addWidget(editor)
    editor.show_question(harm, None, 0, True, {})
    assert editor.majority.text() == "Majority: 1 · No harm"
    assert "0 ·" not in editor.majority.text()


def test_a_bare_pairwise_question_reads_as_in_grading(qtbot) -> None:
    from medreview.domain.rubric import Question
    from medreview.qt.grading.question_factory import widget_for

    q = Question("pref", QuestionKind.PAIRWISE, "Which answer is better?")
    grading = widget_for(q, 1)
    qtbot.addWidget(grading)
    assert isinstance(grading, ChoiceWidget)
    editor = GoldEditor()
    qtbot.addWidget(editor)
    for i, value in enumerate(("A", "B", "tie")):
        editor.show_question(q, None, value, True, {})
        assert editor.majority.text() == f"Majority: {grading.buttons[i].text()}"


def test_no_errors_found_reads_the_same_in_adjudication(qtbot) -> None:
    from medreview.qt.study.values import format_value

    errors = next(q for q in load_template("medval").questions if q.kind is QuestionKind.ERROR)
    assert format_value(errors, []) == "No errors found"  # as the grading chip says
    assert format_value(errors, None) == "—"  # not reviewed
