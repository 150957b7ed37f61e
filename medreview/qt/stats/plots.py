"""pyqtgraph plots of the statistics screens: agreement with CIs, rater x rater heat map,
reliability diagram, score distributions and judge-versus-reference scatter.

Each plot is a ``PlotWidget`` with a light background, labelled axes and a legend where more
than one series is drawn; ``show_message`` replaces the content with a centred note when
there is nothing to draw (never an empty frame without explanation).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QWidget

PALETTE = ("#2f6fd0", "#d9822b", "#1c7c3c", "#b3261e", "#7b4fc9", "#0f8b8d", "#8c6d1f")
INK = "#1d1f23"
GRID = "#d5d9e0"
MUTED = "#7a7f87"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


class StatsPlot(pg.PlotWidget):  # type: ignore[misc]
    """A PlotWidget styled for reports: white, dark axes, light grid, titled."""

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self.setMinimumHeight(220)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        font = QFont()
        font.setPointSize(9)
        for name in ("left", "bottom"):
            ax = item.getAxis(name)
            ax.setPen(pg.mkPen(MUTED))
            ax.setTextPen(pg.mkPen(INK))
            ax.setTickFont(font)
            ax.enableAutoSIPrefix(False)  # "(x0.001)" scaling confuses readers of scores
        item.showGrid(x=True, y=True, alpha=0.25)
        self._title = title
        self.set_labels(title, x_label, y_label)
        self._message: pg.TextItem | None = None

    def set_labels(self, title: str, x_label: str, y_label: str) -> None:
        item = self.getPlotItem()
        # pyqtgraph titles, axis labels and legends are HTML; they name raters and models.
        item.setTitle(html.escape(title), color=INK, size="11pt", bold=True)
        style = {"color": INK, "font-size": "10pt"}
        item.setLabel("bottom", html.escape(x_label), **style)
        item.setLabel("left", html.escape(y_label), **style)

    def reset(self) -> None:
        item = self.getPlotItem()
        item.clear()
        if item.legend is not None:
            item.legend.clear()
        self._message = None
        item.invertY(False)
        for name in ("left", "bottom"):
            item.getAxis(name).setTicks(None)
            item.showAxis(name)

    def legend(self) -> pg.LegendItem:
        item = self.getPlotItem()
        if item.legend is None:
            item.addLegend(offset=(-10, 10), labelTextColor=INK,
                           brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(GRID))
        return item.legend

    def show_message(self, text: str) -> None:
        """Replace the plot content by a centred explanation."""
        self.reset()
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            item.hideAxis(name)  # empty axes would suggest there is data to read
        msg = pg.TextItem(text, color=MUTED, anchor=(0.5, 0.5))
        self.addItem(msg)
        msg.setPos(0.5, 0.5)
        self.setXRange(0, 1)
        self.setYRange(0, 1)
        self._message = msg

    @property
    def message(self) -> str:
        return self._message.toPlainText() if self._message is not None else ""


class ErrorBarPlot(StatsPlot):
    """Horizontal point estimates with 95% CI whiskers, one labelled row each."""

    def set_data(self, labels: Sequence[str], values: Sequence[float], lows: Sequence[float],
                 highs: Sequence[float], colors: Sequence[str] | None = None) -> None:
        self.reset()
        if not labels:
            self.show_message("No agreement statistics to plot yet.")
            return
        n = len(labels)
        y = np.arange(n, dtype=float)
        v = np.asarray(values, dtype=float)
        lo = np.asarray(lows, dtype=float)
        hi = np.asarray(highs, dtype=float)
        has_ci = ~np.isnan(lo) & ~np.isnan(hi) & ~np.isnan(v)
        if has_ci.any():
            bars = pg.ErrorBarItem(x=v[has_ci], y=y[has_ci], left=(v - lo)[has_ci],
                                   right=(hi - v)[has_ci], beam=0.25,
                                   pen=pg.mkPen("#5b6470", width=1.5))
            self.addItem(bars)
        ok = ~np.isnan(v)
        brushes = [pg.mkBrush(colors[i] if colors else PALETTE[0]) for i in range(n) if ok[i]]
        pts = pg.ScatterPlotItem(x=v[ok], y=y[ok], size=9, brush=brushes,
                                 pen=pg.mkPen("w", width=1))
        self.addItem(pts)
        self.addItem(pg.InfiniteLine(pos=0.0, angle=90, pen=pg.mkPen(MUTED, width=1,
                                                                      style=Qt.PenStyle.DashLine)))
        ax = self.getPlotItem().getAxis("left")
        ax.setTicks([[(float(i), str(t)) for i, t in enumerate(labels)]])
        self.getPlotItem().invertY(True)
        finite = np.concatenate([v[ok], lo[has_ci], hi[has_ci]])
        x_lo = min(0.0, float(finite.min())) if finite.size else 0.0
        x_hi = max(1.0, float(finite.max())) if finite.size else 1.0
        self.setXRange(x_lo - 0.05, x_hi + 0.05, padding=0)
        self.setYRange(-0.7, n - 0.3, padding=0)


def short_names(names: Sequence[str]) -> list[str]:
    """Column labels that fit under a cell: surnames, the judge's model; full names if that
    would make two labels equal."""
    short = [n.split(": ", 1)[1] if n.startswith("judge: ") else n.split()[-1] if n.split()
             else n for n in names]
    return short if len(set(short)) == len(short) else list(names)


def kappa_colormap() -> pg.ColorMap:
    # Red for agreement below chance, white at 0, deepening blue towards perfect agreement.
    return pg.ColorMap(pos=[0.0, 0.5, 0.75, 1.0],
                       color=[(179, 38, 30), (255, 255, 255), (143, 180, 229), (31, 79, 159)])


class HeatmapPlot(StatsPlot):
    """A symmetric rater x rater matrix; clicking an off-diagonal cell emits its indices."""

    sig_cell_activated = Signal(int, int)

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(title, "", "", parent)
        self.getPlotItem().showGrid(x=False, y=False)
        self.names: list[str] = []
        self.matrix = np.zeros((0, 0))
        self._bar: pg.ColorBarItem | None = None
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_matrix(self, names: Sequence[str], matrix: Sequence[Sequence[float]],
                   levels: tuple[float, float] = (-1.0, 1.0), label: str = "",
                   empty_text: str = "") -> None:
        self.reset()
        self.names = list(names)
        m = np.asarray(matrix, dtype=float)
        self.matrix = m
        if not self.names:
            self.show_message("No rater pairs for this question.")
            return
        if self._bar is not None:
            self._bar.setVisible(not np.all(np.isnan(m)))
        if np.all(np.isnan(m)):
            self.show_message(empty_text or "No pairwise value is defined for this question.")
            return
        n = len(self.names)
        img = pg.ImageItem(m, axisOrder="row-major")
        img.setRect(0, 0, n, n)
        cmap = kappa_colormap()
        img.setColorMap(cmap)
        img.setLevels(levels)
        self.addItem(img)
        if self._bar is None:
            self._bar = pg.ColorBarItem(values=levels, colorMap=cmap, interactive=False,
                                        width=14, label=label)
            self._bar.setImageItem(img, insert_in=self.getPlotItem())
        else:
            self._bar.setImageItem(img)
            self._bar.setLevels(levels)
        lo, hi = levels
        for i in range(n):
            for j in range(n):
                v = m[i, j]
                if i == j:
                    continue  # a rater against themself says nothing: left blank
                dark = not math.isnan(v) and (v - lo) / (hi - lo) > 0.78
                t = pg.TextItem("–" if math.isnan(v) else f"{v:.2f}",
                                color="w" if dark else INK, anchor=(0.5, 0.5))
                t.setPos(j + 0.5, i + 0.5)
                self.addItem(t)
        item = self.getPlotItem()
        item.getAxis("bottom").setTicks([[(i + 0.5, s) for i, s in enumerate(
            short_names(self.names))]])
        item.getAxis("left").setTicks([[(i + 0.5, name) for i, name in enumerate(self.names)]])
        item.invertY(True)
        item.setAspectLocked(False)
        self.setXRange(0, n, padding=0.02)
        self.setYRange(0, n, padding=0.02)

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        i, j = math.floor(p.y()), math.floor(p.x())
        n = len(self.names)
        return (i, j) if 0 <= i < n and 0 <= j < n else None

    def _on_click(self, event: object) -> None:
        pos = event.scenePos()  # type: ignore[attr-defined]
        cell = self.cell_at(pos)
        if cell is not None and cell[0] != cell[1]:
            self.sig_cell_activated.emit(*cell)


class ReliabilityPlot(StatsPlot):
    """Observed agreement against the judge's stated confidence, per confidence bin."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reliability diagram", "Judge confidence (bin mean)",
                         "Observed rate the judge is right", parent)
        self.series: list[str] = []

    def start(self, title: str = "Reliability diagram") -> None:
        self.reset()
        self.series = []
        self.set_labels(title, "Judge confidence (bin mean)", "Observed rate the judge is right")
        legend = self.legend()
        legend.setOffset((10, 10))  # upper left: empty unless the judge is underconfident
        diag = pg.PlotDataItem([0, 1], [0, 1], pen=pg.mkPen(MUTED, width=1.5,
                                                            style=Qt.PenStyle.DashLine))
        self.addItem(diag)
        legend.addItem(diag, "Perfect calibration")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)

    def add_series(self, name: str, confidence: Sequence[float], observed: Sequence[float],
                   counts: Sequence[int], index: int = 0) -> None:
        c = np.asarray(confidence, dtype=float)
        o = np.asarray(observed, dtype=float)
        n = np.asarray(counts, dtype=float)
        ok = ~np.isnan(c) & ~np.isnan(o) & (n > 0)
        if not ok.any():
            return
        total = n[ok].sum()
        sizes = 7 + 17 * np.sqrt(n[ok] / n[ok].max())
        tips = [f"{int(k)} items ({k / total:.0%}): confidence {x:.2f}, observed {y:.2f}"
                for k, x, y in zip(n[ok], c[ok], o[ok], strict=True)]
        line = pg.PlotDataItem(c[ok], o[ok], pen=pg.mkPen(color(index), width=2),
                               symbol="o", symbolSize=list(sizes),
                               symbolBrush=pg.mkBrush(color(index)),
                               symbolPen=pg.mkPen("w", width=1))
        line.scatter.opts["hoverable"] = True
        line.scatter.setData(c[ok], o[ok], size=list(sizes), data=tips,
                             brush=pg.mkBrush(color(index)), pen=pg.mkPen("w", width=1),
                             tip=lambda x, y, data: str(data))
        self.addItem(line)
        self.legend().addItem(line, html.escape(name))
        self.series.append(name)


