"""RubricPanel: the grading form generated from an item's questions, plus rationale,
confidence, flag and the live score. It is a view: the controller owns the draft.

The panel keeps a *current question* (highlighted; J/K move it) that the digit and Y/N keys act
on, and it holds keyboard focus itself so those keys work after every save.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CannotAssess, cannot_assess_of, is_not_applicable
from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.flow_layout import FlowLayout
from medreview.qt.grading.error_widget import ErrorWidget
from medreview.qt.grading.question_factory import widget_for
from medreview.qt.grading.question_widgets import QuestionWidget, TextWidget
from medreview.qt.grading.region_list import RegionList

CONFIDENCE = ((None, "Confidence: not set"), (0.2, "1 · Very unsure (20 %)"),
              (0.4, "2 · Unsure (40 %)"), (0.6, "3 · Fairly sure (60 %)"),
              (0.8, "4 · Sure (80 %)"), (1.0, "5 · Certain (100 %)"))


class RubricPanel(QScrollArea):
    sig_answer_changed = Signal(str, object)
    """(question id, value): the rater changed an answer."""
    sig_rationale_changed = Signal(str)
    """The rationale text changed."""
    sig_confidence_changed = Signal(object)
    """New confidence (float in 0..1 or None)."""
    sig_flag_changed = Signal(bool)
    """The flag was toggled by the rater."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # Options wrap (FlowLayout) instead of widening the panel past the splitter.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.widgets: list[QuestionWidget] = []
        self.current = 0
        inner = QWidget()
        self.setWidget(inner)
        self._layout = QVBoxLayout(inner)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(8)
        head = QHBoxLayout()
        self.title = QLabel("No item")
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # case title and model name
        self.title.setObjectName("paneTitle")
        self.title.setWordWrap(True)
        self.score = QLabel("")
        self.score.setObjectName("score")
        head.addWidget(self.title, 1)
        head.addWidget(self.score)
        self._layout.addLayout(head)
        self.missing_label = QLabel("")
        self.missing_label.setWordWrap(True)
        self._missing_ids: list[str] | None = None  # unknown until the controller counts
        self._layout.addWidget(self.missing_label)
        # The item's "cannot assess" mark, in words (domain.not_assessed); hidden otherwise.
        self.cannot_label = QLabel("")
        self.cannot_label.setObjectName("cannotAssess")
        self.cannot_label.setTextFormat(Qt.TextFormat.PlainText)  # the note is the rater's text
        self.cannot_label.setWordWrap(True)
        self.cannot_label.hide()
        self._layout.addWidget(self.cannot_label)
        self._questions_box = QVBoxLayout()
        self._questions_box.setSpacing(6)
        self._layout.addLayout(self._questions_box)
        self.regions = RegionList()
        self._layout.addWidget(self.regions)
        self.rationale_title = QLabel("Rationale (R to type, Esc to leave)")
        self._layout.addWidget(self.rationale_title)
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("Why you graded it this way")
        self.rationale.setFixedHeight(80)
        self.rationale.setTabChangesFocus(True)
        self.rationale.textChanged.connect(self._on_rationale_text_changed)
        self._layout.addWidget(self.rationale)
        row = FlowLayout()
        self.confidence = QComboBox()
        self.confidence.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for value, label in CONFIDENCE:
            self.confidence.addItem(label, value)
        self.confidence.currentIndexChanged.connect(self._on_confidence_index_changed)
        self.flag = QCheckBox("F · Flag for the study lead")
        self.flag.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.flag.clicked.connect(self.sig_flag_changed.emit)
        row.addWidget(self.confidence)
        row.addWidget(self.flag)
        self._layout.addLayout(row)
        hint = QLabel("Ctrl+Enter save & next · S skip · Ctrl+Z undo · ? all keys")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self._layout.addWidget(hint)
        self._layout.addStretch(1)
        self._loading = False

    # building ---------------------------------------------------------------------------------
    def load(self, title: str, questions: tuple[Question, ...], draft: JudgmentDraft) -> None:
        self._loading = True
        self.title.setText(visible_text(title))
        self._place(questions, draft)
        self.rationale.setPlainText(draft.rationale)
        self._one_rationale(draft)
        self.set_confidence(draft.confidence)
        self.flag.setChecked(draft.flagged)
        self.current = 0
        self._mark_current()
        self._show_status()
        self.show_cannot_assess(cannot_assess_of(draft.answers))
        self._loading = False

    def _place(self, questions: tuple[Question, ...], draft: JudgmentDraft) -> None:
        """One widget per question, in order. Building a form's widgets is most of the time
        it takes to show an item, so a widget whose question is unchanged (the same form and
        version: equal ``Question`` values) is kept and only reset to the new draft; the
        rest (another case's criteria, another form) are built, the leftovers deleted."""
        spare: dict[Question, list[QuestionWidget]] = {}
        for w in self.widgets:
            spare.setdefault(w.question, []).append(w)
        placed: list[QuestionWidget] = []
        for n, q in enumerate(questions, start=1):
            same = spare.get(q)
            if same:
                w = same.pop(0)
                w.renumber(n)
                w.reset(draft.answers.get(q.id))
            else:
                w = widget_for(q, n)
                w.set_value(draft.answers.get(q.id))
                w.sig_changed.connect(self.sig_answer_changed.emit)
                if isinstance(w, ErrorWidget):
                    w.sig_changed.connect(self._show_status)
            placed.append(w)
        for rest in spare.values():
            for w in rest:
                # Reparenting re-polishes a styled widget (slow); hide and let Qt delete it.
                self._questions_box.removeWidget(w)
                w.hide()
                w.deleteLater()
        for i, w in enumerate(placed):
            if self._questions_box.indexOf(w) != i:  # new, or moved by a new row before it
                self._questions_box.removeWidget(w)
                self._questions_box.insertWidget(i, w)
        self.widgets = placed

    def form_rationale(self) -> TextWidget | None:
        """The form's own free-text rationale question (quality_harm asks for one), if any."""
        return next((w for w in self.widgets if isinstance(w, TextWidget)
                     and "rationale" in (w.question.id.strip().lower(),
                                         w.question.prompt.strip().lower())), None)

    def _one_rationale(self, draft: JudgmentDraft) -> None:
        """Show one rationale box: the form's own question when it has one. The panel's box
        stays when it already holds text (older work), so nothing stored is hidden."""
        own = self.form_rationale()
        show = own is None or bool(draft.rationale.strip())
        self.rationale_title.setVisible(show)
        self.rationale.setVisible(show)
        # R (which focuses the panel's box) then types into the form's question.
        if show or own is None:
            self.rationale.setFocusProxy(None)  # type: ignore[arg-type]  # None clears it
        else:
            self.rationale.setFocusProxy(own.text_box)

    def set_values(self, draft: JudgmentDraft) -> None:
        """Show a draft in the existing widgets (after undo) without emitting edits."""
        self._loading = True
        for w in self.widgets:
            w.set_value(draft.answers.get(w.question.id))
        if self.rationale.toPlainText() != draft.rationale:
            self.rationale.setPlainText(draft.rationale)
        self.set_confidence(draft.confidence)
        self.flag.setChecked(draft.flagged)
        self._show_status()
        self.show_cannot_assess(cannot_assess_of(draft.answers))
        self._loading = False

    def show_cannot_assess(self, found: CannotAssess | None) -> None:
        """Say that the item is marked "cannot assess" and why; its questions are greyed (the
        answers typed before are kept, but nothing on the item counts as a rating)."""
        self.cannot_label.setVisible(found is not None)
        if found is not None:
            self.cannot_label.setText(visible_text(
                f"Cannot assess — {found.label}. Nothing on this item is rated; "
                "C changes or removes the mark, Ctrl+Enter saves it as done."))
        for w in self.widgets:
            w.setEnabled(found is None)

    def set_confidence(self, value: float | None) -> None:
        idx = next((i for i, (v, _) in enumerate(CONFIDENCE)
                    if v is not None and value is not None and abs(v - value) < 1e-9), 0)
        self.confidence.blockSignals(True)
        self.confidence.setCurrentIndex(idx)
        self.confidence.blockSignals(False)

    def step_confidence(self, delta: int) -> None:
        idx = max(0, min(len(CONFIDENCE) - 1, self.confidence.currentIndex() + delta))
        if idx == 0 and delta < 0 and self.confidence.currentIndex() == 0:
            return
        self.confidence.setCurrentIndex(max(1, idx) if delta > 0 else idx)

    def _on_confidence_index_changed(self, idx: int) -> None:
        if not self._loading:
            self.sig_confidence_changed.emit(CONFIDENCE[idx][0])

    def _on_rationale_text_changed(self) -> None:
        if not self._loading:
            self.sig_rationale_changed.emit(self.rationale.toPlainText())

    # status display ---------------------------------------------------------------------------
    def set_score(self, text: str, tip: str = "") -> None:
        self.score.setText(text)
        self.score.setToolTip(tip)

    def set_missing(self, ids: list[str], mark: bool = True) -> None:
        """Count the unanswered required questions; outline them only when ``mark`` (after
        the rater tried to finish), so a fresh item is not a wall of warnings."""
        missing = set(ids) if mark else set()
        for w in self.widgets:
            w.set_missing(w.question.id in missing)
        self._missing_ids = list(ids)
        self._show_status()

    def _show_status(self, *_: object) -> None:
        """The counter line, with each error question's state in words: "no errors found" is
        an answer and reads differently from "not reviewed"."""
        ids = self._missing_ids
        parts = [] if ids is None else [
            f"{len(ids)} required question{'s' if len(ids) != 1 else ''} left" if ids
            else "All required questions answered"]
        errors = [w for w in self.widgets if isinstance(w, ErrorWidget)]
        for w in errors:
            name = f"{w.question.prompt}: " if len(errors) > 1 else "Errors: "
            parts.append(visible_text(name + w.state_text()))
        self.missing_label.setText(" · ".join(parts))

    def show_first_missing(self, ids: list[str]) -> None:
        for i, w in enumerate(self.widgets):
            if w.question.id in ids:
                self.set_current(i)
                return

    # navigation and keys ----------------------------------------------------------------------
    def _mark_current(self) -> None:
        for i, w in enumerate(self.widgets):
            w.set_current(i == self.current)
        if self.widgets:
            # Vertical only: ensureWidgetVisible would also scroll sideways.
            w = self.widgets[self.current]
            inner = self.widget()
            if inner is None:
                return
            top = w.mapTo(inner, w.rect().topLeft()).y()
            bar = self.verticalScrollBar()
            view_h = self.viewport().height()
            if top - 40 < bar.value():
                bar.setValue(max(0, top - 40))
            elif top + w.height() + 20 > bar.value() + view_h:
                bar.setValue(top + min(w.height(), view_h) + 20 - view_h)

    def set_current(self, i: int) -> None:
        if self.widgets:
            self.current = max(0, min(len(self.widgets) - 1, i))
            self._mark_current()

    def step_question(self, step: int) -> None:
        self.set_current(self.current + step)

    def current_widget(self) -> QuestionWidget | None:
        return self.widgets[self.current] if self.widgets else None

    def digit(self, n: int) -> bool:
        w = self.current_widget()
        if w is None or not w.digit(n):
            return False
        if w.pending_digit is not None:
            return True  # waiting for a possible second digit
        # A decided criterion or choice moves on, so a rubric is a run of single keys.
        if w.question.kind in (QuestionKind.CRITERION, QuestionKind.ORDINAL,
                               QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
            self.step_question(1)
        return True

    def not_applicable(self) -> bool:
        """X: the current question is not applicable (or no longer), where it may be."""
        w = self.current_widget()
        if w is None or not w.not_applicable():
            return False
        if is_not_applicable(w.value()):
            self.step_question(1)
        return True

    def yes_no(self, yes: bool) -> bool:
        w = self.current_widget()
        if w is None or not w.yes_no(yes):
            return False
        self.step_question(1)
        return True

    def clear_current(self) -> bool:
        w = self.current_widget()
        if w is not None and w.zero():  # "1" then "0" picks option 10
            return True
        return bool(w and w.clear())

    def edit_current(self) -> bool:
        w = self.current_widget()
        return bool(w and w.edit())

    def error_widget(self) -> ErrorWidget | None:
        return next((w for w in self.widgets if isinstance(w, ErrorWidget)), None)

    def start_error_span(self, span: dict[str, Any]) -> bool:
        w = self.error_widget()
        if w is None:
            return False
        self.set_current(self.widgets.index(w))
        w.start_span(span)
        return True

    def value_of(self, question_id: str) -> Any:
        return next((w.value() for w in self.widgets if w.question.id == question_id), None)
