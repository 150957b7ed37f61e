"""One widget per question kind, generated from ``domain.rubric.Question``.

Each widget shows the prompt and its options with the key that picks them, holds its value,
and emits ``sig_changed(question_id, value)`` on user edits only (``set_value`` is silent).
Buttons never take keyboard focus: focus stays on the rubric panel so the keymap keeps working.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import tooltip_text, visible_text
from medreview.domain.not_assessed import NOT_APPLICABLE, is_not_applicable, na_allowed
from medreview.domain.rubric import Option, Question
from medreview.domain.validation import check_answer
from medreview.qt.flow_layout import FlowLayout
from medreview.qt.option_text import option_caption, options_of

DIGIT_PAUSE_MS = 700
BUTTON_LINE = 60  # characters per line of an option button


def _repolish(w: QWidget) -> None:
    w.style().unpolish(w)
    w.style().polish(w)


def option_button(text: str, tip: str = "") -> QPushButton:
    # Labels and descriptions come from rubric files: literal text, no mnemonic, no rich tip.
    # A button cannot wrap: a long label is broken into lines, so it is shown whole and does
    # not widen the panel past its edge.
    shown = textwrap.fill(visible_text(text), BUTTON_LINE, replace_whitespace=False,
                          drop_whitespace=True, break_on_hyphens=False)
    b = QPushButton(shown.replace("&", "&&"))
    b.setCheckable(True)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    b.setToolTip(tooltip_text(tip))
    b.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return b


def _fmt_points(points: float) -> str:
    text = f"{points:+g}"
    return f"{text} pt" if abs(points) == 1 else f"{text} pts"


class QuestionWidget(QFrame):
    sig_changed = Signal(str, object)
    """Emitted with (question id, new value) when the rater changes the answer."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = question
        self.setObjectName("question")
        self.setProperty("current", False)
        self.setProperty("missing", False)
        self._value: Any = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.number = number
        self.prompt_label = QLabel()
        self.prompt_label.setTextFormat(Qt.TextFormat.PlainText)
        self.prompt_label.setText(self._prompt_text())
        self.prompt_label.setObjectName("questionPrompt")
        self.prompt_label.setWordWrap(True)
        self.prompt_label.setToolTip(tooltip_text(question.help or ("Required" if question.required
                                                                    else "")))
        head.addWidget(self.prompt_label, 1)
        if question.points is not None:
            pts = QLabel(_fmt_points(question.points))
            pts.setObjectName("points")
            pts.setProperty("sign", "neg" if question.points < 0 else "pos")
            pts.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            head.addWidget(pts)
        # "Not applicable" where the question allows it (domain.not_assessed.na_allowed).
        self.na_button: QPushButton | None = None
        if na_allowed(question):
            self.na_button = option_button("X · N/A", "Not applicable to this case (X); "
                                           "left out of the score and of agreement")
            self.na_button.setObjectName("notApplicable")
            self.na_button.clicked.connect(lambda: self.not_applicable())
            head.addWidget(self.na_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(head)
        if question.help:
            help_label = QLabel()
            help_label.setTextFormat(Qt.TextFormat.PlainText)
            help_label.setText(visible_text(question.help))
            help_label.setWordWrap(True)
            help_label.setEnabled(False)
            outer.addWidget(help_label)
        self.body = QVBoxLayout()
        self.body.setSpacing(4)
        outer.addLayout(self.body)

        # Lists longer than nine take two digits ("1" then "1" = 11); a lone first digit
        # stands on its own once the rater pauses.
        self.pending_digit: int | None = None
        self._digit_commit: Callable[[int], None] | None = None
        self._digit_timer = QTimer(self)
        self._digit_timer.setSingleShot(True)
        self._digit_timer.setInterval(DIGIT_PAUSE_MS)
        self._digit_timer.timeout.connect(self.flush_digit)

    def _prompt_text(self) -> str:
        star = " *" if self.question.required else ""
        return visible_text(f"{self.number}. {self.question.prompt}{star}")

    # reuse for the next item ------------------------------------------------------------------
    def renumber(self, number: int) -> None:
        """The same question at another place in the form (per-case criteria before it)."""
        if number != self.number:
            self.number = number
            self.prompt_label.setText(self._prompt_text())

    def reset(self, value: Any) -> None:
        """Show ``value`` as a freshly built widget would: no buffered digit, no focus inside,
        no outline. The panel reuses a form's widgets from item to item, so nothing of the
        previous item may survive here."""
        self._digit_timer.stop()
        self.pending_digit = None
        self._digit_commit = None
        focus = QApplication.focusWidget()
        if focus is not None and self.isAncestorOf(focus):
            focus.clearFocus()  # a focused editor would keep the previous item's text
        self.set_missing(False)
        self.set_value(value)

    # state ------------------------------------------------------------------------------------
    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = value
        self._show()
        self._show_na()

    def _commit(self, value: Any) -> None:
        if check_answer(self.question, value) is not None:
            return  # never store an answer the question would reject
        self._value = value
        self._show()
        self._show_na()
        self.sig_changed.emit(self.question.id, value)

    def _show_na(self) -> None:
        if self.na_button is not None:
            self.na_button.setChecked(is_not_applicable(self._value))

    def not_applicable(self) -> bool:
        """Answer "not applicable", or clear that answer; False where N/A is not allowed."""
        if self.na_button is None:
            return False
        self._commit(None if is_not_applicable(self._value) else NOT_APPLICABLE)
        return True

    def _show(self) -> None:  # subclasses draw ``self._value``
        return None

    def set_current(self, on: bool) -> None:
        if self.property("current") != on:  # re-polishing is the slow part: only on change
            self.setProperty("current", on)
            _repolish(self)

    def set_missing(self, on: bool) -> None:
        if self.property("missing") != on:
            self.setProperty("missing", on)
            _repolish(self)

    # keys (return True when handled) ----------------------------------------------------------
    def _numbered(self, n: int, count: int, commit: Callable[[int], None]) -> bool:
        """Pick item ``n`` (1-based) of ``count``, buffering a first digit when two-digit
        numbers exist."""
        if self.pending_digit is not None:
            first, self.pending_digit = self.pending_digit, None
            self._digit_timer.stop()
            if 1 <= first * 10 + n <= count:
                commit(first * 10 + n)
                return True
            # "1" then "2" with 11 options: 1 stands, and 2 is the widget's next key
            # (the severity, for an error question).
            commit(first)
            return self.digit(n) if n else True
        if n == 0:
            return False
        if count > 9 and n * 10 <= count:
            self.pending_digit = n
            self._digit_commit = commit
            self._digit_timer.start()
            return True
        if 1 <= n <= count:
            commit(n)
            return True
        return False

    def flush_digit(self) -> None:
        """Commit a buffered first digit on its own (the pause after it)."""
        self._digit_timer.stop()
        if self.pending_digit is not None and self._digit_commit is not None:
            n, self.pending_digit = self.pending_digit, None
            self._digit_commit(n)

    def zero(self) -> bool:
        """The 0 key: the second digit of 10, 20, … when a first digit is waiting."""
        if self.pending_digit is None or self._digit_commit is None:
            return False
        return self._numbered(0, 10 ** 6, self._digit_commit)

    def digit(self, n: int) -> bool:
        return False

    def yes_no(self, yes: bool) -> bool:
        return False

    def clear(self) -> bool:
        if self._value is None:
            return False
        self._commit(None)
        return True

    def edit(self) -> bool:
        return False


class CriterionWidget(QuestionWidget):
    """Met / not met, with the criterion's signed points."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        row = QHBoxLayout()
        self.met = option_button("Y · Met", "Criterion met (Y or 1)")
        self.not_met = option_button("N · Not met", "Criterion not met (N or 2)")
        self.met.setProperty("neg", (question.points or 0) < 0)
        self.met.clicked.connect(lambda: self._commit(True))
        self.not_met.clicked.connect(lambda: self._commit(False))
        row.addWidget(self.met)
        row.addWidget(self.not_met)
        row.addStretch(1)
        self.body.addLayout(row)

    def _show(self) -> None:
        self.met.setChecked(self._value is True)
        self.not_met.setChecked(self._value is False)

    def yes_no(self, yes: bool) -> bool:
        self._commit(yes)
        return True

    def digit(self, n: int) -> bool:
        if n in (1, 2):
            self._commit(n == 1)
            return True
        return False


class ChoiceWidget(QuestionWidget):
    """Likert with labelled anchors, single choice, and the pairwise preference."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        options = options_of(question)
        self.options: tuple[Option, ...] = options
        row = FlowLayout()
        self.buttons: list[QPushButton] = []
        for i, opt in enumerate(options, start=1):
            b = option_button(option_caption(i, opt.label), opt.description)
            b.clicked.connect(lambda _=False, v=opt.value: self._commit(v))
            self.buttons.append(b)
            row.addWidget(b)
        self.body.addLayout(row)

    def _show(self) -> None:
        for b, opt in zip(self.buttons, self.options, strict=True):
            b.setChecked(self._value is not None and self._value == opt.value
                         and type(self._value) is not bool)

    def digit(self, n: int) -> bool:
        return self._numbered(n, len(self.options),
                              lambda k: self._commit(self.options[k - 1].value))


class MultiChoiceWidget(QuestionWidget):
    """Several options may be chosen; a digit toggles one."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        row = FlowLayout()
        self.buttons: list[QPushButton] = []
        for i, opt in enumerate(question.options, start=1):
            b = option_button(option_caption(i, opt.label), opt.description)
            b.clicked.connect(lambda _=False, n=i: self.digit(n))
            self.buttons.append(b)
            row.addWidget(b)
        self.body.addLayout(row)

    def _chosen(self) -> list[Any]:
        return list(self._value) if isinstance(self._value, list | tuple) else []  # N/A: none

    def _show(self) -> None:
        chosen = self._chosen()
        for b, opt in zip(self.buttons, self.question.options, strict=True):
            b.setChecked(opt.value in chosen)

    def digit(self, n: int) -> bool:
        return self._numbered(n, len(self.question.options), self._toggle)

    def _toggle(self, n: int) -> None:
        v = self.question.options[n - 1].value
        chosen = self._chosen()
        chosen = [c for c in chosen if c != v] if v in chosen else [*chosen, v]
        self._commit(chosen)


def _number_text(value: Any) -> str:
    """The box's text: blank when unanswered or "not applicable" (its button shows that)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return f"{value:g}"


class NumberWidget(QuestionWidget):
    """A number within the question's bounds; blank means unanswered."""

    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        row = QHBoxLayout()
        self.edit_box = QLineEdit()
        lo = question.minimum if question.minimum is not None else -1e12
        hi = question.maximum if question.maximum is not None else 1e12
        self.edit_box.setValidator(QDoubleValidator(lo, hi, 6, self.edit_box))
        self.edit_box.setPlaceholderText("press I, type a number, Esc")
        self.edit_box.setMaximumWidth(220)
        self.edit_box.textEdited.connect(self._on_edit_text_edited)
        row.addWidget(self.edit_box)
        if question.unit:
            unit = QLabel()
            unit.setTextFormat(Qt.TextFormat.PlainText)
            unit.setText(visible_text(question.unit))
            row.addWidget(unit)
        row.addStretch(1)
        self.body.addLayout(row)

    def _on_edit_text_edited(self, text: str) -> None:
        text = text.strip()
        if not text:
            self._commit(None)
            return
        try:
            number = float(text)
        except ValueError:
            return
        self._commit(int(number) if number.is_integer() else number)

    def _show(self) -> None:
        text = _number_text(self._value)
        if self.edit_box.text() != text and not self.edit_box.hasFocus():
            self.edit_box.setText(text)

    def reset(self, value: Any) -> None:
        super().reset(value)
        # setText also clears the box's undo history: Ctrl+Z must not bring back the last
        # item's number, even when both items hold the same one.
        self.edit_box.setText(_number_text(value))

    def digit(self, n: int) -> bool:
        self.edit_box.setFocus()
        self.edit_box.insert(str(n))
        self._on_edit_text_edited(self.edit_box.text())
        return True

    def edit(self) -> bool:
        self.edit_box.setFocus()
        self.edit_box.selectAll()
        return True


class TextWidget(QuestionWidget):
    def __init__(self, question: Question, number: int, parent: QWidget | None = None) -> None:
        super().__init__(question, number, parent)
        self.text_box = QPlainTextEdit()
        self.text_box.setPlaceholderText("press I to type, Esc to leave")
        self.text_box.setFixedHeight(64)
        self.text_box.setTabChangesFocus(True)
        self.text_box.textChanged.connect(self._on_text_changed)
        self.body.addWidget(self.text_box)

    def _on_text_changed(self) -> None:
        text = self.text_box.toPlainText()
        if text != (self._value or ""):
            self._commit(text if text else None)

    def _show(self) -> None:
        if self.text_box.toPlainText() != (self._value or ""):
            self.text_box.blockSignals(True)
            self.text_box.setPlainText(self._value or "")
            self.text_box.blockSignals(False)

    def reset(self, value: Any) -> None:
        super().reset(value)
        self.text_box.document().clearUndoRedoStacks()  # the last item's typing is not undoable

    def edit(self) -> bool:
        self.text_box.setFocus()
        return True

