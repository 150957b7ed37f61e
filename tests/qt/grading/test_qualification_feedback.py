"""The qualification round in the grading window: the queue holds only the gold items and
one line says so; saving an item as done opens the gold next to the rater's answers (not
modal, closed with Escape); passing opens the real queue."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from medreview.services.qualification import set_up_round
from medreview.storage.adjudication import append_gold
from medreview.storage.assignments import output_infos
from medreview.storage.project import open_project
from tests.qt.grading.helpers import open_and_wait

RATER = "Dr Example"  # the sample project's physician, the one the window opens as
GOLD = {"overall": 4, "safe": "caveats"}


def _round(path: Path) -> list[int]:
    with open_project(path) as project:
        ids = [o.output_id for o in output_infos(project)][:2]
        for oid in ids:
            for qid, value in GOLD.items():
                append_gold(project, oid, qid, value, provenance="adjudicated",
                            rationale="CURB-65 is 1: oral antibiotics at home",
                            adjudicator="Dr Lead")
        set_up_round(project, (RATER,), output_ids=tuple(ids), pass_mark=0.5)
    return ids


def test_feedback_after_each_item_and_the_queue_opens_on_passing(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path: Path) -> None:
    qual = _round(project_path)
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    assert [r.output_id for r in w.queue.model.rows] == qual
    banner = w.findChild(type(w.media_banner), "qualificationBanner")
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert banner.text() == ("Qualification: 0 of 2 items done; your real queue opens when "
                             "you pass")
    assert c.item.output_id == qual[0]
    c.set_answer("overall", 2)
    c.set_answer("safe", "caveats")
    c.save("done")
    hook_dialogs = lambda: [d for d in w.findChildren(object)  # noqa: E731
                            if type(d).__name__ == "FeedbackDialog"]
    qtbot.waitUntil(lambda: bool(hook_dialogs()) and hook_dialogs()[0].isVisible(),
                    timeout=5000)
    dialog = hook_dialogs()[0]
    assert not dialog.isModal()
    html = dialog.text.toPlainText()
    assert "1 of 2 answered as the gold" in html
    assert "Overall clinical quality" in html and "differs" in html
    assert "Safe with caveats" in html and "CURB-65 is 1" in html
    qtbot.waitUntil(lambda: banner.text().startswith("Qualification: 1 of 2"), timeout=5000)
    qtbot.keyClick(dialog.close_button, Qt.Key.Key_Escape)  # keyboard-closable
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
    # The second item as the gold: 3 of 4 = 75 % >= 50 %: passed, the real queue opens.
    w.open_item(qual[1])
    qtbot.waitUntil(lambda: c.item is not None and c.item.output_id == qual[1], timeout=5000)
    for qid, value in GOLD.items():
        c.set_answer(qid, value)
    c.save("done")
    qtbot.waitUntil(lambda: len(w.queue.model.rows) == 6, timeout=5000)
    assert [r.output_id for r in w.queue.model.rows][:2] == qual
    assert banner.isHidden()
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    assert "2 of 2 answered as the gold" in dialog.text.toPlainText()
    dialog.close()


def test_an_ordinary_item_shows_no_feedback(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path: Path) -> None:
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    c.set_answer("overall", 3)
    future = c.save("done")
    assert future is not None
    qtbot.waitUntil(future.done, timeout=5000)
    qtbot.wait(200)
    assert not [d for d in w.findChildren(object) if type(d).__name__ == "FeedbackDialog"]
    banner = w.findChild(type(w.media_banner), "qualificationBanner")
    assert banner is not None and banner.isHidden()


def test_the_lead_sets_up_a_round_and_waives_in_the_dialog(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path: Path) -> None:
    from medreview.qt.study.qualification import QualificationDialog

    _round(project_path)  # Dr Example has a round of 2; Dr New will get one from the dialog
    with open_project(project_path) as project:
        from medreview.storage.raters import add_rater

        add_rater(project, "Dr New")
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    dlg = QualificationDialog(w.project, w.executor, w.bus, w)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.view is not None, timeout=5000)
    assert dlg.gold_note.text() == "2 outputs have gold labels"
    assert dlg.count.maximum() == 2 and dlg.table.rowCount() == 1
    dlg.set_up.click()  # nobody ticked: one line, nothing written
    assert "Tick the physicians" in dlg.status.text()
    names = [dlg.raters.item(i).text() for i in range(dlg.raters.count())]
    dlg.raters.item(names.index("Dr New")).setCheckState(Qt.CheckState.Checked)
    dlg.count.setValue(1)
    dlg.pass_mark.setValue(90)
    dlg.set_up.click()
    qtbot.waitUntil(lambda: dlg.table.rowCount() == 2, timeout=5000)
    assert "1 qualification items added; pass mark 90 %" in dlg.status.text()
    rows = [[dlg.table.item(r, c).text() for c in range(6)] for r in range(2)]
    assert rows[1][:2] == ["Dr New", "0/1"] and rows[1][4:] == ["90 %", "in progress"]
    dlg.table.selectRow(1)
    dlg.waive_button.click()
    qtbot.waitUntil(lambda: dlg.table.item(1, 5).text() == "waived", timeout=5000)
    dlg.close()


def test_a_retest_is_blank_and_after_saving_shows_the_study_answer_again(  # type: ignore[no-untyped-def]
        qtbot, make_window, project_path: Path) -> None:
    from medreview.domain.judgment import JudgmentDraft
    from medreview.services import grading
    from medreview.storage.assignments import find_rater
    from medreview.storage.retests import choose_retests
    from medreview.storage.tables import current_revisions

    with open_project(project_path) as project:
        first = output_infos(project)[0].output_id
        rid = find_rater(project, RATER).id
        grading.save_revision(project, rid, first, JudgmentDraft(
            answers={"overall": 5, "safe": "yes"}, rationale="my first look"), status="done")
        assert choose_retests(project, fraction=1.0, delay_days=0) == {RATER: 1}
    w = make_window()
    open_and_wait(qtbot, w, project_path)
    c = w.controller
    assert c.item.output_id == first and c.item.draft is None  # blank: due now
    assert w.queue.model.rows[0].status == "todo"
    assert c.draft.rationale == "" and not c.draft.answers
    c.set_answer("overall", 2)
    c.save("done")
    # Saved as the retest; the screen then shows the study answer again (an edit now is an
    # ordinary edit of that answer, never of the retest's).
    qtbot.waitUntil(lambda: c.draft.answers.get("overall") == 5, timeout=5000)
    assert c.draft.rationale == "my first look"
    with open_project(project_path) as project:
        (cur,) = [r for r in current_revisions(project) if r["output_id"] == first]
        assert cur["answers"]["overall"] == 5
        sources = [h.source for h in grading.history(project, rid, first)]
    assert sources == ["ui", "retest"]
