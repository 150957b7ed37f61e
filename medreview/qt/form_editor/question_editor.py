"""Edits one question mapping: the common fields, then the fields of its kind (points; options;
categories and severities; bounds and unit). Emits the whole mapping after every edit.

Text fields show hidden characters as ``⟦U+XXXX⟧`` markers and read them back (a prompt copied
from a hostile file cannot hide text in the editor). Numbers are typed as text: what is not a
number is kept as typed, so the loader's message says what is wrong with it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import unmark, visible_text
from medreview.domain.rubric import QuestionKind
from medreview.qt.form_editor.draft import (
    KIND_LABELS,
    NO_NA_KINDS,
    cell_value,
    change_kind,
    join_tags,
    na_default,
    parse_number,
    show_number,
    split_tags,
)
from medreview.qt.form_editor.item_table import ItemTable

OPTION_KINDS = (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE, QuestionKind.MULTI_CHOICE,
                QuestionKind.PAIRWISE)


def _text_box(lines: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setTabChangesFocus(True)  # keyboard users leave the box with Tab
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + 14)
    return box


class QuestionEditor(QWidget):
    sig_changed = Signal(dict)
    """The edited question mapping."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question: dict[str, Any] = {}
        self.taken: set[str] = set()  # the other questions' ids (for a kind change)
        self._loading = False
        self.kind_box = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind_box.addItem(label, kind.value)
        self.id_edit = QLineEdit()
        self.prompt_edit = _text_box(3)
        self.help_edit = _text_box(3)
        self.required_box = QCheckBox("Required (an item is done only when this is answered)")
        self.na_box = QCheckBox("\u201cNot applicable\u201d may answer it (X; left out of "
                                "scores and agreement)")
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. axis:accuracy, safety")
        self.points_edit = QLineEdit()
        self.points_edit.setPlaceholderText("e.g. 5, or -3 for a penalty")
        self.minimum_edit = QLineEdit()
        self.maximum_edit = QLineEdit()
        self.unit_edit = QLineEdit()
        for w in (self.minimum_edit, self.maximum_edit):
            w.setPlaceholderText("none")
        common = QFormLayout()
        common.addRow("&Type", self.kind_box)
        common.addRow("I&d", self.id_edit)
        common.addRow("&Prompt", self.prompt_edit)
        common.addRow("&Help", self.help_edit)
        common.addRow("", self.required_box)
        common.addRow("", self.na_box)
        common.addRow("T&ags", self.tags_edit)
        self.points_row = QWidget()
        pl = QFormLayout(self.points_row)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addRow("P&oints", self.points_edit)
        self.number_row = QWidget()
        nl = QFormLayout(self.number_row)
        nl.setContentsMargins(0, 0, 0, 0)
        nl.addRow("Mi&nimum", self.minimum_edit)
        nl.addRow("Ma&ximum", self.maximum_edit)
        nl.addRow("&Unit", self.unit_edit)
        self.options = ItemTable([("value", "Value (stored)", True),
                                  ("label", "Label (shown)", True),
                                  ("description", "Description", False)],
                                 self._new_option, self._option_value)
        self.options_box = self._group("Options", self.options)
        self.categories = ItemTable([("id", "Id", True), ("label", "Label", True),
                                     ("description", "Description", False),
                                     ("group", "Group", False)],
                                    lambda n: {"id": f"category_{n + 1}",
                                               "label": f"Category {n + 1}"})
        self.categories_box = self._group("Error categories", self.categories)
        self.severities = ItemTable([("value", "Value (stored)", True),
                                     ("label", "Label (shown)", True),
                                     ("description", "Description", False)],
                                    lambda n: {"value": f"level_{n + 1}",
                                               "label": f"Level {n + 1}"},
                                    lambda text, before: cell_value(
                                        text, QuestionKind.SINGLE_CHOICE, before))
        self.severities_on = QCheckBox("Ask for a severity with every error")
        sev = QWidget()
        sl = QVBoxLayout(sev)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.severities_on)
        sl.addWidget(self.severities)
        self.severities_box = self._group("Severities", sev)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(common)
        for part in (self.points_row, self.number_row, self.options_box, self.categories_box,
                     self.severities_box):
            lay.addWidget(part)
        lay.addStretch(1)
        self.kind_box.activated.connect(self._on_kind_activated)
        self.id_edit.textEdited.connect(lambda t: self._set("id", unmark(t), keep_empty=True))
        self.prompt_edit.textChanged.connect(
            lambda: self._set("prompt", unmark(self.prompt_edit.toPlainText()), keep_empty=True))
        self.help_edit.textChanged.connect(
            lambda: self._set("help", unmark(self.help_edit.toPlainText())))
        self.required_box.toggled.connect(lambda on: self._set("required", True if on else None))
        # Stored only where it differs from the kind's default, so existing forms keep their hash.
        self.na_box.toggled.connect(
            lambda on: self._set("allow_na", None if on == na_default(self.kind) else on))
        self.tags_edit.textEdited.connect(
            lambda t: self._set("tags", split_tags(unmark(t)) or None))
        self.points_edit.textEdited.connect(lambda t: self._number("points", t))
        self.minimum_edit.textEdited.connect(lambda t: self._number("minimum", t))
        self.maximum_edit.textEdited.connect(lambda t: self._number("maximum", t))
        self.unit_edit.textEdited.connect(lambda t: self._set("unit", unmark(t)))
        self.options.sig_changed.connect(lambda rows: self._set("options", rows, keep_empty=True))
        self.categories.sig_changed.connect(
            lambda rows: self._set("categories", rows, keep_empty=True))
        self.severities.sig_changed.connect(
            lambda rows: self._set("severities", rows, keep_empty=True))
        self.severities_on.toggled.connect(self._on_severities_toggled)

    @staticmethod
    def _group(title: str, inner: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        lay = QVBoxLayout(box)
        lay.addWidget(inner)
        return box

    @property
    def kind(self) -> QuestionKind:
        try:
            return QuestionKind(str(self.question.get("type")))
        except ValueError:
            return QuestionKind.TEXT

    # loading ----------------------------------------------------------------------------------
    def load(self, question: dict[str, Any], taken: set[str]) -> None:
        self._loading = True
        self.question = dict(question)
        self.taken = set(taken)
        q = self.question
        kind = self.kind
        self.kind_box.setCurrentIndex(self.kind_box.findData(kind.value))
        self.id_edit.setText(visible_text(str(q.get("id", ""))))
        self.prompt_edit.setPlainText(visible_text(str(q.get("prompt", ""))))
        self.help_edit.setPlainText(visible_text(str(q.get("help", ""))))
        self.required_box.setChecked(bool(q.get("required")))
        allow_na = q.get("allow_na")
        self.na_box.setChecked(allow_na if isinstance(allow_na, bool) else na_default(kind))
        self.na_box.setVisible(kind not in NO_NA_KINDS)
        tags = q.get("tags") or []
        self.tags_edit.setText(visible_text(join_tags(tags if isinstance(tags, list) else [])))
        self.points_edit.setText(self._number_text(q.get("points")))
        self.minimum_edit.setText(self._number_text(q.get("minimum")))
        self.maximum_edit.setText(self._number_text(q.get("maximum")))
        self.unit_edit.setText(visible_text(str(q.get("unit", ""))))
        self.options.set_rows(list(q.get("options") or []))
        self.categories.set_rows(list(q.get("categories") or []))
        self.severities_on.setChecked("severities" in q)
        self.severities.set_rows(list(q.get("severities") or []))
        self.severities.setEnabled("severities" in q)
        self.points_row.setVisible(kind is QuestionKind.CRITERION)
        self.number_row.setVisible(kind is QuestionKind.NUMBER)
        self.options_box.setVisible(kind in OPTION_KINDS)
        self.options_box.setTitle("Options (optional: without them A, B and tie)"
                                  if kind is QuestionKind.PAIRWISE else
                                  "Scale points (numbers, increasing)"
                                  if kind is QuestionKind.ORDINAL else "Options")
        self.categories_box.setVisible(kind is QuestionKind.ERROR)
        self.severities_box.setVisible(kind is QuestionKind.ERROR)
        self._loading = False

    @staticmethod
    def _number_text(value: Any) -> str:
        return visible_text(value) if isinstance(value, str) else show_number(value)

    # editing ----------------------------------------------------------------------------------
    def _set(self, key: str, value: Any, *, keep_empty: bool = False) -> None:
        if self._loading:
            return
        if value in (None, "", []) and not keep_empty:
            self.question.pop(key, None)
        else:
            self.question[key] = value
        self.sig_changed.emit(dict(self.question))

    def _number(self, key: str, text: str) -> None:
        before = self.question.get(key)
        typed = unmark(text).strip()
        if before is not None and not isinstance(before, str) and show_number(before) == typed:
            return
        number = parse_number(typed)
        self._set(key, number if number is not None or not typed else typed)

    def _on_kind_activated(self, index: int) -> None:
        kind = QuestionKind(self.kind_box.itemData(index))
        if kind is self.kind:
            return
        question = change_kind(self.question, kind, self.taken)
        self.load(question, self.taken)
        self.sig_changed.emit(dict(self.question))

    def _on_severities_toggled(self, on: bool) -> None:
        if self._loading:
            return
        self.severities.setEnabled(on)
        if on:
            rows = self.severities.rows or [{"value": "minor", "label": "Minor"},
                                            {"value": "major", "label": "Major"}]
            self.severities.set_rows(rows)
            self._set("severities", [dict(r) for r in rows], keep_empty=True)
        else:
            self._set("severities", None)

    # option values ----------------------------------------------------------------------------
    def _new_option(self, n: int) -> dict[str, Any]:
        kind = self.kind
        if kind is QuestionKind.ORDINAL:
            values = [o.get("value") for o in self.options.rows]
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            nxt = int(max(numbers)) + 1 if numbers else n + 1
            return {"value": nxt, "label": f"Level {nxt}"}
        if kind is QuestionKind.PAIRWISE:
            present = {o.get("value") for o in self.options.rows}
            free = next((v for v in ("A", "B", "tie") if v not in present), "tie")
            return {"value": free, "label": {"A": "Answer A", "B": "Answer B"}.get(free, "Tie")}
        return {"value": f"option_{n + 1}", "label": f"Option {n + 1}"}

    def _option_value(self, text: str, before: Any) -> Any:
        return cell_value(text, self.kind, before)
