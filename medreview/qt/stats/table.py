"""A read-only, sortable table of statistics rows whose rows open their disagreeing items.

Rows are plain dicts (records of a ProjectStats table). Columns are declared for the keys the
screens know; ``columns_for`` appends any other column a table carries, so statistics added
later appear without a change here. A row with ``disagreeing_output_ids`` is activated by
double-click or Enter (``sig_activated``); a click on its Disagree count asks for the list of
those items (``sig_count_clicked``). A row with a ``paradox`` note has its value tinted and the
note in its tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QKeyEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QWidget

from medreview.qt.stats.format import interval, is_missing, number, statistic_name

IDS = "disagreeing_output_ids"
ITEMS = "disagreeing_items"  # (output_id, question_id) per disagreement, in the row's unit
PARADOX = "paradox"
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PARADOX_TINT = QColor(240, 160, 40, 70)  # amber, translucent: readable in light and dark themes
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """``kind``: text | num (3 decimals) | int | ci (ci_low–ci_high) | stat (statistic name) |
    count (number of disagreeing items) | custom (``fmt``)."""

    key: str
    title: str
    kind: str = "text"
    tip: str = ""
    fmt: Callable[[dict[str, Any]], str] | None = None


STANDARD = {
    "statistic": Column("statistic", "Statistic", "stat"),
    "value": Column("value", "Value", "num"),
    "ci": Column("ci", "95% CI", "ci", "confidence interval (see the method's CI column)"),
    "n_items": Column("n_items", "Items", "int"),
    "n_raters": Column("n_raters", "Raters", "int"),
    IDS: Column(IDS, "Disagree", "count", "items of this statistic on which its raters give "
                "different answers (judge rows: where the judge differs from the row's "
                "reference); click the number to list them, double-click the row to open "
                "them"),
}
# Columns never shown as their own column: folded into others or into the tooltip.
FOLDED = {"ci_low", "ci_high", IDS, ITEMS, PARADOX, "ci_method", "missing_rule"}
# Shown last (after any column a newer statistics table adds): what and why.
TRAILING = ("method", "note")


def columns_for(keys: Sequence[str], lead: Sequence[Column], *,
                hidden: Sequence[str] = ()) -> list[Column]:
    """``lead`` columns first, then every other key of the table not folded or hidden."""
    shown = {c.key for c in lead} | FOLDED | set(hidden) | set(TRAILING)
    extra = [Column(k, k.replace("_", " ").capitalize(), "auto") for k in keys if k not in shown]
    trailing = [Column(k, k.capitalize()) for k in TRAILING if k in keys and k not in hidden
                and k not in {c.key for c in lead}]
    return [*lead, *extra, *trailing]


def role_brush(role: QPalette.ColorRole) -> QBrush:
    """A colour of the current theme's palette (so light and dark both stay readable)."""
    return QBrush(QGuiApplication.palette().color(role))


