"""AssignDialog: choose raters and a design, see the load it gives each rater, then assign.

Every edit re-plans the design on the database thread without writing
(``services.study.preview_assignment``); only "Assign" writes, in one transaction, and the
design with its seed is recorded in the project.
"""

from __future__ import annotations

import secrets
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.bridge import Op
from medreview.qt.status import set_tone
from medreview.qt.study.values import error_text
from medreview.qt.table_cells import cell
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import study as svc
from medreview.services.projects import Project
from medreview.services.study import AssignmentDesign

PREVIEW_DELAY_MS = 250
MAX_SEED = 2**31 - 1
GROUPING = (("apart", "Apart — spread through each rater's queue"),
            ("together", "Together — same raters, one after another"))


def _cell(text: str, *, number: bool = False, bold: bool = False) -> QTableWidgetItem:
    return cell(text, tip="", number=number, bold=bold)


class AssignDialog(QDialog):
    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.bus = bus
        self.overview: svc.AssignmentOverview | None = None
        self.preview: svc.AssignmentPreview | None = None
        self.summary: svc.AssignmentSummary | None = None  # set once assigned
        self._seq = 0  # answers to older preview requests are dropped
        self.setWindowTitle("Assign raters")
        self.setModal(True)
        self.resize(1240, 660)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._request_preview)

        outer = QVBoxLayout(self)
        title = QLabel("Assign outputs to physician raters")
        title.setObjectName("paneTitle")
        outer.addWidget(title)
        self.scope = QLabel("Reading the project…")
        self.scope.setTextFormat(Qt.TextFormat.PlainText)  # model names are data
        self.scope.setEnabled(False)
        outer.addWidget(self.scope)
        columns = QHBoxLayout()
        columns.setSpacing(12)
        left = QVBoxLayout()
        left.addWidget(self._build_raters(), 1)
        left.addWidget(self._build_design())
        columns.addLayout(left, 3)
        columns.addWidget(self._build_preview(), 5)
        outer.addLayout(columns, 1)
        self.buttons = QDialogButtonBox()
        self.assign_button = self.buttons.addButton("Assign",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.assign_button.setDefault(True)
        self.assign_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.assign_button.clicked.connect(self.assign)
        self.close_button.clicked.connect(self.reject)
        outer.addWidget(self.buttons)
        Op(self, svc.assignment_overview, project).success(self._on_overview) \
            .failure(self._on_failed).run(db)

    # building ---------------------------------------------------------------------------------
    def _build_raters(self) -> QGroupBox:
        box = QGroupBox("Raters")
        lay = QVBoxLayout(box)
        self.rater_list = QListWidget()
        self.rater_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.rater_list.itemChanged.connect(self._on_raters_changed)
        lay.addWidget(self.rater_list, 1)
        row = QHBoxLayout()
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("Add a physician by name…")
        self.new_name.returnPressed.connect(self.add_rater_from_field)
        self.add_button = QPushButton("Add")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add_rater_from_field)
        row.addWidget(self.new_name, 1)
        row.addWidget(self.add_button)
        lay.addLayout(row)
        return box

    def _build_design(self) -> QGroupBox:
        box = QGroupBox("Design")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.per_output = QSpinBox()
        self.per_output.setRange(1, 1)
        self.per_output.setSuffix(" rater(s) per output")
        self.per_output.valueChanged.connect(self._changed)
        form.addRow("Raters per output (k)", self.per_output)
        cover = QVBoxLayout()
        self.every_mode = QRadioButton("Every output by k raters")
        self.share_mode = QRadioButton("A share by k raters, the rest by one:")
        self.every_mode.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.every_mode)
        group.addButton(self.share_mode)
        self.overlap_pct = QSpinBox()
        self.overlap_pct.setRange(0, 100)
        self.overlap_pct.setValue(20)
        self.overlap_pct.setSuffix(" %")
        share_row = QHBoxLayout()
        share_row.addWidget(self.share_mode)
        share_row.addWidget(self.overlap_pct)
        share_row.addStretch(1)
        cover.addWidget(self.every_mode)
        cover.addLayout(share_row)
        for w in (self.every_mode, self.share_mode):
            w.toggled.connect(self._changed)
        self.overlap_pct.valueChanged.connect(self._changed)
        form.addRow("Coverage", cover)
        strat = QHBoxLayout()
        self.by_model = QCheckBox("model")
        self.by_tag = QCheckBox("case tag")
        self.by_model.setChecked(True)
        self.by_tag.setChecked(True)
        self.tag_prefix = QLineEdit()
        self.tag_prefix.setPlaceholderText("only tags starting with… (optional)")
        for check in (self.by_model, self.by_tag):
            check.toggled.connect(self._changed)
        self.tag_prefix.textChanged.connect(self._changed)
        strat.addWidget(self.by_model)
        strat.addWidget(self.by_tag)
        strat.addWidget(self.tag_prefix, 1)
        form.addRow("Balance within", strat)
        self.grouping = QComboBox()
        for key, text in GROUPING:
            self.grouping.addItem(text, key)
        self.grouping.currentIndexChanged.connect(self._changed)
        form.addRow("A case's answers", self.grouping)
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, MAX_SEED)
        self.seed.setValue(secrets.randbelow(1_000_000))
        self.seed.valueChanged.connect(self._changed)
        self.new_seed = QPushButton("New seed")
        self.new_seed.setAutoDefault(False)
        self.new_seed.clicked.connect(lambda: self.seed.setValue(secrets.randbelow(1_000_000)))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_seed)
        form.addRow("Seed", seed_row)
        note = QLabel("Orders and blinded labels are shuffled from the seed; it is stored with "
                      "every assignment, so the same seed reproduces the plan.")
        note.setWordWrap(True)
        note.setEnabled(False)
        form.addRow(note)
        return box

    def _build_preview(self) -> QGroupBox:
        box = QGroupBox("Preview — nothing is saved until you press Assign")
        lay = QVBoxLayout(box)
        self.headline = QLabel("")
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.headline.setWordWrap(True)
        f = QFont(self.headline.font())
        f.setPointSizeF(f.pointSizeF() * 1.1)
        f.setBold(True)
        self.headline.setFont(f)
        lay.addWidget(self.headline)
        self.detail = QLabel("")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        lay.addWidget(self.detail)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lay.addWidget(self.table, 1)
        self.note = QLabel("")
        self.note.setTextFormat(Qt.TextFormat.PlainText)  # rater names are data
        self.note.setWordWrap(True)
        lay.addWidget(self.note)
        return box

    # raters -----------------------------------------------------------------------------------
    def _on_overview(self, ov: svc.AssignmentOverview) -> None:
        self.overview = ov
        models = ", ".join(f"{m} ({n})" for m, n in ov.models.items())
        past = f" · {len(ov.designs)} earlier design(s) applied" if ov.designs else ""
        self.scope.setText(f"{ov.outputs} outputs · {ov.cases} cases · models: {models}{past}")
        self.rater_list.blockSignals(True)
        for r in ov.raters:
            self._add_item(r.name, f"{r.assigned} assigned · {r.done} done", checked=True)
        self.rater_list.blockSignals(False)
        self._on_raters_changed()

    def _add_item(self, name: str, note: str, checked: bool) -> QListWidgetItem:
        item = QListWidgetItem(f"{name}    —  {note}")
        item.setData(Qt.ItemDataRole.UserRole, name)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.rater_list.addItem(item)
        return item

    def add_rater_from_field(self) -> None:
        name = " ".join(self.new_name.text().split())
        if not name:
            return
        if name in self.rater_names(checked_only=False):
            self.note.setText(f"{name} is already in the list.")
            return
        self._add_item(name, "new — created on Assign", checked=True)
        self.new_name.clear()
        self._on_raters_changed()

    def rater_names(self, checked_only: bool = True) -> list[str]:
        out = []
        for i in range(self.rater_list.count()):
            item = self.rater_list.item(i)
            if not checked_only or item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_checked(self, names: set[str]) -> None:
        for i in range(self.rater_list.count()):
            item = self.rater_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _on_raters_changed(self, *_: Any) -> None:
        n = max(1, len(self.rater_names()))
        self.per_output.setMaximum(n)
        self._changed()

    # design and preview -----------------------------------------------------------------------
    def design(self) -> AssignmentDesign:
        strata = tuple(s for s, box in (("model", self.by_model), ("tag", self.by_tag))
                       if box.isChecked())
        return AssignmentDesign(
            raters=tuple(self.rater_names()),
            per_output=self.per_output.value(),
            overlap=self.overlap_pct.value() / 100 if self.share_mode.isChecked() else None,
            seed=self.seed.value(),
            case_grouping=str(self.grouping.currentData()),  # type: ignore[arg-type]
            stratify_by=strata,
            tag_prefix=self.tag_prefix.text().strip(),
        )

    def _changed(self, *_: Any) -> None:
        self.overlap_pct.setEnabled(self.share_mode.isChecked())
        self.tag_prefix.setEnabled(self.by_tag.isChecked())
        if self.summary is not None:
            return  # assigned: the dialog now shows the result
        self.assign_button.setEnabled(False)
        self._seq += 1
        self._timer.start()

    def _request_preview(self) -> None:
        if self.overview is None:
            return
        if not self.rater_names():
            self._show_problem("Choose at least one rater.")
            return
        if self.share_mode.isChecked() and self.per_output.value() < 2:
            self._show_problem("Rating a share of outputs more than once needs 2 or more "
                               "raters per output (k).")
            return
        seq = self._seq
        Op(self, svc.preview_assignment, self.project, self.design()).latest("preview") \
            .success(lambda p: self._on_preview(seq, p)) \
            .failure(lambda e: self._on_preview_failed(seq, e)).run(self.db)

    def _on_preview(self, seq: int, preview: svc.AssignmentPreview) -> None:
        if seq != self._seq or self.summary is not None:
            return
        self.preview = preview
        s = preview.summary
        if s.added == 0:
            self.headline.setText("Nothing to add: every output already has the raters this "
                                  "design asks for.")
        else:
            self.headline.setText(f"Adds {s.added} assignment(s); {s.multi_rated_outputs} of "
                                  f"{preview.outputs} outputs will have two or more raters.")
        self.detail.setText(self._detail_text(s))
        self._fill_table(s, preview)
        self.note.setText("")
        self.assign_button.setEnabled(s.added > 0)

    def _detail_text(self, s: svc.AssignmentSummary) -> str:
        d = s.design
        cover = (f"{round((d.overlap or 0) * 100)} % by {d.per_output} raters, the rest by one"
                 if d.overlap is not None else f"every output by {d.per_output} rater(s)")
        strata = " and ".join(d.stratify_by) or "nothing (no stratification)"
        new = f" New rater(s): {', '.join(s.created_raters)}." if s.created_raters else ""
        return (f"Coverage: {cover}. Balanced within {strata}. A case's answers "
                f"{'together' if d.case_grouping == 'together' else 'apart'}. "
                f"Seed {d.seed}.{new} Model columns count each rater's new items per model.")

    def _fill_table(self, s: svc.AssignmentSummary, p: svc.AssignmentPreview | None) -> None:
        models = sorted({m for per in (p.new_by_model.values() if p else []) for m in per})
        heads = ["Rater", "Before", "New", "Total", *models]
        self.table.clear()
        self.table.setColumnCount(len(heads))
        self.table.setHorizontalHeaderLabels(heads)
        names = list(s.per_rater)
        self.table.setRowCount(len(names))
        loads = {r.name: r.assigned for r in self.overview.raters} if self.overview else {}
        for row, name in enumerate(names):
            new = p.new_per_rater.get(name, 0) if p else s.per_rater[name] - loads.get(name, 0)
            before = s.per_rater[name] - new
            self.table.setItem(row, 0, _cell(name))
            self.table.setItem(row, 1, _cell(str(before), number=True))
            self.table.setItem(row, 2, _cell(f"+{new}", number=True))
            self.table.setItem(row, 3, _cell(str(s.per_rater[name]), number=True, bold=True))
            for col, m in enumerate(models, start=4):
                n = p.new_by_model.get(name, {}).get(m, 0) if p else 0
                self.table.setItem(row, col, _cell(str(n), number=True))
        for col, m in enumerate(models, start=4):
            head = self.table.horizontalHeaderItem(col)
            if head is not None:
                head.setToolTip(f"New items from {m}")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)

    def _show_problem(self, text: str) -> None:
        self.preview = None
        self.headline.setText("This design cannot be applied yet.")
        self.detail.setText("")
        self.table.setRowCount(0)
        self.note.setText(text)
        set_tone(self.note, "error")
        self.assign_button.setEnabled(False)

    def _on_preview_failed(self, seq: int, exc: BaseException) -> None:
        if seq == self._seq and self.summary is None:
            self._show_problem(error_text(exc))

    # assigning --------------------------------------------------------------------------------
    def assign(self) -> None:
        if self.preview is None or self.summary is not None or not self.preview.summary.added:
            return
        self.assign_button.setEnabled(False)
        self.headline.setText("Assigning…")
        Op(self, svc.assign, self.project, self.design()).emits(self.bus, lambda r: r[1]) \
            .success(self._on_assigned).failure(self._on_failed).run(self.db)

    def _on_assigned(self, result: tuple[svc.AssignmentSummary, Any]) -> None:
        summary, _changes = result  # on the bus already (Op.emits)
        self.summary = summary
        d = summary.design
        self.headline.setText(f"Assigned: {summary.added} new assignment(s), seed {d.seed}. "
                              f"{summary.multi_rated_outputs} outputs have two or more raters.")
        self._fill_table(summary, self.preview)
        set_tone(self.note, "ok")
        created = (f" Created rater(s): {', '.join(summary.created_raters)}."
                   if summary.created_raters else "")
        self.note.setText("Saved. The design and its seed are recorded in the project." + created)
        self.assign_button.hide()
        self.close_button.setText("Close")
        for i in range(self.rater_list.count()):
            item = self.rater_list.item(i)
            name = str(item.data(Qt.ItemDataRole.UserRole))
            if name in summary.per_rater:
                item.setText(f"{name}    —  {summary.per_rater[name]} assigned")
        for w in (self.rater_list, self.new_name, self.add_button, self.per_output,
                  self.every_mode, self.share_mode, self.overlap_pct, self.by_model,
                  self.by_tag, self.tag_prefix, self.grouping, self.seed, self.new_seed):
            w.setEnabled(False)

    def _on_failed(self, exc: BaseException) -> None:
        self.headline.setText("Nothing was assigned.")
        set_tone(self.note, "error")
        self.note.setText(error_text(exc))
        self.assign_button.setEnabled(self.preview is not None)
