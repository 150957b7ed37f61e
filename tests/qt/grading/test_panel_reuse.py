"""The rubric panel keeps a form's widgets from item to item (only values change), rebuilds
what differs (per-case criteria, another form or version), and carries nothing of the previous
item over; the queue's counts follow each save without a recount."""

from __future__ import annotations

import dataclasses
import random

from PySide6.QtWidgets import QApplication

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.grading.error_widget import ErrorWidget
from medreview.qt.grading.question_factory import widget_for
from medreview.qt.grading.question_widgets import NumberWidget, TextWidget
from medreview.qt.grading.queue_model import QueueModel
from medreview.qt.grading.rubric_panel import RubricPanel
from medreview.services.grading_screen import count_queue, with_status
from medreview.services.sample_project import sample_rubric, sample_taxonomy
from medreview.services.views import QueueRow

FORM = sample_rubric(False).questions
TAXONOMY = sample_taxonomy().questions


def _criterion(key: str, text: str, points: float = 2) -> Question:
    return Question(f"criterion:{key}", QuestionKind.CRITERION, text, points=points,
                    required=True)


def _case(*criteria: Question) -> tuple[Question, ...]:
    return (*FORM, *criteria, *TAXONOMY)  # the panel's order: form, case criteria, taxonomy


def _state(w) -> tuple:  # type: ignore[no-untyped-def]
    """What a rater sees of one question widget."""
    out: tuple = (w.prompt_label.text(), w.value(), w.property("current"),
                  w.property("missing"), w.pending_digit)
    if isinstance(w, NumberWidget):
        out += (w.edit_box.text(),)
    if isinstance(w, TextWidget):
        out += (w.text_box.toPlainText(),)
    if isinstance(w, ErrorWidget):
        out += (w.pending_category, w.pending_span, w.hint.text(), w.state_chip.text(),
                [w.entries.item(i).text() for i in range(w.entries.count())],
                w.entries.isVisibleTo(w))
    buttons = getattr(w, "buttons", None) or [*getattr(w, "cat_buttons", [])]
    return out + tuple(b.isChecked() for b in buttons)


def _panel(qtbot) -> RubricPanel:  # type: ignore[no-untyped-def]
    panel = RubricPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 700)
    panel.show()
    return panel


def test_same_form_keeps_every_widget_and_shows_only_the_new_values(qtbot) -> None:
    panel = _panel(qtbot)
    qs = _case()
    panel.load("first", qs, JudgmentDraft(answers={"overall": 2, "minutes": 7}))
    first = list(panel.widgets)
    panel.load("second", qs, JudgmentDraft(answers={"safe": "no"}))
    assert [id(w) for w in panel.widgets] == [id(w) for w in first]  # the same objects
    assert panel.value_of("overall") is None and panel.value_of("minutes") is None
    assert panel.value_of("safe") == "no"
    assert [panel._questions_box.indexOf(w) for w in panel.widgets] == list(range(len(qs)))


def test_a_reused_form_looks_exactly_like_a_fresh_one(qtbot) -> None:
    """Dirty every kind of state on item 1 (values, a buffered digit, a half-entered error
    with a tagged span, focus in an editor, required outlines, the current question), then
    load item 2: each widget must equal one built new for item 2."""
    panel = _panel(qtbot)
    qs = _case(_criterion("a", "Mentions A"))
    panel.load("one", qs, JudgmentDraft(answers={"overall": 4, "comment": "old text",
                                                 "minutes": 12,
                                                 "errors": [{"category": "omission"}]}))
    reused = list(panel.widgets)
    panel.set_missing([q.id for q in qs if q.required], mark=True)
    err = panel.error_widget()
    assert err is not None
    panel.start_error_span({"start": 0, "end": 4, "text": "Take"})
    panel.digit(1)  # a category picked, the severity still to come
    assert err.pending_category is not None and err.pending_span is not None
    number = next(w for w in panel.widgets if isinstance(w, NumberWidget))
    panel.set_current(panel.widgets.index(number))
    number.edit()
    panel.digit(9)  # typed into the focused number box
    assert QApplication.focusWidget() in (number.edit_box, None)
    assert panel.current != 0

    answers = {"safe": "yes", "criterion:a": False}
    panel.load("two", qs, JudgmentDraft(answers=answers))
    assert [id(w) for w in panel.widgets] == [id(w) for w in reused]
    fresh = _panel(qtbot)
    fresh.load("two", qs, JudgmentDraft(answers=answers))
    assert [_state(w) for w in panel.widgets] == [_state(w) for w in fresh.widgets]
    assert panel.current == 0
    # The controller counts the missing questions after each load, unmarked on a new item.
    for p in (panel, fresh):
        p.set_missing([q.id for q in qs if q.required and q.id not in answers], mark=False)
    assert panel.missing_label.text() == fresh.missing_label.text()
    assert not any(w.property("missing") for w in panel.widgets)
    focus = QApplication.focusWidget()
    assert focus is None or not any(w.isAncestorOf(focus) for w in panel.widgets)
    # The number box shows the new (empty) value although it had focus and text.
    assert number.edit_box.text() == "" and number.value() is None


