"""ErrorWidget: an error-taxonomy question (categories with severities), keyboard driven.

A digit picks the category (two digits when there are more than nine), a second digit the
severity, and the entry is added, carrying the answer-text span tagged with E if there is one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QWidget

from medreview.domain.display_text import visible_text
from medreview.domain.rubric import Question
from medreview.qt.flow_layout import FlowLayout
from medreview.qt.grading.question_widgets import QuestionWidget, option_button


class ErrorWidget(QuestionWidget):
    """Error categories with severity. Keys: a digit picks the category, a second digit the
    severity, and the entry is added (with the pending answer-text span, if one was tagged)."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        self.pending_category: str | None = None
        self.pending_span: dict[str, Any] | None = None
        self.hint = QLabel()
        self.hint.setTextFormat(Qt.TextFormat.PlainText)  # quotes answer text
        self.hint.setWordWrap(True)
        # The recorded state in words: "no errors found" (an explicit empty list) must never
        # look like "not reviewed" (no answer), which an empty entry list alone would. It
        # sits beside the hint, so the form (and the gold editor) grows no taller.
        self.state_chip = QLabel()
        self.state_chip.setObjectName("errorState")
        self.state_chip.setTextFormat(Qt.TextFormat.PlainText)
        self.state_chip.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.state_chip)
        top.addWidget(self.hint, 1)
        self.body.addLayout(top)
        cats = FlowLayout()
        self.cat_buttons: list[QPushButton] = []
        for i, c in enumerate(question.categories, start=1):
            b = option_button(f"{i} · {c.label}", c.description)
            b.clicked.connect(lambda _=False, n=i: self._pick_category(n))
            self.cat_buttons.append(b)
            cats.addWidget(b)
        self.body.addLayout(cats)
        sev = FlowLayout()
        self.sev_buttons: list[QPushButton] = []
        for i, s in enumerate(question.severities, start=1):
            b = option_button(f"{i} · {s.label}", s.description)
            b.clicked.connect(lambda _=False, n=i: self._pick_severity(n))
            self.sev_buttons.append(b)
            sev.addWidget(b)
        self.body.addLayout(sev)
        self.entries = QListWidget()
        self.entries.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.entries.setMaximumHeight(110)
        self.entries.setWordWrap(True)
        self.entries.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.addWidget(self.entries)
        self._show()

    def _label(self, entry: dict[str, Any]) -> str:
        cat = next((c.label for c in self.question.categories if c.id == entry.get("category")),
                   str(entry.get("category")))
        sev = next((s.label for s in self.question.severities
                    if s.value == entry.get("severity")), str(entry.get("severity", "")))
        span = entry.get("span")
        quote = f' — “{span["text"][:60]}”' if span and span.get("text") else ""
        return visible_text(f"{cat} ({sev}){quote}")

    def _show(self) -> None:
        self.entries.clear()
        for entry in self._value or []:
            self.entries.addItem(self._label(entry))
        self.entries.setVisible(bool(self._value))
        self.state_chip.setText(self.state_text())
        self.state_chip.setProperty("state", self.state())
        self.state_chip.style().unpolish(self.state_chip)
        self.state_chip.style().polish(self.state_chip)
        for b, c in zip(self.cat_buttons, self.question.categories, strict=True):
            b.setChecked(c.id == self.pending_category)
        for b in self.sev_buttons:
            b.setEnabled(self.pending_category is not None or not self.question.severities)
        span = (f'Tagging “{visible_text(self.pending_span["text"][:80])}”. '
                if self.pending_span else "")
        if self.pending_category is None:
            n = len(self._value or [])
            self.hint.setText(f"{span}Choose a category, then a severity. "
                              f"{n} error{'s' if n != 1 else ''} recorded; 0 removes the last."
                              if n else f"{span}Choose a category, then a severity"
                              + (" (0 records “no errors found”)." if self._value is None
                                 else "."))
        else:
            self.hint.setText(f"{span}Now choose the severity (1–{len(self.sev_buttons)}).")

    def reset(self, value: Any) -> None:
        self.pending_category = None  # a half-entered error or a tagged span of the last item
        self.pending_span = None
        super().reset(value)

    def state(self) -> str:
        """``"none_found"`` (explicit empty list), ``"errors"`` or ``"not_reviewed"``."""
        if self._value is None:
            return "not_reviewed"
        return "errors" if self._value else "none_found"

    def state_text(self) -> str:
        n = len(self._value or [])
        return {"not_reviewed": "○ Not reviewed yet",
                "none_found": "✓ No errors found",
                "errors": f"⚠ {n} error{'s' if n != 1 else ''} recorded"}[self.state()]

    def start_span(self, span: dict[str, Any]) -> None:
        self.pending_span = span
        self.pending_category = None
        self._show()

    def _pick_category(self, n: int) -> None:
        self.pending_category = self.question.categories[n - 1].id
        if not self.question.severities:
            self._add(None)
        else:
            self._show()

    def _pick_severity(self, n: int) -> None:
        if self.pending_category is not None:
            self._add(self.question.severities[n - 1].value)

    def _add(self, severity: Any) -> None:
        entry: dict[str, Any] = {"category": self.pending_category}
        if severity is not None:
            entry["severity"] = severity
        if self.pending_span is not None:
            entry["span"] = self.pending_span
        self.pending_category = None
        self.pending_span = None
        self._commit([*(self._value or []), entry])

    def digit(self, n: int) -> bool:
        if self.pending_category is None:
            return self._numbered(n, len(self.question.categories), self._pick_category)
        if 1 <= n <= len(self.question.severities):
            self._pick_severity(n)
            return True
        return False

    def clear(self) -> bool:
        if self.pending_category is not None or self.pending_span is not None:
            self.pending_category = None
            self.pending_span = None
            self._show()
            return True
        if self._value:
            self._commit(list(self._value)[:-1])
            return True
        if self._value is None:  # an explicit empty list records "no error found"
            self._commit([])
            return True
        return False