class HistogramPlot(StatsPlot):
    """Grouped bars: the share of each group's values per bin (or per distinct value)."""

    def set_groups(self, groups: Mapping[str, Sequence[float]], x_label: str,
                   title: str = "") -> None:
        self.reset()
        self.set_labels(title or self._title, x_label, "Share of ratings (%)")
        arrays = {k: np.asarray(v, dtype=float) for k, v in groups.items() if len(v)}
        if not arrays:
            self.show_message("No numeric answers for this question yet.")
            return
        allv = np.concatenate(list(arrays.values()))
        distinct = np.unique(allv)
        discrete = distinct.size <= 12
        if discrete:
            centers = distinct
            step = float(np.min(np.diff(distinct))) if distinct.size > 1 else 1.0
        else:
            edges = np.linspace(float(allv.min()), float(allv.max()), 11)
            centers = (edges[:-1] + edges[1:]) / 2
            step = float(edges[1] - edges[0])
        k = len(arrays)
        width = step * 0.8 / k
        legend = self.legend()
        top = 0.0
        for g, (name, vals) in enumerate(arrays.items()):
            if discrete:
                counts = np.array([(vals == c).sum() for c in centers], dtype=float)
            else:
                counts = np.histogram(vals, bins=edges)[0].astype(float)
            share = 100 * counts / max(len(vals), 1)
            top = max(top, float(share.max()))
            x = centers - step * 0.4 + width * (g + 0.5)
            bars = pg.BarGraphItem(x=x, height=share, width=width * 0.92,
                                   brush=pg.mkBrush(color(g)), pen=pg.mkPen(color(g)))
            self.addItem(bars)
            legend.addItem(bars, html.escape(f"{name} (n={len(vals)})"))
        if discrete and distinct.size <= 6:
            labels = {0.0: "0 (not met)", 1.0: "1 (met)"} if set(distinct) <= {0.0, 1.0} else {}
            self.getPlotItem().getAxis("bottom").setTicks(
                [[(float(c), labels.get(float(c), f"{c:g}")) for c in centers]])
        self.getPlotItem().enableAutoRange(axis="x")
        self.setYRange(0, top * 1.3 + 1, padding=0)  # headroom for the legend