def test_per_case_criteria_are_rebuilt_and_the_rest_kept(qtbot) -> None:
    panel = _panel(qtbot)
    shared = _criterion("shared", "Same text in both cases")
    panel.load("case 1", _case(_criterion("a", "Mentions A"), shared), JudgmentDraft())
    before = {w.question.id: w for w in panel.widgets}
    qs = _case(_criterion("b", "Mentions B", -1), _criterion("c", "Mentions C"), shared)
    panel.load("case 2", qs, JudgmentDraft(answers={"criterion:b": True}))
    after = {w.question.id: w for w in panel.widgets}
    assert [w.question for w in panel.widgets] == list(qs)
    for q in (*FORM, *TAXONOMY):
        assert after[q.id] is before[q.id]
    assert after["criterion:shared"] is before["criterion:shared"]
    assert "criterion:a" not in after
    assert after["criterion:b"] is not before.get("criterion:b")
    # Numbers follow the new places: the shared criterion and the taxonomy moved down one.
    for n, w in enumerate(panel.widgets, start=1):
        assert w.prompt_label.text() == widget_for(w.question, n).prompt_label.text()
    assert [panel._questions_box.indexOf(w) for w in panel.widgets] == list(range(len(qs)))
    assert panel.value_of("criterion:b") is True
    assert after["criterion:b"].met.isChecked()
    # The widget of the dropped criterion is gone from the layout (and deleted later).
    assert panel._questions_box.count() == len(qs)


def test_another_form_or_version_rebuilds(qtbot) -> None:
    panel = _panel(qtbot)
    panel.load("v1", _case(), JudgmentDraft())
    old = {w.question.id: w for w in panel.widgets}
    # Version 2 of the form changed one question's wording and made another optional.
    v2 = tuple(dataclasses.replace(q, prompt=q.prompt + " (v2)") if q.id == "overall"
               else dataclasses.replace(q, required=not q.required) if q.id == "safe" else q
               for q in FORM)
    panel.load("v2", (*v2, *TAXONOMY), JudgmentDraft())
    new = {w.question.id: w for w in panel.widgets}
    assert new["overall"] is not old["overall"] and "(v2)" in new["overall"].prompt_label.text()
    assert new["safe"] is not old["safe"]
    assert new["safe"].prompt_label.text().endswith("*") != old["safe"].prompt_label.text(
    ).endswith("*")  # the required marker follows the version
    assert new["minutes"] is old["minutes"]  # unchanged questions of the form are kept
    # A wholly different form: nothing is kept.
    other = (Question("q1", QuestionKind.NUMBER, "Score", minimum=0, maximum=10),)
    panel.load("other", other, JudgmentDraft())
    assert len(panel.widgets) == 1 and panel.widgets[0] not in old.values()
    assert panel._questions_box.count() == 1


def test_edits_after_reuse_reach_the_panel_once(qtbot) -> None:
    panel = _panel(qtbot)
    edits: list[tuple[str, object]] = []
    panel.sig_answer_changed.connect(lambda q, v: edits.append((q, v)))
    for title in ("a", "b", "c"):
        panel.load(title, _case(), JudgmentDraft())
    assert edits == []  # loading is never an edit
    panel.digit(3)
    assert edits == [("overall", 3)]  # one signal, not one per load


def test_queue_counts_follow_saves_without_a_recount(qtbot) -> None:
    rng = random.Random(7)
    rows = [QueueRow(output_id=i + 1, case_id=i + 1, case_external_id=f"c{i}",
                     case_title=f"C {i}", model="m", blind_label="Response A",
                     status=rng.choice(("todo", "draft", "done", "skipped")),
                     flagged=rng.random() < 0.2, tags=(), position=i, updated_at=None)
             for i in range(300)]
    model = QueueModel(rows)
    assert model.counts() == count_queue(rows)
    for _ in range(500):
        i = rng.randrange(len(rows))
        new = with_status(model.rows[i], rng.choice(("todo", "draft", "done", "skipped")),
                          rng.random() < 0.3)
        model.update_row(new)
        assert model.counts() == count_queue(model.rows)
    model.set_rows(rows[:100])  # a new row set (open, import, merge) is counted afresh
    assert model.counts() == count_queue(rows[:100])


