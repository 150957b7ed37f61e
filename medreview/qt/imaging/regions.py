"""Saved and freshly drawn regions, drawn on the slice they belong to."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsRectItem

_COLOUR = QColor(255, 210, 0)


class RegionLayer:
    """Keeps region dicts and shows those of the current (path, frame)."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        self._vb = view_box
        self._regions: list[dict] = []
        self._items: list[QGraphicsItem] = []

    def regions(self) -> list[dict]:
        return [dict(r) for r in self._regions]

    def set_regions(self, regions: Sequence[dict]) -> None:
        self._regions = [dict(r) for r in regions]

    def add(self, region: dict) -> None:
        self._regions.append(dict(region))

    def visible_count(self) -> int:
        return len(self._items)

    def show_for(self, path: Path | None, frame: int) -> None:
        for item in self._items:
            self._vb.removeItem(item)
        self._items = []
        if path is None:
            return
        for region in self._regions:
            if region.get("path") not in (None, "", str(path)):
                continue
            if int(region.get("frame", frame)) != frame:
                continue
            shape_item = _item_for(region)
            if shape_item is not None:
                self._vb.addItem(shape_item, ignoreBounds=True)
                self._items.append(shape_item)


def _item_for(region: dict) -> QGraphicsItem | None:
    pen = QPen(_COLOUR)
    pen.setCosmetic(True)
    pen.setWidthF(1.5)
    coords = region.get("coords") or []
    shape = region.get("shape")
    try:
        if shape == "point":
            (x, y) = coords[0]
            if not (math.isfinite(float(x)) and math.isfinite(float(y))):
                return None
            marker: QGraphicsItem = pg.ScatterPlotItem(
                [float(x)], [float(y)], size=9, symbol="+", pen=pen, brush=QBrush(_COLOUR)
            )
            return marker
        (x0, y0), (x1, y1) = coords[0], coords[1]
    except (TypeError, ValueError, IndexError):
        return None
    try:
        values = [float(v) for v in (x0, y0, x1, y1)]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in values):
        return None  # NaN/inf from a hostile package: Qt's painter paths are undefined there
    rect = QRectF(float(x0), float(y0), float(x1) - float(x0), float(y1) - float(y0)).normalized()
    item: QGraphicsRectItem | QGraphicsEllipseItem
    if shape == "rect":
        item = QGraphicsRectItem(rect)
    elif shape == "ellipse":
        item = QGraphicsEllipseItem(rect)
    else:
        return None
    item.setPen(pen)
    return item
