"""The gold answer of one output x question: what exists (with provenance), the majority, an
answer widget of the question's kind, a rationale, and the two actions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.domain.rubric import Question
from medreview.qt.grading.question_factory import widget_for
from medreview.qt.grading.question_widgets import QuestionWidget
from medreview.qt.study.values import PROVENANCE_TEXT, format_value
from medreview.services.study import GoldView

KEY_HINT = ("<b>M</b> accept majority · <b>Enter</b> save gold &amp; next · <b>1–9</b>, "
            "<b>Y</b>/<b>N</b> choose · <b>0</b> clear · <b>R</b> rationale · "
            "<b>J</b>/<b>K</b> question · <b>PgDn</b>/<b>PgUp</b> disagreement · "
            "<b>Ctrl+H</b> rater names · <b>Esc</b> back to the queue, then close")


class GoldEditor(QWidget):
    sig_accept_majority = Signal()
    sig_save = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Gold answer")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        self.existing = QLabel("")
        self.existing.setWordWrap(True)
        self.existing.setTextFormat(Qt.TextFormat.PlainText)  # quotes rationales: data
        lay.addWidget(self.existing)
        self.majority = QLabel("")
        self.majority.setTextFormat(Qt.TextFormat.PlainText)
        self.majority.setWordWrap(True)
        lay.addWidget(self.majority)
        self.host = QVBoxLayout()
        self.host.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self.host)
        self.widget: QuestionWidget | None = None
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("Rationale: why this is the gold answer (required "
                                          "when setting it by hand) — R to write, Ctrl+Enter "
                                          "to save")
        self.rationale.setFixedHeight(72)
        self.rationale.setTabChangesFocus(True)
        lay.addWidget(self.rationale)
        row = QHBoxLayout()
        self.accept = QPushButton("Accept majority  (M)")
        self.accept.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept.clicked.connect(self.sig_accept_majority.emit)
        self.save = QPushButton("Save gold && next  (Enter)")
        self.save.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.save.clicked.connect(self.sig_save.emit)
        row.addWidget(self.accept)
        row.addStretch(1)
        row.addWidget(self.save)
        lay.addLayout(row)
        hint = QLabel(KEY_HINT)
        hint.setWordWrap(True)
        hint.setEnabled(False)
        lay.addWidget(hint)
        lay.addStretch(1)
        self.question: Question | None = None
        self.show_question(None, None, None, False, {})

    def show_question(self, question: Question | None, gold: GoldView | None, majority: Any,
                      has_majority: bool, labels: dict[str, str]) -> None:
        """Put the question's answer widget up, prefilled with the current gold if any."""
        self.question = question
        if self.widget is not None:
            self.widget.hide()
            self.widget.deleteLater()
            self.widget = None
        self.rationale.clear()
        if question is None:
            self.existing.setText("Choose a disagreement on the left.")
            self.majority.setText("")
            self.accept.setEnabled(False)
            self.save.setEnabled(False)
            return
        self.widget = widget_for(question, 1)
        self.widget.prompt_label.setText(visible_text(question.prompt))
        self.host.addWidget(self.widget)
        if gold is not None:
            self.widget.set_value(gold.value)
            who = labels.get(gold.adjudicator or "", gold.adjudicator or "")
            by = f" by {who}" if who else ""
            why = f" — “{gold.rationale}”" if gold.rationale else ""
            self.existing.setText(visible_text(
                f"Current gold: {format_value(question, gold.value)} · "
                f"{PROVENANCE_TEXT.get(gold.provenance, gold.provenance)}{by}, revision "
                f"{gold.revision_no}{why}".replace("\n", "; ")))
        else:
            self.existing.setText("No gold answer yet.")
        if has_majority:
            self.majority.setText(visible_text("Majority: " + format_value(question, majority)
                                               .replace("\n", "; ")))
        else:
            self.majority.setText("No strict majority: set the gold answer by hand.")
        self.accept.setEnabled(has_majority)
        self.save.setEnabled(True)

    def value(self) -> Any:
        return self.widget.value() if self.widget is not None else None

    def rationale_text(self) -> str:
        return self.rationale.toPlainText().strip()
