"""An item opens on its first unanswered required question, so a physician's first key answers
it (bench/bench_keystrokes.py: 11 keys for a 10-criterion item); a fully answered item opens on
question 1."""

from __future__ import annotations

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services.projects import open_project
from tests.qt.grading.helpers import focused, open_and_wait, press


def test_an_item_opens_on_its_first_unanswered_required_question(
        qtbot, make_window, project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    panel = w.view.panel
    missing = c.missing()
    assert missing
    assert panel.current_widget().question.id == missing[0]
    assert focused() is panel
    # Answering it from the keyboard (the first key) leaves it no longer missing.
    first = missing[0]
    q = panel.current_widget().question
    press(qtbot, "y" if q.kind.value == "criterion" else "1")
    assert first not in c.missing()


def test_a_half_graded_item_reopens_where_work_is_left(qtbot, make_window,
                                                       project_path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    item = c.item
    required = [q for q in item.questions() if q.required]
    assert len(required) >= 3
    output_id, rater_id = item.output_id, c.session.rater_id
    w.close()
    answers = {}
    for q in required[:2]:
        answers[q.id] = True if q.kind.value == "criterion" else (
            q.options[0].value if q.options else 1)
    project = open_project(project_path)
    try:
        grading.save_revision(project, rater_id, output_id, JudgmentDraft(answers=answers))
    finally:
        project.close()
    w2 = make_window()
    open_and_wait(qtbot, w2, project_path)
    assert w2.controller.item.output_id == output_id
    panel = w2.view.panel
    missing = w2.controller.missing()
    assert missing[0] == required[2].id
    assert panel.current_widget().question.id == required[2].id
    assert panel.current == [x.question.id for x in panel.widgets].index(required[2].id) > 0
