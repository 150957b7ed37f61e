"""The "Judge evaluation" window: two judge runs (prompt versions) side by side against gold on
the held-out split, next to the physician ceiling, with calibration, self-preference and
abstention — the same tables as ``medreview judge-eval`` (``services.judge_eval``).

The project is read on the database executor, the numbers computed on the work pool
(``StatsJob``); a change to the ratings marks the tables stale and recomputes them.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.progress import CancelToken, Progress
from medreview.qt.bridge import Op
from medreview.qt.stats.dashboard import empty_page
from medreview.qt.stats.dashboard_tabs import fill_combo, picker, titled
from medreview.qt.stats.runner import (
    RefreshOnChange,
    StatsJob,
    StatusStrip,
    mark_stale,
    mirror_status,
)
from medreview.qt.stats.window import StatsWindow
from medreview.qt.window_size import fit_to_screen
from medreview.services.bus import ChangeBus
from medreview.services.judge_eval import (
    EvalInputs,
    JudgeEvalReport,
    TextTable,
    compute_evaluation,
    judge_run_choices,
    load_eval_inputs,
    report_heading,
    report_notes,
    report_tables,
)
from medreview.services.projects import Project
from medreview.services.tasks import Executor

NO_RUNS_TEXT = ("<h3>No judge run yet</h3><p>Run the LLM judge (Analysis → Run the LLM "
                "judge…) once with the plain prompt, then again with few-shot examples "
                "(<code>medreview judge … --few-shot-from RUN</code>), and compare them "
                "here.</p>")
NONE = "(none)"


def _table() -> QTableWidget:
    t = QTableWidget()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.verticalHeader().setVisible(False)
    t.setAlternatingRowColors(True)
    t.setWordWrap(False)
    return t


def fill_table(table: QTableWidget, data: TextTable) -> None:
    table.clear()
    table.setColumnCount(len(data.header))
    table.setRowCount(len(data.rows))
    table.setHorizontalHeaderLabels(list(data.header))
    for r, row in enumerate(data.rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c and text[:1] in "+-0123456789—":
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(data.header[-1] == "note")  # a free-text last column


class JudgeEvalWindow(StatsWindow):
    def __init__(self, project: Project, db: Executor, work: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("Judge evaluation")
        self.project = project
        self.db = db
        self.report: JudgeEvalReport | None = None
        self.job = StatsJob(db, work, self)
        self.job.sig_finished.connect(self._on_finished)
        self.strip = StatusStrip(self.job)
        self.strip.refresh_button.clicked.connect(self.refresh)
        self.run_a = QComboBox()
        self.run_b = QComboBox()
        self.part = QComboBox()
        for p in ("test", "dev", "train"):
            self.part.addItem(p, p)
        self.method = QComboBox()
        for m in ("isotonic", "platt"):
            self.method.addItem(m, m)
        for box in (self.run_a, self.run_b, self.part, self.method):
            box.activated.connect(lambda _i: self.recompute())
        top = QHBoxLayout()
        top.addWidget(picker("Version A:", self.run_a))
        top.addWidget(picker("Version B:", self.run_b))
        top.addWidget(picker("Split:", self.part))
        top.addWidget(picker("Calibration:", self.method))
        top.addStretch(1)

        self.heading = QLabel("")
        self.heading.setObjectName("judgeEvalHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics = _table()
        self.calibration = _table()
        self.self_pref = _table()
        self.abstention = _table()
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.heading)
        self.metrics_box = titled("Agreement with gold", self.metrics,
                                  "95 % CIs: bootstrap over cases; B − A is paired (the same "
                                  "resampled cases for both). The ceiling is physician versus "
                                  "physician on the same items.")
        bl.addWidget(self.metrics_box, 3)
        self.calibration_box = titled("Calibration", self.calibration)
        self.self_pref_box = titled("Self-preference", self.self_pref)
        self.abstention_box = titled("Abstention", self.abstention)
        for group in (self.calibration_box, self.self_pref_box, self.abstention_box):
            bl.addWidget(group, 1)
        bl.addWidget(self.notes)
        self.empty = empty_page("")
        mirror_status(self.strip, self.empty, lambda: self.report is not None)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(body)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(top)
        lay.addWidget(self.strip)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.watch = RefreshOnChange(bus, self, self.refresh,
                                     on_stale=mark_stale(self.strip, self.job))
        fit_to_screen(self, (1500, 900))

    # computing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the judge runs (new ones appear in the pickers), then recompute."""
        project = self.project
        (Op(self, judge_run_choices, project)
         .success(self._on_runs)
         .failure(lambda exc: self.strip.set_status(f"Could not read the judge runs: {exc}",
                                                    error=True))
         .run(self.db))

    def _on_runs(self, runs: list[tuple[int, str]]) -> None:
        if not runs:
            self.report = None
            self.empty.setText(NO_RUNS_TEXT)
            self.stack.setCurrentWidget(self.empty)
            return
        fresh = self.run_a.count() == 0
        fill_combo(self.run_a, [(label, rid) for rid, label in runs])
        fill_combo(self.run_b, [(NONE, None)] + [(label, rid) for rid, label in runs])
        if fresh:  # the first and the newest run: the usual "before / after" pair
            self.run_a.setCurrentIndex(0)
            self.run_b.setCurrentIndex(len(runs) if len(runs) > 1 else 0)
        self.recompute()

    def selected_runs(self) -> list[int]:
        runs = [self.run_a.currentData()]
        b = self.run_b.currentData()
        if b is not None and b != runs[0]:
            runs.append(b)
        return [int(r) for r in runs if r is not None]

    def recompute(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        project, part, method = self.project, self.part.currentData(), self.method.currentData()

        def load() -> EvalInputs:
            return load_eval_inputs(project, runs, part=part)

        def compute(data: EvalInputs, progress: Progress, token: CancelToken
                    ) -> JudgeEvalReport:
            return compute_evaluation(data, method=method, progress=progress, token=token)

        self.job.start(load, compute)

    def _on_finished(self, _data: Any, report: JudgeEvalReport) -> None:
        self.report = report
        self.setWindowTitle(f"Judge evaluation — {report.project_name}")
        lines = report_heading(report)
        self.heading.setText("<b>" + html.escape(lines[0]) + "</b><br>" + "<br>".join(
            html.escape(line.strip()) for line in lines[1:]))
        metrics, calibration, self_pref, abstention = report_tables(report)
        fill_table(self.metrics, metrics)
        fill_table(self.calibration, calibration)
        fill_table(self.self_pref, self_pref)
        fill_table(self.abstention, abstention)
        self.metrics_box.setTitle(metrics.title)
        self.calibration_box.setTitle(calibration.title)
        self.self_pref_box.setTitle(self_pref.title)
        self.abstention_box.setTitle(abstention.title)
        notes = report_notes(report)
        self.notes.setText("\n".join(f"Note: {n}" for n in notes))
        self.notes.setVisible(bool(notes))
        self.strip.set_status("Up to date.")
        self.stack.setCurrentIndex(1)
