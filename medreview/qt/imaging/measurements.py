"""Length/angle measurements and ellipse ROI statistics drawn on the slice they belong to.

Measurements are viewer tools, not grades: they live as long as the series is open. Values
come from ``medreview.imaging.measure`` (mm from the frame's pixel spacing, HU after the
modality LUT); this module only draws them with their label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from medreview.imaging.frames import DecodedFrame
from medreview.imaging.measure import (
    angle,
    format_length,
    format_stats,
    frame_roi_stats,
    length,
)

_COLOUR = QColor(120, 255, 120)


def measure_label(kind: str, points: Sequence[Sequence[float]], frame: DecodedFrame) -> str:
    """The text shown beside a measurement ("42.3 mm", "87.5°")."""
    spacing = frame.info.pixel_spacing
    if kind == "length":
        value, unit = length(points[0], points[1], spacing)
        text = format_length(value, unit)
        # detector-plane spacing is not patient size (magnification): say so
        return text + " (detector)" if frame.info.spacing_source == "ImagerPixelSpacing" else text
    if kind == "angle":
        return f"{angle(points[0], points[1], points[2], spacing):.1f}°"
    if kind == "roi":
        return roi_label({"coords": points}, frame) or "no statistics"
    raise ValueError(f"unknown measurement {kind!r}")


def roi_label(region: dict, frame: DecodedFrame) -> str:
    """Statistics of an ellipse region on ``frame`` (empty for colour frames, no pixels, or
    a reduced-resolution preview: statistics are computed on full-resolution pixels only)."""
    if frame.is_colour or frame.is_reduced:
        return ""
    try:
        (x0, y0), (x1, y1) = region["coords"][0], region["coords"][1]
        a, b = (float(x0), float(y0)), (float(x1), float(y1))
    except (KeyError, TypeError, ValueError, IndexError):
        return ""
    stats = frame_roi_stats(frame, a, b)
    return format_stats(stats, frame.info.units) if stats is not None else ""


class MeasureLayer:
    """Keeps measurement dicts ({"kind", "points", "path", "frame", "label"}) and draws those
    of the current slice, plus the statistics of the ellipse regions shown there."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        self._vb = view_box
        self._items: list[QGraphicsItem] = []
        self._measures: list[dict] = []
        self.roi_texts: list[str] = []  # labels of the ellipse ROIs on screen (tests, a11y)

    def measurements(self) -> list[dict]:
        return [dict(m) for m in self._measures]

    def add(self, measure: dict) -> None:
        self._measures.append(dict(measure))

    def clear(self) -> None:
        self._measures = []

    def visible_labels(self) -> list[str]:
        return [i.toPlainText() for i in self._items if isinstance(i, pg.TextItem)]

    def show_for(self, path: Path | None, frame_no: int, frame: DecodedFrame | None,
                 regions: Sequence[dict] = ()) -> None:
        for item in self._items:
            self._vb.removeItem(item)
        self._items = []
        self.roi_texts = []
        if path is None or frame is None:
            return
        for m in self._measures:
            if m["path"] != str(path) or m["frame"] != frame_no:
                continue
            if m["kind"] == "roi":
                (x0, y0), (x1, y1) = m["points"]
                path_ = QPainterPath()
                path_.addEllipse(QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized())
                self._add_path(path_)
                self.roi_texts.append(m["label"])
                self._label(m["label"], max(x0, x1), max(y0, y1))
            else:
                self._draw_path(m["points"], closed=False)
                x, y = m["points"][-1] if m["kind"] == "length" else m["points"][1]
                self._label(m["label"], x, y)
        for r in regions:
            if r.get("shape") != "ellipse" or r.get("path") not in (None, "", str(path)):
                continue
            try:
                if int(r.get("frame", frame_no)) != frame_no:
                    continue
                x1, y1 = (float(v) for v in r["coords"][1])
            except (KeyError, TypeError, ValueError, IndexError):
                continue
            text = roi_label(r, frame)
            if text:
                self.roi_texts.append(text)
                self._label(text, x1, y1)

    def _draw_path(self, points: Sequence[Sequence[float]], *, closed: bool) -> None:
        path = QPainterPath(QPointF(*points[0]))
        for p in points[1:]:
            path.lineTo(QPointF(*p))
        if closed:
            path.closeSubpath()
        self._add_path(path)

    def _add_path(self, path: QPainterPath) -> None:
        pen = QPen(_COLOUR)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        item = QGraphicsPathItem(path)
        item.setPen(pen)
        self._vb.addItem(item, ignoreBounds=True)
        self._items.append(item)

    def _label(self, text: str, x: float, y: float) -> None:
        item = pg.TextItem(text, color=_COLOUR, anchor=(0, 0), fill=pg.mkBrush(0, 0, 0, 150))
        item.setPos(x + 2, y + 2)
        self._vb.addItem(item, ignoreBounds=True)
        self._items.append(item)
