"""CannotAssessDialog: why the rater cannot assess this item (``domain.not_assessed``).

Keyboard first: the reasons are one radio group (Tab reaches it, arrows choose), the note is a
line of text, Enter marks the item, Escape leaves it as it was. "Other" needs a note; the
dialog says so rather than closing. An item already marked offers to remove the mark.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.not_assessed import (
    NOTE_MAX,
    REASONS,
    CannotAssess,
    cannot_assess_value,
)

CLEAR = "clear"  # ``choice`` after "Assess it after all"


class CannotAssessDialog(QDialog):
    def __init__(self, current: CannotAssess | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cannot assess this item")
        self.setMinimumWidth(560)  # the note reads whole while it is typed
        self.choice: dict[str, Any] | str | None = None
        lay = QVBoxLayout(self)
        intro = QLabel("Why can you not assess this answer? The item counts as done and "
                       "stays out of every score and agreement statistic.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        for n, (reason, label) in enumerate(REASONS.items()):
            b = QRadioButton(label.replace("&", "&&"))
            self.group.addButton(b, n)
            self.buttons[reason] = b
            lay.addWidget(b)
        chosen = current.reason if current is not None and current.reason in REASONS \
            else next(iter(REASONS))
        self.buttons[chosen].setChecked(True)
        self.note = QLineEdit(current.note if current is not None else "")
        self.note.setMaxLength(NOTE_MAX)
        self.note.setPlaceholderText("Note (needed for Other): what is missing or unclear")
        self.note.setAccessibleName("Note")
        lay.addWidget(self.note)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        lay.addWidget(self.problem)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.mark = QPushButton("Mark as cannot assess")
        self.mark.setDefault(True)
        self.mark.setAutoDefault(True)
        box.addButton(self.mark, QDialogButtonBox.ButtonRole.AcceptRole)
        self.unmark: QPushButton | None = None
        if current is not None:
            self.unmark = QPushButton("Assess it after all")
            self.unmark.setAutoDefault(False)
            box.addButton(self.unmark, QDialogButtonBox.ButtonRole.DestructiveRole)
            self.unmark.clicked.connect(self._on_unmark_clicked)
        box.accepted.connect(self._on_accepted)
        box.rejected.connect(self.reject)
        lay.addWidget(box)
        self.buttons[chosen].setFocus()

    def reason(self) -> str:
        return next(r for r, b in self.buttons.items() if b.isChecked())

    def _on_accepted(self) -> None:
        try:
            self.choice = cannot_assess_value(self.reason(), self.note.text())
        except ValueError as exc:
            self.problem.setText(str(exc).capitalize() + ".")
            self.note.setFocus()
            return
        self.accept()

    def _on_unmark_clicked(self) -> None:
        self.choice = CLEAR
        self.accept()
