"""MergeDialog: bring graded rater packages back into the project.

Each file is checked as soon as it is added (size limits, checksums, project identity, that
this project issued it to the rater it names, its seal) on a file thread, so a foreign, forged,
tampered or truncated file is named with its one-line reason before anything is merged. The
merge itself runs on the database thread and is all-or-nothing: if the deeper check inside the
merge refuses a package, nothing is written, that file is marked refused, and pressing Merge
again merges the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medreview.errors import MedreviewError
from medreview.qt.bridge import Op
from medreview.qt.progress_relay import ProgressRelay, show_progress
from medreview.qt.status import tone_color
from medreview.qt.study.background import file_worker
from medreview.qt.study.file_field import PACKAGE_FILTER, show_status, status_label
from medreview.qt.study.values import error_text
from medreview.qt.table_cells import cell
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import study as svc
from medreview.services.projects import Project

CHECKING, READY, REFUSED, MERGED = "checking", "ready", "refused", "merged"
STATE_TONES = {READY: "ok", REFUSED: "error", MERGED: "info", CHECKING: "muted"}


@dataclass
class FileState:
    path: Path
    state: str = CHECKING
    reason: str = ""
    info: svc.PackageCheck | None = None


def _cell(text: str, tip: str = "", tone: str | None = None) -> QTableWidgetItem:
    return cell(text, tip=tip or text, tone=tone)


def _why(exc: BaseException) -> str:
    """The refusal in one line, without the file path (the row names the file) but with the
    item inside it (e.g. the output token and revision a bad answer is in)."""
    if isinstance(exc, MedreviewError):
        line = f"{exc.item}: {exc.reason}" if exc.item else exc.reason
    else:
        line = error_text(exc)
    return " ".join(line.split())


def _num(n: int) -> QTableWidgetItem:
    it = _cell(str(n))
    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


class MergeDialog(QDialog):
    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.bus = bus
        self.worker = file_worker()
        self.files: list[FileState] = []
        self.project_uid: str | None = None
        self.issued: svc.IssuedRecords | None = None
        self.report: svc.MergeReport | None = None
        self._merging = False
        self.setWindowTitle("Merge rater packages")
        self.resize(1000, 720)
        lay = QVBoxLayout(self)
        title = QLabel("Merge graded rater packages")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        intro = QLabel("Every package is checked first. If one is refused, nothing is merged "
                       "and the project stays as it was. Merging twice adds nothing twice.")
        intro.setWordWrap(True)
        intro.setEnabled(False)
        lay.addWidget(intro)
        self.file_table = QTableWidget(0, 4)
        self.file_table.setHorizontalHeaderLabels(["Package file", "Rater", "Items", "Check"])
        self._table_style(self.file_table)
        header = self.file_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        # Refusal reasons are sentences: let them wrap instead of cutting them off.
        self.file_table.setWordWrap(True)
        self.file_table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.file_table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add packages…")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.hide()
        lay.addWidget(self.bar)
        self.status = status_label()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # reasons quote package contents
        lay.addWidget(self.status)
        results = QGroupBox("Result")
        rlay = QVBoxLayout(results)
        self.result_table = QTableWidget(0, 5)
        self.result_table.setHorizontalHeaderLabels(
            ["Package file", "Rater", "New revisions", "Already present", "Conflicts"])
        self._table_style(self.result_table)
        self.result_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.result_table.setMinimumHeight(120)
        rlay.addWidget(self.result_table, 1)
        self.conflict_title = QLabel("Conflicts")
        self.conflict_title.setToolTip("The same item was graded in two copies: every revision "
                                       "is kept and the newest is current.")
        rlay.addWidget(self.conflict_title)
        self.conflicts = QListWidget()
        self.conflicts.setMaximumHeight(96)
        rlay.addWidget(self.conflicts)
        self.conflict_title.hide()
        self.conflicts.hide()
        lay.addWidget(results, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.merge_button = self.buttons.addButton("Merge",
                                                   QDialogButtonBox.ButtonRole.ActionRole)
        self.merge_button.setDefault(True)
        self.merge_button.setEnabled(False)
        self.merge_button.clicked.connect(self.merge)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.relay = ProgressRelay(parent=self)
        self.relay.sig_progress.connect(self._on_progress)
        self.finished.connect(lambda _r: self.worker.shutdown(wait=False))
        Op(self, svc.issued_records, project).success(self._on_identity) \
            .failure(lambda e: show_status(self.status, error_text(e), ok=False)).run(db)

    @staticmethod
    def _table_style(t: QTableWidget) -> None:
        t.verticalHeader().hide()
        t.verticalHeader().setDefaultSectionSize(26)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setAlternatingRowColors(True)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    # files ------------------------------------------------------------------------------------
    def _on_identity(self, issued: svc.IssuedRecords) -> None:
        self.issued = issued
        self.project_uid, name = issued.project_uid, issued.project_name
        self.setWindowTitle(f"Merge rater packages — {name}")
        for f in self.files:
            if f.state == CHECKING:
                self._check(f)

    def _on_add_clicked(self) -> None:
        chosen, _ = QFileDialog.getOpenFileNames(self, "Choose graded rater packages", "",
                                                 PACKAGE_FILTER)
        self.add_files([Path(c) for c in chosen])

    def add_files(self, paths: list[Path]) -> None:
        known = {f.path.resolve() for f in self.files}
        for p in paths:
            if Path(p).resolve() in known:
                continue
            state = FileState(Path(p))
            self.files.append(state)
            known.add(state.path.resolve())
            if self.project_uid is not None:
                self._check(state)
        self._refresh_files()

    def _check(self, f: FileState) -> None:
        assert self.project_uid is not None
        Op(self, svc.check_package, f.path, self.project_uid, self.issued) \
            .success(partial(self._on_checked, f)) \
            .failure(partial(self._on_refused, f)).run(self.worker)

    def _on_checked(self, f: FileState, info: svc.PackageCheck) -> None:
        f.info = info
        f.state = READY
        f.reason = ("ready — graded and returned" if info.stage == "return"
                    else "ready — not yet graded (as sent): merging adds nothing new")
        self._refresh_files()

    def _on_refused(self, f: FileState, exc: BaseException) -> None:
        f.state = REFUSED
        f.reason = _why(exc)
        self._refresh_files()

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.file_table.selectionModel().selectedRows()}
        self.files = [f for i, f in enumerate(self.files) if i not in rows]
        self._refresh_files()

    def _refresh_files(self) -> None:
        self.file_table.setRowCount(len(self.files))
        for row, f in enumerate(self.files):
            tone = STATE_TONES[f.state]
            label = {CHECKING: "checking…", READY: f.reason, MERGED: "merged",
                     REFUSED: f"refused: {f.reason}"}[f.state]
            self.file_table.setItem(row, 0, _cell(f.path.name, str(f.path)))
            self.file_table.setItem(row, 1, _cell(f.info.rater if f.info else ""))
            self.file_table.setItem(row, 2, _num(f.info.items) if f.info else _cell(""))
            self.file_table.setItem(row, 3, _cell(label, tone=tone))
        ready = [f for f in self.files if f.state == READY]
        busy = any(f.state == CHECKING for f in self.files)
        self.merge_button.setEnabled(bool(ready) and not busy and not self._merging)
        if self.report is None and not self._merging and self.files and not busy:
            refused = sum(1 for f in self.files if f.state == REFUSED)
            note = f"; {refused} refused (they are left out)" if refused else ""
            show_status(self.status, f"{len(ready)} package(s) ready to merge{note}.")

    # merging ----------------------------------------------------------------------------------
    def merge(self) -> None:
        ready = [f for f in self.files if f.state == READY]
        if not ready or self._merging:
            return
        self._merging = True
        self.merge_button.setEnabled(False)
        self.add_button.setEnabled(False)
        self.bar.setRange(0, 0)
        self.bar.show()
        show_status(self.status, f"Merging {len(ready)} package(s)…")
        Op(self, svc.merge_packages, self.project, [f.path for f in ready], self.relay) \
            .emits(self.bus, lambda result: result[1]) \
            .success(lambda result: self._on_merged(ready, result)) \
            .failure(self._on_merge_failed).run(self.db)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        show_progress(self.bar, done, total, message or "%p%")

    def _on_merged(self, merged: list[FileState], result: tuple[svc.MergeReport, object]
                   ) -> None:
        report, _changes = result  # on the bus already (Op.emits)
        self._merging = False
        self.add_button.setEnabled(True)
        self.bar.hide()
        self.report = report
        for f in merged:
            f.state = MERGED
        self._refresh_files()
        t = self.result_table
        start = t.rowCount()
        t.setRowCount(start + len(report.packages))
        for row, p in enumerate(report.packages, start=start):
            t.setItem(row, 0, _cell(Path(p.file).name, p.file))
            t.setItem(row, 1, _cell(p.rater))
            t.setItem(row, 2, _num(p.added))
            t.setItem(row, 3, _num(p.already_present))
            n = _num(len(p.conflicts))
            if p.conflicts:
                n.setForeground(QBrush(tone_color("warn")))
            t.setItem(row, 4, n)
        for c in report.conflicts:
            self.conflicts.addItem(f"{c.rater} · output {c.output_id}: {c.detail}")
        has_conflicts = self.conflicts.count() > 0
        self.conflict_title.setVisible(has_conflicts)
        self.conflicts.setVisible(has_conflicts)
        dup = sum(p.already_present for p in report.packages)
        text = (f"Merged {len(report.packages)} package(s): {report.added} new revision(s), "
                f"{dup} already present, {len(report.conflicts)} conflict(s).")
        show_status(self.status, text, ok=True)

    def _on_merge_failed(self, exc: BaseException) -> None:
        self._merging = False
        self.add_button.setEnabled(True)
        self.bar.hide()
        source = getattr(exc, "source", None)
        culprit = next((f for f in self.files if source and (
            str(f.path) == str(source) or f.path.resolve() == Path(str(source)).resolve())),
            None)
        reason = _why(exc)
        if culprit is not None:
            culprit.state = REFUSED
            culprit.reason = reason
        self._refresh_files()  # before the message: it would replace it with the file count
        if culprit is not None:
            others = sum(1 for f in self.files if f.state == READY)
            more = " Press Merge again to merge the other package(s)." if others else ""
            show_status(self.status, f"Nothing was merged; the project is unchanged. "
                                     f"{culprit.path.name} was refused: {reason}.{more}",
                        ok=False)
        else:
            show_status(self.status, f"Nothing was merged; the project is unchanged. "
                                     f"{error_text(exc)}", ok=False)