def test_case_notes_reuse_their_sections_and_keep_nothing_of_the_last_case(qtbot) -> None:
    from medreview.domain.records import ContextDocument
    from medreview.qt.grading.case_view import CaseView

    def shown(view: CaseView) -> list[tuple[str, str, bool, bool]]:
        return [(s.title.text(), s.body.text(), s.button.isChecked(), s.body.isVisibleTo(s))
                for s in view.sections]

    docs3 = tuple(ContextDocument(f"Note {i}", f"text {i}") for i in range(3))
    docs2 = (ContextDocument("Labs", "Na 140", "lab"), ContextDocument("Hx", "none"))
    view = CaseView()
    qtbot.addWidget(view)
    view.show_case("a", (), (), docs3)
    first = list(view.sections)
    view.sections[0].button.setChecked(True)  # the rater unfolded a note of case a
    view.show_case("b", (), (), docs2)
    assert view.sections == first[:2]  # the same section objects
    for context in (docs2, docs3, ()):
        view.show_case("c", (), (), context)
        fresh = CaseView()
        qtbot.addWidget(fresh)
        fresh.show_case("c", (), (), context)
        assert shown(view) == shown(fresh)
        widgets = [view._context_layout.itemAt(i).widget()
                   for i in range(view._context_layout.count())]
        assert widgets == [*view.sections, None]  # the sections in order, then the stretch


def test_typing_on_the_last_item_cannot_be_undone_on_the_next(qtbot) -> None:
    panel = _panel(qtbot)
    qs = _case()
    panel.load("one", qs, JudgmentDraft())
    text = next(w for w in panel.widgets if isinstance(w, TextWidget))
    number = next(w for w in panel.widgets if isinstance(w, NumberWidget))
    text.text_box.insertPlainText("same words")
    number.edit_box.insert("5")
    number._on_edit_text_edited(number.edit_box.text())
    assert text.text_box.document().isUndoAvailable() and number.edit_box.isUndoAvailable()
    # The next item happens to hold the same answers: nothing to redraw, history still goes.
    panel.load("two", qs, JudgmentDraft(answers={text.question.id: "same words",
                                                 number.question.id: 5}))
    assert panel.widgets[qs.index(text.question)] is text
    assert text.text_box.toPlainText() == "same words" and number.edit_box.text() == "5"
    assert not text.text_box.document().isUndoAvailable()
    assert not number.edit_box.isUndoAvailable()


def test_a_prepared_answer_shows_as_one_rendered_on_the_spot(qtbot) -> None:
    from medreview.qt.grading.answer_view import AnswerView, _rendered

    text = "**Take** aspirin\u200b daily.\n\n- one\n- two <b>not html</b>"
    _rendered.cache_clear()
    fresh = AnswerView()
    qtbot.addWidget(fresh)
    fresh.show_answer("A", text)
    _rendered.cache_clear()
    AnswerView.prepare(text)  # a preloaded item's answer, rendered while the rater reads
    assert _rendered.cache_info().currsize == 1
    view = AnswerView()
    qtbot.addWidget(view)
    view.show_answer("A", text)
    assert _rendered.cache_info().hits == 1
    assert view.browser.toHtml() == fresh.browser.toHtml()
    assert view.raw.toPlainText() == fresh.raw.toPlainText()
    assert list(view._raw_map) == list(fresh._raw_map)


def test_the_session_tells_its_listener_about_preloaded_items() -> None:
    from medreview.services.grading_session import GradingSession, SessionListener

    class Project:
        read_only_reason = None

    class Listener(SessionListener):
        def __init__(self) -> None:
            self.items: list[object] = []

        def preloaded(self, item) -> None:  # type: ignore[no-untyped-def]
            self.items.append(item)

    item = object()
    listener = Listener()

    def run(call, ok, _failed):  # type: ignore[no-untyped-def]
        ok(item)  # the load "returns" this item at once

    session = GradingSession(Project(), 1, run, None, listener=listener)  # type: ignore[arg-type]
    session.preload(7)
    assert listener.items == [item] and session._cache[7] is item
