"""Escalation and comments on screen: the adjudication window shows every physician's comment
(drafts too) under the columns' labels, never a name while names are hidden; a senior rater
opening an escalated item reads the reason in one line; O shows the others' comments only after
the rater submitted, blinded; the rules dialog saves rules and lists escalated items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel

from medreview.domain.escalation import EscalationRules, SevereRule
from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.services import escalation, grading
from medreview.services.projects import add_rater, open_project
from tests.qt.study.helpers import RATERS
from tests.study.helpers import study_project

SENIOR = "Dr Senior Sage"


def _say(project: Any, rater: str, output_id: int, why: str, status: str = "done",
         severity: int | None = None) -> int:
    rid = add_rater(project, rater).id
    errors = (Annotation("errors", "factual", severity),) if severity else ()
    grading.save_revision(project, rid, output_id, JudgmentDraft(
        answers={"overall": 3, "criterion:dx": True}, annotations=errors, rationale=why),
        status=status)
    return rid


def test_adjudication_window_shows_comments_under_the_column_labels(
        qtbot: Any, app: Any, disputed: Any) -> None:
    from medreview.qt.study.adjudication import AdjudicationWindow

    a, b, _c = RATERS
    disputed.call(_say, disputed.project, a, 1, "ALICE-SAYS-WHY")
    disputed.call(_say, disputed.project, "Dora Draftwell", 1, "DORA-DRAFT", status="draft")
    disputed.call(escalation.set_rules, disputed.project,
                  EscalationRules(disagreement=0.0, seniors=(SENIOR,)))
    disputed.call(escalation.run_escalation, disputed.project)
    w = AdjudicationWindow(disputed.project, disputed.db, disputed.bus)
    qtbot.addWidget(w)
    w.resize(1500, 900)
    w.show()
    qtbot.waitUntil(lambda: w.queue.row_of((1, "criterion:dx")) is not None, timeout=15000)
    w.queue.select_row(w.queue.row_of((1, "criterion:dx")))
    qtbot.waitUntil(lambda: w.item is not None and w.comments is not None
                    and w.item.output_id == 1, timeout=15000)
    qtbot.waitUntil(lambda: "ALICE-SAYS-WHY" in w.comments_view.toPlainText(), timeout=5000)
    text = w.comments_view.toPlainText()
    assert "DORA-DRAFT" in text and "(draft)" in text
    assert not any(n in text for n in (*RATERS, "Dora Draftwell")) and "Rater " in text
    assert w.escalated.isVisible() and w.escalated.text().startswith(
        "Escalated to a senior rater (todo): disagreement ")
    w.hide_names.setChecked(False)
    text = w.comments_view.toPlainText()
    assert a in text and "Dora Draftwell" in text and b not in text  # b wrote no comment
    assert w.escalated.text().startswith(f"Escalated to {SENIOR} (todo): disagreement ")
    w.close()


def test_senior_sees_the_reason_and_comments_only_after_submitting(
        qtbot: Any, tmp_path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.grading.peer_comments import BANNER, CommentsDialog
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    make_app()
    project = study_project(tmp_path / "p", n_cases=2, dicom=False)
    escalation.set_rules(project, EscalationRules(SevereRule(3), seniors=(SENIOR,)))
    _say(project, RATERS[0], 1, "ALICE-SAYS-WHY", severity=3)
    senior = add_rater(project, SENIOR).id
    [item] = escalation.escalated_items(project)
    assert item.senior == SENIOR and item.output_id == 1
    project.close()

    w = MainWindow(UiSettings(tmp_path / "qt.ini"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(tmp_path / "p", rater_id=senior)
    qtbot.waitUntil(lambda: w.controller is not None and w.controller.item is not None,
                    timeout=15000)
    banner = w.findChild(QLabel, BANNER)
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=5000)
    assert banner.text() == ("Escalated to you for a senior opinion: severe harm rated by "
                             "1 physician")
    assert banner.textFormat() == Qt.TextFormat.PlainText

    seen: list[str] = []

    def read_dialog() -> None:
        dlg = QApplication.activeModalWidget()
        if isinstance(dlg, CommentsDialog):
            seen.append(dlg.text.toPlainText())
            dlg.reject()
        else:
            QTimer.singleShot(20, read_dialog)

    QTimer.singleShot(0, read_dialog)
    qtbot.keyClick(w.view.panel, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=5000)
    assert "once you have submitted" in seen[0] and "ALICE" not in seen[0]
    # The senior submits: now the others' comment, blinded.
    c = w.controller
    with open_project(tmp_path / "p") as other:  # as from another screen
        grading.save_revision(other, c.rater_id, c.item.output_id,
                              JudgmentDraft(answers={"overall": 2}, rationale="mine"),
                              status="done")
    w.activateWindow()  # offscreen has no window manager to do it after the dialog
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    QTimer.singleShot(0, read_dialog)
    qtbot.keyClick(w.view.panel, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    assert "Rater 1" in seen[1] and "ALICE-SAYS-WHY" in seen[1] and RATERS[0] not in seen[1]
    assert "mine" not in seen[1]
    w.close()


def test_the_rules_dialog_saves_rules_and_lists_escalations(qtbot: Any, app: Any,
                                                            disputed: Any) -> None:
    from medreview.qt.study.escalation_dialog import OFF, EscalationDialog

    dlg = EscalationDialog(disputed.project, disputed.db, disputed.bus)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.severe.count() > 1, timeout=5000)
    levels = [dlg.severe.itemText(i) for i in range(dlg.severe.count())]
    assert levels[0] == OFF and "overall:5" in levels
    dlg.use_disagreement.setChecked(True)
    dlg.disagreement.setValue(0.3)
    dlg.seniors.setText("Dr One; Dr Two")
    dlg.save_button.click()
    qtbot.waitUntil(lambda: dlg.status.text().startswith("Rules saved"), timeout=5000)
    assert disputed.call(escalation.current_rules, disputed.project) == EscalationRules(
        None, 0.3, ("Dr One", "Dr Two"))
    dlg.preview_button.click()
    qtbot.waitUntil(lambda: dlg.status.text().startswith("Would escalate"), timeout=5000)
    assert "not saved" not in dlg.status.text()
    saved_preview = dlg.status.text()
    assert dlg.table.rowCount() == 0
    # The preview tries what is typed (nothing saved): no rule, nothing to escalate.
    dlg.use_disagreement.setChecked(False)
    dlg.status.setText("")
    dlg.preview_button.click()
    qtbot.waitUntil(lambda: dlg.status.text().startswith("No escalation"), timeout=5000)
    assert disputed.call(escalation.current_rules, disputed.project).disagreement == 0.3
    dlg.use_disagreement.setChecked(True)
    dlg.disagreement.setValue(0.9)  # stricter than saved: fewer (here none) would go
    dlg.preview_button.click()
    qtbot.waitUntil(lambda: "not saved" in dlg.status.text(), timeout=5000)
    assert dlg.status.text().startswith("Would escalate (rules as typed, not saved) 0 item")
    assert saved_preview != "Would escalate 0 item(s)."  # the saved rule would escalate some
    dlg.disagreement.setValue(0.3)
    dlg.run_button.click()
    qtbot.waitUntil(lambda: dlg.table.rowCount() > 0, timeout=5000)
    seniors = {dlg.table.item(r, 2).text() for r in range(dlg.table.rowCount())}
    assert seniors <= {"Dr One", "Dr Two"}
    assert any(changes.raters for changes in disputed.emitted)  # queues refresh
    # A bad list of seniors is one line, nothing stored.
    dlg.severe.setCurrentText("overall:5")
    dlg.seniors.setText("x" * 300)
    dlg.save_button.click()
    qtbot.waitUntil(lambda: "1 to 200 characters" in dlg.status.text(), timeout=5000)
    assert "\n" not in dlg.status.text()
