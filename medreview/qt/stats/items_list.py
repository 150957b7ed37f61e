"""The list behind a Disagree count: every item a statistic row's raters disagree on, with each
rater's answer, so a lead sees *what* differs before opening the items for grading.

Opened by a click on the count; Enter or a double-click opens one item in the grading window,
"Open all" opens them all (``sig_open_items(output_ids, label)``, as the row itself does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.stats.format import items_label, value_text
from medreview.qt.table_cells import cell
from medreview.qt.window_size import fit_to_screen

Item = tuple[int, str]
MAX_ROWS = 2000  # listed at most; "Open all" still opens every output (a study can be huge)


class AnswerIndex:
    """(output id, question id) -> {rater: answer} and output id -> (case, model), built once per
    computed set of inputs (a dict over the long ratings table)."""

    def __init__(self, ratings: Any, questions: Any = None) -> None:
        self.answers: dict[Item, dict[str, Any]] = {}
        self.where: dict[int, tuple[str, str]] = {}
        self.questions = questions or {}
        if ratings is None or ratings.empty:
            return
        cols = [ratings[c] for c in ("output_id", "question_id", "rater", "value",
                                     "case_external_id", "model")]
        for o, q, rater, v, case, model in zip(*cols, strict=True):
            oid = int(o)
            self.answers.setdefault((oid, str(q)), {})[str(rater)] = v
            self.where.setdefault(oid, (str(case), str(model)))


    def question_text(self, qid: str) -> str:
        """The question's prompt (a per-case criterion's text), else its id."""
        q = self.questions.get(qid)
        prompt = str(getattr(q, "prompt", "") or "")
        if not prompt:
            return qid.removeprefix("criterion:")
        return prompt if len(prompt) <= 60 else prompt[:57] + "…"


class ItemsDialog(QDialog):
    """A table: case, model, question, then one column per rater with their answers."""

    sig_open_items = Signal(list, str)

    def __init__(self, items: Sequence[Item], index: AnswerIndex, title: str,
                 raters: Sequence[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Disagreements · {title}")
        self.total = len(items)
        self.all_outputs = sorted({int(o) for o, _ in items})
        self.items = [(int(o), str(q)) for o, q in items[:MAX_ROWS]]
        self.title = title
        self.index = index
        seen: dict[str, None] = {}
        for key in self.items:
            for rater in index.answers.get(key, {}):
                seen.setdefault(rater)
        names = [r for r in (raters or seen) if r in seen]
        # Physicians first, judges last (the judge reads against the physicians).
        self.raters = sorted(names, key=lambda r: (r.startswith("judge"), r))
        shown = ("" if self.total == len(self.items)
                 else f" The first {len(self.items)} are listed.")
        head = QLabel(f"{self.total} item{'s' if self.total != 1 else ''} where the raters of "
                      f"“{title}” give different answers.{shown} Enter or double-click opens "
                      "one in the grading window.")
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.PlainText)  # names and questions come from data
        self.table = QTableWidget(len(self.items), 3 + len(self.raters))
        self.table.setHorizontalHeaderLabels(["Case", "Model", "Question", *self.raters])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        for r, (oid, qid) in enumerate(self.items):
            case, model = index.where.get(oid, (f"output {oid}", ""))
            answers = index.answers.get((oid, qid), {})
            cells = [case, model, index.question_text(qid)] + [
                value_text(answers[name]) if name in answers else "" for name in self.raters]
            for c, text in enumerate(cells):  # data: the shared cell marks hidden characters
                self.table.setItem(r, c, cell(text))
        self.table.resizeColumnsToContents()
        for c in range(self.table.columnCount()):
            self.table.setColumnWidth(c, min(self.table.columnWidth(c) + 12, 260))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda index: self.open_row(index.row()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_all = QPushButton(f"Open all {len(self.all_outputs)} outputs")
        self.open_all.setToolTip("Open these outputs in the grading window (a banner there "
                                 "says which and offers Show all)")
        self.open_all.setAutoDefault(False)
        buttons.addButton(self.open_all, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        self.open_all.clicked.connect(self.open_everything)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        fit_to_screen(self, (760, 420))
        if self.items:
            self.table.selectRow(0)
        self.table.setFocus()

    def output_ids(self) -> list[int]:
        return self.all_outputs

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.items):
            oid, qid = self.items[row]
            self.sig_open_items.emit([oid], items_label([self.title, self.index.question_text(qid)],
                                                        1))

    def open_everything(self) -> None:
        ids = self.output_ids()
        self.sig_open_items.emit(ids, items_label([self.title], len(ids)))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Enter opens the current item (never "Open all", which is no default button).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.currentRow() >= 0:
            self.open_row(self.table.currentRow())
            return
        super().keyPressEvent(event)
