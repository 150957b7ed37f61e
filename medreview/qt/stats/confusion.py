"""A confusion matrix as a small shaded table: reference labels down, judge labels across."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)


def label_text(label: Any) -> str:
    s = str(label)
    return {"True": "met", "False": "not met"}.get(s, s)


class ConfusionTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setMinimumHeight(120)

    def set_matrix(self, df: Any, reference: str) -> None:
        """``df``: rows = reference label, columns = judge label (counts); None clears."""
        self.clear()
        if df is None or df.empty:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        rows = [label_text(r) for r in df.index]
        cols = [label_text(c) for c in df.columns]
        self.setRowCount(len(rows) + 1)
        self.setColumnCount(len(cols) + 1)
        self.setHorizontalHeaderLabels([f"judge:\n{c}" for c in cols] + ["total"])
        self.setVerticalHeaderLabels([f"{reference}: {r}" for r in rows] + ["total"])
        m = df.to_numpy(dtype=float)
        top = max(float(m.max()), 1.0)
        bold = QFont()
        bold.setBold(True)
        for i in range(len(rows) + 1):
            for j in range(len(cols) + 1):
                if i < len(rows) and j < len(cols):
                    v = m[i, j]
                    item = QTableWidgetItem(f"{int(v)}")
                    # Diagonal (agreement) in blue, off-diagonal (disagreement) in orange.
                    base = (47, 111, 208) if i == j else (217, 130, 43)
                    alpha = int(40 + 160 * v / top)
                    item.setBackground(QBrush(QColor(*base, alpha)))
                    if i == j:
                        item.setFont(bold)
                else:
                    total = m[i, :].sum() if i < len(rows) else (
                        m[:, j].sum() if j < len(cols) else m.sum())
                    item = QTableWidgetItem(f"{int(total)}")
                    item.setForeground(QGuiApplication.palette().brush(
                        QPalette.ColorRole.PlaceholderText))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(i, j, item)

    def counts(self) -> list[list[int]]:
        """The matrix without totals (for tests)."""
        def cell(i: int, j: int) -> int:
            item = self.item(i, j)
            return int(item.text()) if item is not None else 0

        return [[cell(i, j) for j in range(self.columnCount() - 1)]
                for i in range(self.rowCount() - 1)]
