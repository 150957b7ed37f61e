"""Every physician's rating of one output side by side: a row per question, a column per rater,
then the majority and the current gold. Ratings that differ from the majority are tinted."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medreview.domain.not_assessed import ALL_ROWS
from medreview.domain.rubric import Question
from medreview.qt.study.values import PROVENANCE_TEXT, format_value
from medreview.qt.table_cells import cell
from medreview.services.study import OutputRatings

OFF_MAJORITY = "#fde7c8"
NO_MAJORITY = "#fbd9d5"
GOLD_BG = "#e3f1e6"
QUESTION_COLUMN_WIDTH = 230
QID_ROLE = Qt.ItemDataRole.UserRole


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _cell(text: str) -> QTableWidgetItem:
    # Prompts, values and rationales are data: hidden characters marked, tooltip literal.
    return cell(text)


class RatingsTable(QTableWidget):
    sig_question = Signal(str)
    """The adjudicator picked a question row (its id)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.itemSelectionChanged.connect(self._on_selection)
        self.question_ids: list[str] = []
        self.raters: list[str] = []

    def show_ratings(self, questions: list[Question], ratings: OutputRatings,
                     labels: dict[str, str], disputed: set[str]) -> None:
        """``questions`` in panel order; only rows someone answered (or with gold) appear."""
        marks = ratings.not_assessed
        everything = marks.get(ALL_ROWS, {})  # cannot assess: every question of the item
        rows = [q for q in questions
                if q.id in ratings.ratings or q.id in ratings.gold or q.id in marks]
        self.raters = sorted({r for v in ratings.ratings.values() for r in v}
                             | {r for v in marks.values() for r in v},
                             key=lambda r: labels.get(r, r))
        heads = ["Question", *(labels.get(r, r) for r in self.raters), "Majority", "Gold"]
        self.blockSignals(True)
        self.clear()
        self.setColumnCount(len(heads))
        self.setHorizontalHeaderLabels(heads)
        self.setRowCount(len(rows))
        self.question_ids = [q.id for q in rows]
        bold = QFont(self.font())
        bold.setBold(True)
        for row, q in enumerate(rows):
            by_rater = ratings.ratings.get(q.id, {})
            has_maj = q.id in ratings.majority
            maj = ratings.majority.get(q.id)
            prompt = _cell(("⚠ " if q.id in disputed else "") + q.prompt)
            prompt.setData(QID_ROLE, q.id)
            if q.id in disputed:
                prompt.setFont(bold)
            self.setItem(row, 0, prompt)
            for col, r in enumerate(self.raters, start=1):
                if r not in by_rater:
                    said = marks.get(q.id, {}).get(r) or everything.get(r, "")
                    mark = _cell(said)  # not a rating: no majority colour, muted
                    if said:
                        mark.setForeground(QBrush(QColor("#7a7f87")))
                    self.setItem(row, col, mark)
                    continue
                cell = _cell(format_value(q, by_rater[r]))
                if len({_key(v) for v in by_rater.values()}) > 1:
                    off = not has_maj or _key(by_rater[r]) != _key(maj)
                    if off:
                        cell.setBackground(QBrush(QColor(NO_MAJORITY if not has_maj
                                                         else OFF_MAJORITY)))
                        cell.setForeground(QBrush(QColor("#1d1f23")))
                self.setItem(row, col, cell)
            majority = _cell(format_value(q, maj) if has_maj else "no majority")
            if not has_maj:
                majority.setForeground(QBrush(QColor("#7a7f87")))
            self.setItem(row, len(self.raters) + 1, majority)
            g = ratings.gold.get(q.id)
            prov = PROVENANCE_TEXT.get(g.provenance, g.provenance) if g else ""
            gold = _cell(f"{format_value(q, g.value)}\n({prov})" if g else "")
            if g:
                gold.setBackground(QBrush(QColor(GOLD_BG)))
                gold.setForeground(QBrush(QColor("#1d1f23")))
            self.setItem(row, len(self.raters) + 2, gold)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(60)
        # The question keeps a readable width; answers share the rest and wrap.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(0, QUESTION_COLUMN_WIDTH)
        self.blockSignals(False)

    def select_question(self, question_id: str) -> None:
        if question_id in self.question_ids:
            row = self.question_ids.index(question_id)
            self.selectRow(row)
            item = self.item(row, 0)
            if item is not None:
                self.scrollToItem(item)

    def step(self, delta: int) -> None:
        rows = self.selectionModel().selectedRows()
        row = rows[0].row() if rows else -1
        target = min(max(row + delta, 0), len(self.question_ids) - 1)
        if target >= 0:
            self.selectRow(target)

    def header_texts(self) -> list[str]:
        heads = (self.horizontalHeaderItem(c) for c in range(self.columnCount()))
        return [h.text() if h is not None else "" for h in heads]

    def _on_selection(self) -> None:
        rows = self.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self.question_ids):
            self.sig_question.emit(self.question_ids[rows[0].row()])
