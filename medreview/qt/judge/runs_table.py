"""RunsTable: the project's earlier judge runs, newest first, to inspect or resume.

Cells are the shared ``qt/table_cells.cell`` (model names and template keys are data: hidden
characters marked), the status tone from ``qt/status.py``."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QWidget,
)

from medreview.qt.judge.text import status_label, tokens, usd, when
from medreview.qt.table_cells import cell
from medreview.services.judging import JudgeRunInfo

COLUMNS = ("Run", "Started", "Model", "Template", "Status", "Items", "Tokens", "Cost")
NUMBER_COLUMNS = frozenset({0, 5, 6, 7})
STATUS_TONES = {"done": "ok", "incomplete": "warn", "cancelled": "warn", "running": "error",
                "created": "muted"}


class RunsTable(QTableWidget):
    sig_selected = Signal(object)
    """The selected ``JudgeRunInfo``, or None."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.runs: list[JudgeRunInfo] = []
        self.active_run: int | None = None  # the run this dialog is driving right now
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.itemSelectionChanged.connect(lambda: self.sig_selected.emit(self.selected_run()))
        self.placeholder = QLabel("No judge runs in this project yet.", self.viewport())
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.placeholder.setGeometry(self.viewport().rect())

    def set_runs(self, runs: list[JudgeRunInfo]) -> None:
        keep = self.selected_run()
        self.runs = list(runs)
        self.blockSignals(True)
        self.setRowCount(len(self.runs))
        for row, r in enumerate(self.runs):
            failed = f" · {r.n_failed} failed" if r.n_failed else ""
            cells = (f"#{r.run_id}", when(r.started_at), r.model, r.template_key,
                     status_label(r.status, ours=r.run_id == self.active_run),
                     f"{r.n_done} done{failed}",
                     f"{tokens(r.prompt_tokens)} / {tokens(r.completion_tokens)}",
                     usd(r.cost_usd))
            ours = r.run_id == self.active_run
            dropped = ", ".join(str(p) for p in r.params.get("dropped_params", ()))
            tips = {2: f"{r.model} at {r.base_url}\nrater: {r.rater_name}" + (
                        f"\nrefused by the endpoint, sent without: {dropped}" if dropped else ""),
                    4: self._status_tip(r)}
            items = [cell(text, tip=tips.get(col, ""), number=col in NUMBER_COLUMNS,
                          tone=("active" if ours else STATUS_TONES.get(r.status, "muted"))
                          if col == 4 else None)
                     for col, text in enumerate(cells)]
            for col, item in enumerate(items):
                self.setItem(row, col, item)
        self.clearSelection()
        if keep is not None:
            for row, r in enumerate(self.runs):
                if r.run_id == keep.run_id:
                    self.selectRow(row)
        self.blockSignals(False)
        self.placeholder.setVisible(not self.runs)
        self.sig_selected.emit(self.selected_run())

    def selected_run(self) -> JudgeRunInfo | None:
        rows = {i.row() for i in self.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self.runs[row] if 0 <= row < len(self.runs) else None

    def select_run(self, run_id: int) -> bool:
        for row, r in enumerate(self.runs):
            if r.run_id == run_id:
                self.selectRow(row)
                return True
        return False

    @staticmethod
    def _status_tip(r: JudgeRunInfo) -> str:
        if r.status == "done":
            return "Every item was judged."
        if r.status == "running":
            return "Stopped without finishing (the app or the command was closed). Resume it."
        if r.status == "incomplete":
            return "Some items failed; resuming retries only those."
        return "Resume it: finished items are not sent again."
