"""Export offline packages: one file per chosen rater with their assigned, blinded items.

Packages are written one after another on the database thread (they read the project), each
rater's outcome listed: the file, or why there is none (e.g. no assignments yet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from medreview.errors import MedreviewError
from medreview.progress import Progress
from medreview.qt.bridge import Op
from medreview.qt.progress_relay import ProgressRelay
from medreview.qt.study.file_field import PathField, show_status, status_label
from medreview.qt.study.values import error_text
from medreview.qt.table_cells import cell
from medreview.runtime.executors import Executor
from medreview.services import study as svc
from medreview.services.projects import Project


@dataclass(frozen=True)
class Written:
    rater: str
    path: Path | None
    items: int = 0
    problem: str = ""


def slug(text: str) -> str:
    """A file-name-safe form of a name ("Dr. Mei Tanaka" -> "dr-mei-tanaka")."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "rater"


def package_name(project_name: str, rater: str) -> str:
    return f"{slug(project_name)}--{slug(rater)}.mrpkg"


def write_packages(project: Project, raters: list[str], folder: Path,
                   progress: Progress) -> list[Written]:
    """Runs on the database thread: every rater's package, or the reason there is none."""
    _uid, name = svc.project_identity(project)
    out: list[Written] = []
    for i, rater in enumerate(raters):
        progress(i, len(raters), f"writing {rater}'s package")
        target = folder / package_name(name, rater)
        try:
            info = svc.build_package(project, rater, target)
        except MedreviewError as exc:
            out.append(Written(rater, None, problem=exc.reason))
            continue
        out.append(Written(rater, info.path, len(info.manifest["outputs"])))
    progress(len(raters), len(raters), "done")
    return out


class MakePackagesDialog(QDialog):
    def __init__(self, parent: QWidget | None, project: Project, db: Executor) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.results: list[Written] = []
        self.setWindowTitle("Export packages for raters")
        self.resize(760, 560)
        lay = QVBoxLayout(self)
        title = QLabel("Export offline packages for raters")
        title.setObjectName("paneTitle")
        lay.addWidget(title)
        intro = QLabel("Each package holds one rater's assigned items, blinded, with their "
                       "cases and images, and no other rater's judgments. The rater opens it "
                       "in medreview, grades offline, and returns it for merging.")
        intro.setWordWrap(True)
        intro.setEnabled(False)
        lay.addWidget(intro)
        self.raters = QListWidget()
        self.raters.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        lay.addWidget(self.raters, 1)
        form = QFormLayout()
        self.folder = PathField("folder", "Write the packages into", "a folder")
        self.folder.set_path(Path.home(), notify=False)
        form.addRow("Output folder", self.folder)
        lay.addLayout(form)
        self.bar = QProgressBar()
        self.bar.hide()
        lay.addWidget(self.bar)
        self.status = status_label()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # reasons quote package contents
        lay.addWidget(self.status)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Rater", "Items", "File"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.hide()
        lay.addWidget(self.table, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.write_button = self.buttons.addButton("Write packages",
                                                   QDialogButtonBox.ButtonRole.ActionRole)
        self.write_button.setDefault(True)
        self.write_button.setEnabled(False)
        self.write_button.clicked.connect(self.write)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.relay = ProgressRelay(parent=self)
        self.relay.sig_progress.connect(self._on_progress)
        Op(self, svc.assignment_overview, project).success(self._on_overview) \
            .failure(lambda e: show_status(self.status, error_text(e), ok=False)).run(db)

    def _on_overview(self, ov: svc.AssignmentOverview) -> None:
        for r in ov.raters:
            item = QListWidgetItem(f"{r.name}    —  {r.assigned} assigned item(s)")
            item.setData(Qt.ItemDataRole.UserRole, r.name)
            if r.assigned:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            else:
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable)  # shown, not choosable
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip("No assignments yet: assign raters first.")
            self.raters.addItem(item)
        self.write_button.setEnabled(any(r.assigned for r in ov.raters))
        if not any(r.assigned for r in ov.raters):
            show_status(self.status, "No rater has assignments yet: use “Assign raters” "
                                     "first.", ok=False)

    def chosen(self) -> list[str]:
        out = []
        for i in range(self.raters.count()):
            item = self.raters.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def write(self) -> None:
        raters, folder = self.chosen(), self.folder.path()
        if not raters:
            show_status(self.status, "Choose at least one rater.", ok=False)
            return
        if folder is None:
            show_status(self.status, "Choose an output folder.", ok=False)
            return
        self.write_button.setEnabled(False)
        self.bar.show()
        Op(self, write_packages, self.project, raters, folder, self.relay) \
            .success(self._on_written).failure(self._on_failed).run(self.db)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        show_status(self.status, message.capitalize() + "…" if message != "done" else "")

    def _on_written(self, results: list[Written]) -> None:
        self.bar.hide()
        self.results = results
        self.table.show()
        self.table.setRowCount(len(results))
        for row, w in enumerate(results):
            self.table.setItem(row, 0, cell(w.rater))
            self.table.setItem(row, 1, cell(str(w.items) if w.path else "", number=True))
            self.table.setItem(row, 2, cell(str(w.path) if w.path else f"not written: {w.problem}",
                                            tone=None if w.path else "error"))
        ok = sum(1 for w in results if w.path)
        show_status(self.status, f"{ok} of {len(results)} package(s) written.",
                    ok=ok == len(results))
        self.write_button.setEnabled(True)

    def _on_failed(self, exc: BaseException) -> None:
        self.bar.hide()
        self.write_button.setEnabled(True)
        show_status(self.status, f"Not written: {error_text(exc)}", ok=False)

    def written(self) -> list[Path]:
        return [w.path for w in self.results if w.path is not None]


def make_packages_dialog(parent: QWidget | None, project: Project, db: Executor) -> list[Path]:
    """Choose raters and a folder, write their packages; the files written."""
    dlg = MakePackagesDialog(parent, project, db)
    dlg.exec()
    return dlg.written()