def hint_label(text: str) -> QLabel:
    """Secondary text in the theme's muted colour (follows theme switches)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


def disagreements(row: dict[str, Any]) -> int:
    """How many items the row's raters disagree on (outputs for tables without items)."""
    items = row.get(ITEMS)
    if isinstance(items, (list, tuple)):
        return len(items)
    return len(row.get(IDS) or ())


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or is_missing(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]], columns: Sequence[Column] | None = None
                 ) -> None:
        self.beginResetModel()
        self.rows = rows
        if columns is not None:
            self.columns = list(columns)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        col = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tip or None
        return None

    def text(self, row: dict[str, Any], col: Column) -> str:
        v = row.get(col.key)
        if col.fmt is not None:
            return col.fmt(row)
        if col.kind == "num":
            return number(v)
        if col.kind == "int":
            return "–" if v is None or is_missing(v) else str(int(v))
        if col.kind == "ci":
            return interval(row.get("ci_low"), row.get("ci_high"))
        if col.kind == "stat":
            return statistic_name(v)
        if col.kind == "count":
            n = disagreements(row)
            return str(n) if n else ""
        if col.kind == "auto" and isinstance(v, float):
            return number(v)
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v))
        return "" if v is None else str(v)

    def sort_key(self, row: dict[str, Any], col: Column) -> Any:
        if col.kind == "count":
            return float(disagreements(row))
        if col.kind == "ci":
            lo = _num(row.get("ci_low"))
            return -1e300 if lo is None else lo
        n = _num(row.get(col.key))
        if col.kind in ("num", "int", "auto") and (n is not None or col.kind != "auto"):
            return -1e300 if n is None else n  # missing values sort first, never in between
        return self.text(row, col).lower()

    def tooltip(self, row: dict[str, Any]) -> str | None:
        parts = []
        if row.get("statistic") is not None:
            parts.append(f"<b>{html.escape(statistic_name(row['statistic']))}</b> "
                         f"({html.escape(str(row['statistic']))})")
        for key, label in (("method", "Method"), ("ci_method", "CI"),
                           ("missing_rule", "Missing data"), ("note", "Note")):
            v = row.get(key)
            if v and not is_missing(v):
                parts.append(f"{label}: {html.escape(str(v))}")  # notes may name data
        if row.get(PARADOX):
            parts.append(f"<b>⚠ {html.escape(str(row[PARADOX]))}</b>")
        n = disagreements(row)
        outputs = len(row.get(IDS) or ())
        if n:
            where = "" if outputs == n else f" (in {outputs} output{'s' if outputs != 1 else ''})"
            parts.append(f"<i>{n} disagreeing item{'s' if n != 1 else ''}{where}: click the "
                         "Disagree number to list them; double-click or press Enter to open "
                         "them in the grading window.</i>")
        return f"<qt>{'<br>'.join(parts)}</qt>" if parts else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, col)
        if role == SORT_ROLE:
            return self.sort_key(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            numeric = col.kind in ("num", "int", "ci", "count") or (
                col.kind == "auto" and _num(row.get(col.key)) is not None)
            align = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole and col.key == "value" and row.get(PARADOX):
            return QBrush(PARADOX_TINT)
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.get("_muted") or (col.kind == "num" and is_missing(row.get(col.key))):
                return role_brush(QPalette.ColorRole.PlaceholderText)
            if col.kind == "count":
                return role_brush(QPalette.ColorRole.Link)
        if role == Qt.ItemDataRole.FontRole and (row.get("_muted") or (
                col.kind == "count" and row.get(IDS))):
            f = QFont()
            f.setItalic(bool(row.get("_muted")))  # reference rows, e.g. a ceiling
            f.setUnderline(not row.get("_muted"))
            return f
        return None


class StatsTable(QTableView):
    """Sortable read-only table; ``sig_activated(row)`` on double-click / Enter."""

    sig_activated = Signal(dict)
    sig_count_clicked = Signal(dict)

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = RowsModel(columns, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model_)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # keep the stats' own order at first
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        head = self.horizontalHeader()
        head.setHighlightSections(False)
        head.setResizeContentsPrecision(200)  # column widths from the first rows: fast fills
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        head.setStretchLastSection(True)
        self.doubleClicked.connect(self._on_double_clicked)
        self.clicked.connect(self._on_clicked)

    def set_rows(self, rows: list[dict[str, Any]], columns: Sequence[Column] | None = None
                 ) -> None:
        self.model_.set_rows(rows, columns)
        self.resize_columns()

    def resize_columns(self) -> None:
        head = self.horizontalHeader()
        # Stretch only a trailing text column: a stretched number drifts to the far right.
        cols = self.model_.columns
        head.setStretchLastSection(bool(cols) and cols[-1].kind in ("text", "custom", "auto"))
        for c in range(self.model_.columnCount()):
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
            self.resizeColumnToContents(c)
            self.setColumnWidth(c, min(self.columnWidth(c) + 12, 340))

    def row_at(self, view_row: int) -> dict[str, Any]:
        src = self.proxy.mapToSource(self.proxy.index(view_row, 0))
        return self.model_.rows[src.row()]

    def rows(self) -> list[dict[str, Any]]:
        """Rows in display (sorted) order."""
        return [self.row_at(r) for r in range(self.proxy.rowCount())]

    def activate_row(self, view_row: int) -> None:
        self.sig_activated.emit(self.row_at(view_row))

    def _on_clicked(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        row = self.row_at(index.row())
        if self.model_.columns[index.column()].kind == "count" and disagreements(row):
            self.sig_count_clicked.emit(row)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.activate_row(index.row())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activate_row(self.currentIndex().row())
            return
        super().keyPressEvent(event)
