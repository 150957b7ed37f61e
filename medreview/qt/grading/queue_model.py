"""QueueModel: the rater's queue as a QAbstractTableModel over plain ``QueueRow`` values.

All rows stay in memory (a ``QueueRow`` is small; 100,000 are a few tens of MB) and a filter is
a list of row indices, so ``data()`` is O(1) and a save updates one row with ``dataChanged``
instead of a reset. Filtering itself is the pure ``services.grading_screen.filter_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from medreview.domain.display_text import tooltip_text, visible_text
from medreview.qt.status import tone_color
from medreview.services.grading_screen import (
    QueueCounts,
    QueueFilter,
    count_queue,
    filter_rows,
    is_cannot_assess,
    recount,
)
from medreview.services.views import QueueRow

COLUMNS = ("#", "Case", "Title", "Response", "Status", "⚑", "Updated")
# "cannot": a done item marked "cannot assess" (key C): finished, but not a rating.
STATUS_TEXT = {"todo": "To do", "draft": "Started", "done": "Done", "skipped": "Skipped",
               "cannot": "⊘ Can't"}  # the tooltip says the rest
STATUS_TONE = {"done": "ok", "draft": "warn", "skipped": "muted",
               "cannot": "set_aside"}  # colours: qt/status.py

Index = QModelIndex | QPersistentModelIndex


def shown_status(row: QueueRow) -> str:
    """The state the Status column shows: the row's status, or "cannot" for a done item
    marked "cannot assess"."""
    return "cannot" if is_cannot_assess(row) else row.status


class QueueModel(QAbstractTableModel):
    def __init__(self, rows: Sequence[QueueRow] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[QueueRow] = list(rows)
        self._filter = QueueFilter()
        self._order: list[int] = list(range(len(self._rows)))
        self._by_output: dict[int, int] = {r.output_id: i for i, r in enumerate(self._rows)}
        self._display_pos: dict[int, int] | None = None  # row index → display row, built lazily
        # Counted once per row set, then moved by each saved row's old and new state: a save
        # must not walk 100,000 rows to redraw the progress bar.
        self._counts = count_queue(self._rows)

    # data -------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[self._order[index.row()]]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.position + 1
            if col == 1:  # ids, titles and model names are data: hidden characters marked
                return visible_text(row.case_external_id)
            if col == 2:
                return visible_text(row.case_title)
            if col == 3:
                return visible_text(row.model if self._filter.reveal_models else row.blind_label)
            if col == 4:
                status = shown_status(row)
                return STATUS_TEXT.get(status, status)
            if col == 5:
                return "⚑" if row.flagged else ""
            if col == 6:
                return row.updated_at.strftime("%Y-%m-%d %H:%M") if row.updated_at else ""
        elif role == Qt.ItemDataRole.ForegroundRole and col == 4:
            tone = STATUS_TONE.get(shown_status(row))
            return QBrush(tone_color(tone)) if tone else None
        elif role == Qt.ItemDataRole.ToolTipRole and col in (1, 2):
            return tooltip_text(f"{row.case_title}\nTags: {', '.join(row.tags) or '—'}")
        elif role == Qt.ItemDataRole.ToolTipRole and col == 4 and is_cannot_assess(row):
            # The reason and note are the rater's own text: shown as plain, marked text.
            return tooltip_text(f"Cannot assess (done, not a rating): {row.cannot_assess}")
        elif role == Qt.ItemDataRole.UserRole:
            return row.output_id
        return None

    # access -----------------------------------------------------------------------------------
    @property
    def rows(self) -> list[QueueRow]:
        return self._rows

    @property
    def order(self) -> list[int]:
        return self._order

    def row_at(self, display_row: int) -> QueueRow:
        return self._rows[self._order[display_row]]

    def row_index(self, output_id: int) -> int | None:
        return self._by_output.get(output_id)

    def display_row(self, output_id: int) -> int | None:
        idx = self._by_output.get(output_id)
        if idx is None:
            return None
        if self._display_pos is None:
            self._display_pos = {ri: d for d, ri in enumerate(self._order)}
        return self._display_pos.get(idx)

    def counts(self) -> QueueCounts:
        return self._counts

    # changes ----------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[QueueRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._by_output = {r.output_id: i for i, r in enumerate(self._rows)}
        self._order = filter_rows(self._rows, self._filter)
        self._display_pos = None
        self._counts = count_queue(self._rows)  # a new row set (opening, import, merge)
        self.endResetModel()

    def set_filter(self, f: QueueFilter) -> None:
        if f == self._filter:
            return
        self.beginResetModel()
        self._filter = f
        self._order = filter_rows(self._rows, f)
        self._display_pos = None
        self.endResetModel()

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    def update_row(self, row: QueueRow) -> None:
        """Replace one row after a save; only that row repaints (the filter is not re-run,
        so an item just marked done does not vanish from under the rater's cursor)."""
        idx = self._by_output.get(row.output_id)
        if idx is None:
            return
        self._counts = recount(self._counts, self._rows[idx], row)
        self._rows[idx] = row
        d = self.display_row(row.output_id)
        if d is not None:
            self.dataChanged.emit(self.index(d, 0), self.index(d, len(COLUMNS) - 1))
