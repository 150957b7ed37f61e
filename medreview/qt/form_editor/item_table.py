"""An editable list of small records (options, error categories, severities) as a table with
Add / Remove / Up / Down, emitting the whole list as plain mappings after every edit.

Cells are plain text (a ``QTableWidgetItem`` never renders HTML) with hidden characters shown
as ``⟦U+XXXX⟧`` markers and read back from them; empty optional fields are left out of the
mapping, as the canonical file form leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import unmark, visible_text
from medreview.qt.form_editor.draft import show_number

# (field key, header, required): required fields are written even when empty, so that the
# loader names the empty field instead of a missing one.
Column = tuple[str, str, bool]
ValueReader = Callable[[str, Any], Any]  # (typed text, value before) -> stored value


class ItemTable(QWidget):
    sig_changed = Signal(list)
    """The rows as a list of mappings, after any edit."""

    def __init__(self, columns: list[Column], new_row: Callable[[int], dict[str, Any]],
                 read_first: ValueReader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self.new_row = new_row
        self.read_first = read_first  # how the first column's text becomes a value
        self.rows: list[dict[str, Any]] = []
        self._loading = False
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels([c[1] for c in columns])
        self.table.verticalHeader().setVisible(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        header = self.table.horizontalHeader()
        # The description takes the spare width; ids, values and labels keep a readable one.
        stretch = next((i for i, c in enumerate(columns) if c[0] == "description"),
                       len(columns) - 1)
        for i in range(len(columns)):
            if i == stretch:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch)
            else:
                header.setSectionResizeMode(i, QHeaderView.ResizeMode.Interactive)
                self.table.setColumnWidth(i, 150)
        self.table.setMinimumHeight(150)
        self.table.itemChanged.connect(self._on_item_changed)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_row)
        self.up_button.clicked.connect(lambda: self.move_row(-1))
        self.down_button.clicked.connect(lambda: self.move_row(1))
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table)
        lay.addLayout(buttons)

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = [dict(r) if isinstance(r, dict) else {} for r in rows]
        self._fill()

    def _fill(self) -> None:
        self._loading = True
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, (key, _header, _req) in enumerate(self.columns):
                value = row.get(key)
                text = show_number(value) if not isinstance(value, str) else value
                self.table.setItem(r, c, QTableWidgetItem(visible_text(text)))
        self._loading = False

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._loading or item.row() >= len(self.rows):
            return
        key, _header, required = self.columns[item.column()]
        row = self.rows[item.row()]
        text = unmark(item.text())
        if item.column() == 0 and self.read_first is not None:
            row[key] = self.read_first(text, row.get(key))
        elif text or required:
            row[key] = text
        else:
            row.pop(key, None)
        self.sig_changed.emit([dict(r) for r in self.rows])

    def current(self) -> int:
        return self.table.currentRow()

    def add_row(self) -> None:
        self.rows.append(self.new_row(len(self.rows)))
        self._fill()
        self.table.setCurrentCell(len(self.rows) - 1, 0)
        self.sig_changed.emit([dict(r) for r in self.rows])

    def remove_row(self) -> None:
        r = self.current()
        if 0 <= r < len(self.rows):
            del self.rows[r]
            self._fill()
            if self.rows:
                self.table.setCurrentCell(min(r, len(self.rows) - 1), 0)
            self.sig_changed.emit([dict(r) for r in self.rows])

    def move_row(self, step: int) -> None:
        r = self.current()
        t = r + step
        if 0 <= r < len(self.rows) and 0 <= t < len(self.rows):
            self.rows[r], self.rows[t] = self.rows[t], self.rows[r]
            self._fill()
            self.table.setCurrentCell(t, max(0, self.table.currentColumn()))
            self.sig_changed.emit([dict(r) for r in self.rows])

    def cell_text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def set_cell(self, row: int, column: int, text: str) -> None:
        """Type ``text`` into a cell as a user would (tests, keyboard-free scripting)."""
        item = self.table.item(row, column)
        assert item is not None
        item.setText(text)
