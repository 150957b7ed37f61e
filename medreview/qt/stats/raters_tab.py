"""The dashboard's Raters tab: per physician, test-retest agreement, drift against the rest of
the panel per window (a chart with CIs and the lead's threshold; windows below it marked), time
per item, and accuracy on hidden gold items with the attention pass rate (failures marked).
Read on the database thread and computed on the work pool (``StatsJob``), like the other tabs;
the controls recompute it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.progress import CancelToken, Progress
from medreview.qt.stats.plots import MUTED, HistogramPlot, StatsPlot, color
from medreview.qt.stats.runner import StatsJob
from medreview.services import rater_quality as rq
from medreview.services.projects import Project
from medreview.services.tasks import Executor

WINDOWS = (("Calendar week", "week"), ("50 items", "50"), ("20 items", "20"),
           ("100 items", "100"))
FLAG_BRUSH = QBrush(QColor(255, 214, 204))


class DriftPlot(StatsPlot):
    """Kappa per window for each rater, 95 % CI whiskers, the threshold dashed."""

    def set_report(self, report: rq.RaterReport) -> None:
        self.reset()
        series = [r for r in report.raters if r.drift]
        if not series:
            self.show_message("No drift to show: it needs a categorical question and answers "
                              "from at least two physicians on the same items.")
            return
        legend = self.legend()
        # One x position per window label across raters (weeks differ between raters).
        labels = sorted({w.label for r in series for w in r.drift}, key=_window_order)
        pos = {label: k for k, label in enumerate(labels, start=1)}
        for i, r in enumerate(series):
            # Windows with too few compared units are in the table, not on the chart.
            v = np.array([w.kappa.value if w.enough else math.nan for w in r.drift])
            x = (np.array([pos[w.label] for w in r.drift], dtype=float)
                 + (i - len(series) / 2) * 0.05)
            lo = np.array([w.kappa.ci[0] if w.kappa.ci else math.nan for w in r.drift])
            hi = np.array([w.kappa.ci[1] if w.kappa.ci else math.nan for w in r.drift])
            ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                self.addItem(pg.ErrorBarItem(x=x[ok], y=v[ok], top=(hi - v)[ok],
                                             bottom=(v - lo)[ok], beam=0.15,
                                             pen=pg.mkPen(color(i), width=1)))
            fin = np.isfinite(v)
            # Points, not lines: each window is its own estimate.
            line = self.plot(x[fin], v[fin], pen=None, symbol="o", symbolSize=9,
                             symbolBrush=color(i), symbolPen=pg.mkPen("w", width=1))
            legend.addItem(line, r.rater)
        self.addItem(pg.InfiniteLine(pos=report.threshold, angle=0, pen=pg.mkPen(
            MUTED, width=1, style=Qt.PenStyle.DashLine)))
        self.getPlotItem().getAxis("bottom").setTicks(
            [[(float(k), label.removeprefix("items ")) for label, k in pos.items()]])
        self.setXRange(0.5, len(labels) + 0.5, padding=0)
        self.setYRange(-0.2, 1.05, padding=0)


class ProgressPlot(StatsPlot):
    """Cumulative items finished per rater, one point per day with work."""

    def set_report(self, report: rq.RaterReport) -> None:
        self.reset()
        days = sorted({d for r in report.raters for d, _, _ in r.per_day})
        if not days:
            self.show_message("No finished items yet.")
            return
        first = days[0]
        legend = self.legend()
        for i, r in enumerate(report.raters):
            x = np.array([(d - first).days for d, _, _ in r.per_day], dtype=float)
            y = np.array([c for _, _, c in r.per_day], dtype=float)
            line = self.plot(x, y, pen=pg.mkPen(color(i), width=2), symbol="o", symbolSize=7,
                             symbolBrush=color(i))
            legend.addItem(line, r.rater)
        self.getPlotItem().getAxis("bottom").setTicks(
            [[(float((d - first).days), d.isoformat()) for d in days[:: max(len(days) // 6, 1)]]])
        self.setXRange(-0.5, (days[-1] - first).days + 0.5, padding=0)
        top = max((c for r in report.raters for _, _, c in r.per_day), default=1)
        self.setYRange(0, top * 1.35, padding=0)  # from zero, headroom for the legend


class _Body(QWidget):
    """Asks for no more than its minimum, so its scroll area fills the viewport and scrolls
    only when the window is smaller than that (tables and plots ask for far more)."""

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()

    def heightForWidth(self, _width: int) -> int:
        # The wrapped status line gives the layout a height-for-width, which the scroll area
        # would take from the children's (large) size hints.
        return self.minimumSizeHint().height()


def _window_order(label: str) -> tuple[int, str]:
    """Item windows by their first item ("items 41-60" -> 41), weeks by name ("2026-W09")."""
    head = label.removeprefix("items ").split("-", 1)[0]
    return (int(head), "") if label.startswith("items ") and head.isdigit() else (0, label)


def _table(header: Sequence[str], name: str) -> QTableWidget:
    t = QTableWidget(0, len(header))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(list(header))
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return t


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]],
          flagged: Sequence[bool] = ()) -> None:
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            item = QTableWidgetItem(cell)
            if i < len(flagged) and flagged[i]:
                item.setBackground(FLAG_BRUSH)
            table.setItem(i, j, item)


class RatersTab(QWidget):
    """Controls (question, window, threshold), the per-rater table, the drift chart and the
    drift table. ``refresh()`` re-reads the project in the background."""

    def __init__(self, project: Project, db: Executor, work: Executor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.report: rq.RaterReport | None = None
        self.job = StatsJob(db, work, self)
        self.job.sig_finished.connect(self._on_finished)
        self.job.sig_failed.connect(self._on_failed)
        self.question = QComboBox()
        self.question.setObjectName("ratersQuestion")
        self.question.addItem("Most answered question", None)
        self.window_box = QComboBox()
        self.window_box.setObjectName("ratersWindow")
        for label, value in WINDOWS:
            self.window_box.addItem(label, value)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("ratersThreshold")
        self.threshold.setRange(-1.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(rq.DEFAULT_THRESHOLD)
        controls = QHBoxLayout()
        for text, box in (("&Question", self.question), ("&Window", self.window_box),
                          ("&Flag below κ", self.threshold)):
            caption = QLabel(text)
            caption.setBuddy(box)
            controls.addWidget(caption)
            controls.addWidget(box)
        controls.addStretch(1)
        self.status = QLabel("Computing…")
        self.status.setObjectName("ratersStatus")
        self.status.setWordWrap(True)
        self.summary = _table(rq.SUMMARY_HEADER, "ratersSummary")
        self.plot = DriftPlot("Agreement with the other physicians' majority per window",
                              "window (items in the rater's own order, or ISO week)",
                              "Cohen's κ")
        self.times = HistogramPlot("Time per item", "seconds (final revision)")
        self.progress = ProgressPlot("Items finished", "day", "finished (cumulative)")
        self.drift = _table(rq.DRIFT_HEADER, "ratersDrift")
        # Hidden gold and attention items (medreview checks): accuracy per rater, per question.
        self.gold = _table(rq.GOLD_HEADER, "ratersGold")
        self.gold_questions = _table(rq.GOLD_QUESTION_HEADER, "ratersGoldQuestions")
        gold = QSplitter(Qt.Orientation.Horizontal)
        gold.addWidget(self.gold)
        gold.addWidget(self.gold_questions)
        gold.setStretchFactor(0, 3)
        gold.setStretchFactor(1, 2)
        for small in (self.summary, self.drift, self.times, self.progress, self.gold,
                      self.gold_questions):
            small.setMinimumHeight(120)  # the whole tab fits a laptop screen without scrolling
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.times)
        side.addWidget(self.progress)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.plot)
        charts.addWidget(side)
        charts.setStretchFactor(0, 3)
        charts.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.summary)
        split.addWidget(charts)
        split.addWidget(self.drift)
        split.addWidget(gold)
        split.setStretchFactor(1, 3)
        # The content scrolls rather than forcing a minimum window size (the dashboard fits a
        # 1366x768 screen at 150 % scale, as its other tabs do).
        body = _Body()
        lay = QVBoxLayout(body)
        lay.addLayout(controls)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.question.activated.connect(lambda _i: self.refresh())
        self.window_box.activated.connect(lambda _i: self.refresh())
        self.threshold.editingFinished.connect(self.refresh)

    def refresh(self) -> None:
        project = self.project
        question = self.question.currentData()
        window, size = rq.parse_window(str(self.window_box.currentData()))
        threshold = self.threshold.value()

        def compute(inputs: rq.RaterInputs, _progress: Progress, _token: CancelToken) -> Any:
            return (rq.question_choices(inputs),
                    rq.compute_rater_report(inputs, question=question, window=window,
                                            size=size, threshold=threshold))

        self.status.setText("Computing…")
        self.job.start(lambda: rq.load_rater_inputs(project), compute)

    def _on_failed(self, text: str) -> None:
        self.status.setText(f"Not computed: {text}")

    def _on_finished(self, _inputs: Any, result: Any) -> None:
        choices, report = result
        self.report = report
        current = self.question.currentData()
        self.question.blockSignals(True)
        self.question.clear()
        self.question.addItem("Most answered question", None)
        for qid, label in choices:
            self.question.addItem(label, qid)
        at = self.question.findData(current) if current is not None else 0
        self.question.setCurrentIndex(max(at, 0))
        self.question.blockSignals(False)
        _fill(self.summary, rq.summary_rows(report),
              [bool(r.flagged) for r in report.raters])
        _fill(self.drift, rq.drift_rows(report),
              [w.flagged for r in report.raters for w in r.drift])
        _fill(self.gold, rq.gold_rows(report),  # a failed attention item is marked
              [bool(r.gold.failed_attention) for r in report.raters if r.gold])
        _fill(self.gold_questions, rq.gold_question_rows(report))
        self.plot.set_report(report)
        self.times.set_groups({r.rater: r.times for r in report.raters},
                              "seconds (final revision)")
        self.progress.set_report(report)
        head = (f"Question {report.question_id} ({report.scale}); window: {report.window}; "
                f"retests at least {report.min_delay_days:g} days after the first answer."
                if report.question_id else "")
        self.status.setText(" ".join([head, *report.notes]).strip())
