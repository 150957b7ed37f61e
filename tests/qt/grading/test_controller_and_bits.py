"""Controller failure handling, the bridge, blinding, flags, and small rendering helpers."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.rubric import ErrorCategory, Option, Question, QuestionKind
from medreview.qt.bridge import Op
from medreview.qt.grading.answer_view import render_markdown
from medreview.qt.grading.history_dialog import answer_text, revision_html
from medreview.runtime.executors import DbExecutor
from medreview.services import grading
from medreview.services.projects import list_raters, open_project
from tests.qt.grading.helpers import open_and_wait, press, wait_saved


def test_op_delivers_results_and_errors_on_the_main_thread(qtbot) -> None:
    ex = DbExecutor()
    seen: list[tuple[str, object, bool]] = []
    main = threading.current_thread()
    Op(lambda: 7).success(
        lambda v: seen.append(("ok", v, threading.current_thread() is main))).run(ex)
    Op(lambda: 1 / 0).failure(
        lambda e: seen.append(("err", type(e).__name__,
                               threading.current_thread() is main))).run(ex)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert seen == [("ok", 7, True), ("err", "ZeroDivisionError", True)]
    ex.shutdown()


def test_a_failed_save_says_so_and_is_retried(qtbot, make_window, project_path, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    real = grading.save_revision
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", flaky)
    press(qtbot, "3")
    qtbot.waitUntil(lambda: w.save_label.property("state") == "error", timeout=10000)
    assert "NOT saved" in w.save_label.text() and "disk full" in w.save_label.text()
    assert c.dirty  # still unsaved, never shown as saved
    press(qtbot, "2")  # the next edit saves everything
    wait_saved(qtbot, w)
    assert calls["n"] == 2
    assert c.revision_no == 1


def test_reveal_models_and_flag(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    assert w.view.answer_view.title.text() == "Response A"
    assert w.queue.model.data(w.queue.model.index(0, 3)) == "Response A"
    w.reveal_act.setChecked(True)
    assert w.view.answer_view.title.text() == "model-alpha"
    assert w.queue.model.data(w.queue.model.index(0, 3)) == "model-alpha"
    press(qtbot, "f")
    assert w.view.panel.flag.isChecked()
    wait_saved(qtbot, w)
    assert w.queue.model.counts().flagged == 1
    assert w.queue.tabs.tabText(2) == "Flagged (1)"
    # The setting is the project's: a new window shows names too.
    w.close()
    again = make_window()
    open_and_wait(qtbot, again, project_path)
    assert again.reveal_act.isChecked()
    assert again.view.answer_view.title.text() == "model-alpha"


def test_markdown_lists_without_blank_line_render_as_lists() -> None:
    html = render_markdown("Do this:\n- one\n- two\n\n1. a\n2. b")
    assert html.count("<li>") == 4 and "<ul>" in html and "<ol>" in html
    assert "<li>" not in render_markdown("a - b - c")


def test_history_shows_answers_in_words() -> None:
    q_err = Question("e", QuestionKind.ERROR, "Errors", categories=(ErrorCategory("f", "Factual"),),
                     severities=(Option(2, "Major"),))
    q_ord = Question("o", QuestionKind.ORDINAL, "Overall", options=(Option(4, "Good"),))
    q_crit = Question("c", QuestionKind.CRITERION, "Names it", points=3)
    q_multi = Question("m", QuestionKind.MULTI_CHOICE, "Aspects",
                       options=(Option("a", "Accuracy"),))
    assert answer_text(q_ord, 4) == "Good"
    assert answer_text(q_crit, False) == "not met"
    assert answer_text(q_multi, []) == "none"
    assert answer_text(q_err, []) == "no error found"
    assert answer_text(q_err, [{"category": "f", "severity": 2,
                                "span": {"text": "wrong dose"}}]) == "Factual (Major) “wrong dose”"
    assert answer_text(q_ord, None) == "—"
    page = revision_html(JudgmentDraft(answers={"o": 4, "gone": 1}, rationale="<b>x</b>",
                                       confidence=0.6), (q_ord,))
    assert "Good" in page and "gone" in page and "60 %" not in page and "60%" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page  # rationale is escaped


def test_escape_returns_focus_from_a_text_field(qtbot, make_window, project_path):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    press(qtbot, "r")
    assert w.focusWidget() is w.view.panel.rationale
    press(qtbot, "yes 1 2")  # letters and digits are typed, not taken as keys
    assert w.view.panel.rationale.toPlainText() == "yes 1 2"
    assert w.controller.draft.answers == {}
    qtbot.keyClick(w.view.panel.rationale, Qt.Key.Key_Escape)
    assert w.focusWidget() is w.view.panel


def test_leaving_an_item_while_its_save_is_in_flight_loses_nothing(
        qtbot, make_window, project_path, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    out = c.item.output_id
    gate = threading.Event()
    real = grading.save_revision

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", slow)
    press(qtbot, "3")
    c.save()  # first save now in flight, held on the database thread
    assert c.saving
    press(qtbot, "k4")  # a newer answer while it is in flight
    qtbot.keyClick(w.view.panel, Qt.Key.Key_PageDown)  # leave the item at once
    gate.set()
    qtbot.waitUntil(lambda: c.item.output_id != out, timeout=10000)
    qtbot.waitUntil(lambda: not c.saving, timeout=10000)
    project = open_project(project_path)
    try:
        revs = grading.history(project, w.rater.id, out)
    finally:
        project.close()
    assert [r.draft.answers["overall"] for r in revs] == [3, 4]
    assert w.save_label.property("state") == "saved"


def test_a_failed_save_of_a_left_item_is_retried(qtbot, make_window, project_path, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    out = c.item.output_id
    real = grading.save_revision
    fail = {"on": True}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if fail["on"]:
            fail["on"] = False
            raise OSError("locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "save_revision", flaky)
    press(qtbot, "5")
    qtbot.keyClick(w.view.panel, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: c.item.output_id != out, timeout=10000)
    qtbot.waitUntil(lambda: w.save_label.property("state") == "error", timeout=10000)
    press(qtbot, "1")  # any later save first retries the failed one
    wait_saved(qtbot, w)
    row = w.queue.model.rows[w.queue.model.row_index(out)]
    assert row.status == "draft"
    w.close()
    project = open_project(project_path)
    try:
        revs = grading.history(project, list_raters(project)[0].id, out)
    finally:
        project.close()
    assert revs[-1].draft.answers == {"overall": 5}
