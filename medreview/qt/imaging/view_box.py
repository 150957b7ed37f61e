"""The image ViewBox: mouse gestures of a radiology viewer, reported to the owning widget.

Wheel = slice scroll (Ctrl+wheel zooms); right-drag = window/level; left-drag = pan, or
window/level with the W/L tool, or draws the active region shape or length line; middle-drag
= pan; left click with the point tool = point region; three left clicks with the angle tool =
arm, vertex, arm.
Coordinates handed out are view coordinates, which equal image pixel coordinates
(x = column, y = row) because the image item sits at the origin with one unit per pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QGraphicsRectItem

TOOLS = ("navigate", "window", "rect", "ellipse", "point", "length", "angle", "roi")
MEASURE_TOOLS = ("length", "angle", "roi")


class ImageViewBox(pg.ViewBox):  # type: ignore[misc]
    """A ViewBox whose gestures call back into the viewer instead of zooming."""

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.tool = "navigate"
        self.on_scroll: Callable[[int], None] = lambda step: None
        self.on_window_drag: Callable[[str, float, float, bool], None] = lambda *a: None
        self.on_shape: Callable[[str, QPointF, QPointF], None] = lambda *a: None
        self.on_press: Callable[[], None] = lambda: None
        self.on_measure: Callable[[str, list[QPointF]], None] = lambda *a: None
        self._preview: QGraphicsRectItem | QGraphicsEllipseItem | None = None
        self._line: QGraphicsPathItem | None = None  # length / angle preview
        self._angle_points: list[QPointF] = []

    def reset_gesture(self) -> None:
        """Forget a half-drawn angle (tool or slice changed)."""
        self._angle_points = []
        self._clear_preview()

    # -- wheel: slices, or zoom with Ctrl -------------------------------------------------
    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        delta = ev.delta()
        if delta:
            self.on_scroll(-1 if delta > 0 else 1)
        ev.accept()

    def mouseClickEvent(self, ev: Any) -> None:
        self.on_press()
        left = ev.button() == Qt.MouseButton.LeftButton
        if self.tool == "point" and left:
            p = self.mapSceneToView(ev.scenePos())
            self.on_shape("point", p, p)
        elif self.tool == "angle" and left:
            self._angle_points.append(self.mapSceneToView(ev.scenePos()))
            if len(self._angle_points) == 3:
                points, self._angle_points = self._angle_points, []
                self._clear_preview()
                self.on_measure("angle", points)
            else:
                self._draw_line(self._angle_points)
        ev.accept()

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:
        if ev.isStart():
            self.on_press()
        button = ev.button()
        window_tool = button == Qt.MouseButton.LeftButton and self.tool == "window"
        if button == Qt.MouseButton.RightButton or window_tool:
            ev.accept()
            delta = ev.screenPos() - ev.buttonDownScreenPos(button)
            phase = "start" if ev.isStart() else "finish" if ev.isFinish() else "move"
            fine = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.on_window_drag(phase, float(delta.x()), float(delta.y()), fine)
            return
        if button == Qt.MouseButton.LeftButton and self.tool in ("rect", "ellipse", "roi"):
            ev.accept()
            a = self.mapSceneToView(ev.buttonDownScenePos(button))
            b = self.mapSceneToView(ev.scenePos())
            self._draw_preview(a, b)
            if ev.isFinish():
                self._clear_preview()
                if self.tool == "roi":
                    self.on_measure("roi", [a, b])
                else:
                    self.on_shape(self.tool, a, b)
            return
        if button == Qt.MouseButton.LeftButton and self.tool == "length":
            ev.accept()
            a = self.mapSceneToView(ev.buttonDownScenePos(button))
            b = self.mapSceneToView(ev.scenePos())
            self._draw_line([a, b])
            if ev.isFinish():
                self._clear_preview()
                if a != b:
                    self.on_measure("length", [a, b])
            return
        if button == Qt.MouseButton.LeftButton and self.tool in ("point", "angle"):
            ev.ignore()
            return
        super().mouseDragEvent(ev, axis)  # left (navigate) / middle: pan

    # -- shape preview ------------------------------------------------------------------------
    def _draw_preview(self, a: QPointF, b: QPointF) -> None:
        rect = QRectF(a, b).normalized()
        if self._preview is None:
            item = QGraphicsRectItem() if self.tool == "rect" else QGraphicsEllipseItem()
            pen = QPen(QColor(0, 220, 255))
            pen.setCosmetic(True)
            pen.setStyle(Qt.PenStyle.DashLine)
            item.setPen(pen)
            self.addItem(item, ignoreBounds=True)
            self._preview = item
        self._preview.setRect(rect)

    def _draw_line(self, points: list[QPointF]) -> None:
        path = QPainterPath(points[0])
        for p in points[1:]:
            path.lineTo(p)
        if self._line is None:
            pen = QPen(QColor(0, 220, 255))
            pen.setCosmetic(True)
            pen.setStyle(Qt.PenStyle.DashLine)
            self._line = QGraphicsPathItem()
            self._line.setPen(pen)
            self.addItem(self._line, ignoreBounds=True)
        self._line.setPath(path)

    def _clear_preview(self) -> None:
        if self._preview is not None:
            self.removeItem(self._preview)
            self._preview = None
        if self._line is not None:
            self.removeItem(self._line)
            self._line = None