class ScatterPlot(StatsPlot):
    """Judge scores against a reference with the identity line (numeric questions)."""

    def set_points(self, reference: Sequence[float], judge: Sequence[float], ref_label: str
                   ) -> None:
        self.reset()
        self.set_labels(f"Judge against {ref_label}", f"{ref_label} score", "Judge score")
        x = np.asarray(reference, dtype=float)
        y = np.asarray(judge, dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(y)
        if not ok.any():
            self.show_message("No output has both scores.")
            return
        lo = float(min(x[ok].min(), y[ok].min()))
        hi = float(max(x[ok].max(), y[ok].max()))
        legend = self.legend()
        legend.setOffset((10, 10))
        ident = pg.PlotDataItem([lo, hi], [lo, hi], pen=pg.mkPen(MUTED, width=1.5,
                                                                 style=Qt.PenStyle.DashLine))
        self.addItem(ident)
        legend.addItem(ident, "Judge = reference")
        pts = pg.ScatterPlotItem(x=x[ok], y=y[ok], size=8, brush=pg.mkBrush(47, 111, 208, 170),
                                 pen=pg.mkPen("w", width=1))
        self.addItem(pts)
        legend.addItem(pts, f"Outputs (n={int(ok.sum())})")
        self.getPlotItem().enableAutoRange()
