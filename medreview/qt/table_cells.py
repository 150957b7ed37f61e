"""``cell``: the one read-only table cell of the screens' tables.

Text in tables is often data (case ids, rater and file names, values from a package), so every
cell shows it through the display policy (hidden characters marked) with a literal tooltip,
and is selectable but not editable. Tones come from ``qt/status.py``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import QTableWidgetItem

from medreview.domain.display_text import tooltip_text, visible_text
from medreview.qt.status import tone_color


def cell(text: str, *, tip: str | None = None, tone: str | None = None, number: bool = False,
         bold: bool = False) -> QTableWidgetItem:
    """``tip`` None: the text itself; "" for none. ``number`` aligns right."""
    item = QTableWidgetItem(visible_text(text))
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    shown_tip = text if tip is None else tip
    if shown_tip:
        item.setToolTip(tooltip_text(shown_tip))
    if tone is not None:
        item.setForeground(QBrush(tone_color(tone)))
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if bold:
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    return item
