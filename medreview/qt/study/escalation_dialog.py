"""Study → Escalation rules…: the lead's rules (severe harm at or above a level, disagreement
above a share, the senior raters), a preview, a run, and the escalated items with their
seniors' progress. Reads and writes on the database thread; refusals are one line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.bridge import Op, run_modal
from medreview.qt.grading.safe_text import set_plain
from medreview.qt.status import set_tone
from medreview.qt.study.values import error_text
from medreview.qt.table_cells import cell
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import escalation as svc

if TYPE_CHECKING:
    from medreview.services.projects import Project

OFF = "(no severe-harm rule)"
HEADER = ("Output", "Case", "Senior", "Senior's status", "Reason")


class EscalationDialog(QDialog):
    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project, self.db, self.bus = project, db, bus
        self.setWindowTitle("Escalation rules")
        self.setModal(True)
        self.resize(900, 560)
        outer = QVBoxLayout(self)
        intro = QLabel("Items a physician rated with severe harm, or whose physicians disagree "
                       "on more than a share of the questions, go once to an additional senior "
                       "rater: the one with the fewest open escalations who has not rated the "
                       "item. Saving an item as done, a merge and a ratings import apply the "
                       "rules by themselves.")
        intro.setWordWrap(True)
        outer.addWidget(intro)
        form = QFormLayout()
        self.severe = QComboBox()
        self.severe.setEditable(False)
        self.severe.addItem(OFF)
        form.addRow("Severe harm at or above", self.severe)
        row = QHBoxLayout()
        self.use_disagreement = QCheckBox("escalate when the share is above")
        self.disagreement = QDoubleSpinBox()
        self.disagreement.setRange(0.0, 0.99)
        self.disagreement.setSingleStep(0.05)
        self.disagreement.setDecimals(2)
        self.disagreement.setValue(0.5)
        self.use_disagreement.toggled.connect(self.disagreement.setEnabled)
        self.disagreement.setEnabled(False)
        row.addWidget(self.use_disagreement)
        row.addWidget(self.disagreement)
        row.addStretch(1)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Questions not unanimous", holder)
        self.seniors = QLineEdit()
        self.seniors.setPlaceholderText("Dr A; Dr B (separated by ;)")
        form.addRow("Senior raters", self.seniors)
        outer.addLayout(form)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("Save rules")
        self.preview_button = QPushButton("Preview")
        self.run_button = QPushButton("Escalate now")
        self.close_button = QPushButton("Close")
        for b in (self.preview_button, self.run_button, self.close_button):
            b.setAutoDefault(False)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save_rules)
        self.preview_button.clicked.connect(lambda: self.run(dry_run=True))
        self.run_button.clicked.connect(lambda: self.run(dry_run=False))
        self.close_button.clicked.connect(self.reject)
        for b in (self.save_button, self.preview_button, self.run_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        outer.addLayout(buttons)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        outer.addWidget(QLabel("Escalated items"))
        self.table = QTableWidget(0, len(HEADER))
        self.table.setHorizontalHeaderLabels(list(HEADER))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # The reason fills the width.
        self.table.horizontalHeader().setSectionResizeMode(
            len(HEADER) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table
        outer.addWidget(self.table, 1)
        self.saved_rules: svc.EscalationRules | None = None  # as stored in the project
        self.reload()

    # loading --------------------------------------------------------------------------------
    def reload(self) -> None:
        Op(self, svc.escalation_overview, self.project).success(self._on_overview) \
            .failure(self._on_failed).run(self.db)

    def _on_overview(self, ov: svc.EscalationOverview) -> None:
        rules = self.saved_rules = ov.rules
        current = rules.severe.text() if rules.severe is not None else OFF
        self.severe.blockSignals(True)
        self.severe.clear()
        self.severe.addItem(OFF)
        for level in ov.levels:
            self.severe.addItem(level)
        if self.severe.findText(current) < 0:  # a rule the forms no longer offer: kept
            self.severe.addItem(current)
        self.severe.setCurrentText(current)
        self.severe.blockSignals(False)
        self.use_disagreement.setChecked(rules.disagreement is not None)
        if rules.disagreement is not None:
            self.disagreement.setValue(rules.disagreement)
        self.seniors.setText("; ".join(rules.seniors))
        self._show_items(ov.items)

    def _show_items(self, items: tuple[Any, ...]) -> None:
        self.table.setRowCount(len(items))
        for r, i in enumerate(items):
            for c, text in enumerate((str(i.output_id), i.case_external_id, i.senior, i.status,
                                      i.reason)):
                self.table.setItem(r, c, cell(text))
        for c in range(len(HEADER) - 1):  # not the last: fitting it would undo its stretch
            self.table.resizeColumnToContents(c)

    # actions --------------------------------------------------------------------------------
    def rules(self) -> svc.EscalationRules:
        severe = self.severe.currentText()
        return svc.rules_from_fields(
            "" if severe == OFF else severe,
            self.disagreement.value() if self.use_disagreement.isChecked() else None,
            self.seniors.text())

    def save_rules(self) -> None:
        try:
            rules = self.rules()
        except Exception as exc:  # an InputError: one line
            self._say(error_text(exc), "error")
            return
        Op(self, svc.set_rules, self.project, rules).emits(self.bus, lambda changes: changes) \
            .success(lambda _c: self._saved(rules)) \
            .failure(self._on_failed).run(self.db)

    def _saved(self, rules: svc.EscalationRules) -> None:
        self.saved_rules = rules
        self._say(f"Rules saved: {rules.describe()}", "ok")

    def run(self, *, dry_run: bool) -> None:
        typed: svc.EscalationRules | None = None
        if dry_run:  # the preview tries the rules as typed, saved or not
            try:
                typed = self.rules()
            except Exception as exc:  # an InputError: one line
                self._say(error_text(exc), "error")
                return
        Op(self, svc.run_escalation, self.project, dry_run=dry_run, by="lead (app)",
           rules=typed) \
            .emits(self.bus, lambda result: result[1]) \
            .success(lambda result: self._on_run(result[0])) \
            .failure(self._on_failed).run(self.db)

    def _on_run(self, report: svc.EscalationReport) -> None:
        if not report.rules.active:
            self._say("No escalation: set a rule and at least one senior rater"
                      + (" first." if not report.applied else ", and save them first."),
                      "error")
            return
        n = len(report.escalated)
        verb = ("Would escalate" + (" (rules as typed, not saved)"
                                    if report.rules != self.saved_rules else "")
                if not report.applied else "Escalated")
        extra = f"; {len(report.no_senior)} item(s) every senior has already" \
            if report.no_senior else ""
        self._say(f"{verb} {n} item(s){extra}.", "ok")
        if report.applied:
            self.reload()

    def _say(self, text: str, tone: str) -> None:
        set_plain(self.status, text)
        set_tone(self.status, tone)

    def _on_failed(self, exc: BaseException) -> None:
        self._say(error_text(exc), "error")


def show_escalation_dialog(window: Any) -> None:
    """Study → Escalation rules… (modal, like the other study dialogs)."""
    if window.project is None or window.executor is None:
        return
    run_modal(EscalationDialog(window.project, window.executor, window.bus, window))
    window.restore_grading_focus()
