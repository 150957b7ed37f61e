"""ImportDialog: the app's side of ``medreview import`` (cases, outputs, media, prior ratings).

Files are imported one after the other on the database executor, each in one transaction (all
or nothing), with progress and Cancel. A file that fails is reported with its reason (file,
line, field) and leaves the project as the files before it left it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.changes import Changes
from medreview.progress import Cancelled, CancelToken
from medreview.qt.bridge import Op
from medreview.qt.progress_relay import ProgressRelay
from medreview.services import importing, projects
from medreview.services.bus import ChangeBus
from medreview.services.projects import Project
from medreview.services.tasks import Executor

AUTO = "auto-detect"


class ImportDialog(QDialog):
    sig_done = Signal(list)
    """One line per file: what was added or skipped, or why it failed."""

    def __init__(self, project: Project, db: Executor, bus: ChangeBus,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.bus = bus
        self.running = False
        self.token: CancelToken | None = None
        self._queue: list[Path] = []
        self._lines: list[str] = []
        self._changed = False
        self.setWindowTitle("Import into the project")
        self.setMinimumWidth(680)
        self.setAcceptDrops(True)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Cases and answers (JSONL, CSV, HealthBench, inspect-ai logs), "
                             "image folders (DICOM, PNG, JPEG) or prior ratings. Drop files "
                             "here or add them; importing a file twice adds nothing."))
        self.files = QListWidget()
        self.files.setMinimumHeight(110)
        lay.addWidget(self.files)
        row = QHBoxLayout()
        for text, slot in (("Add files…", self._add_files), ("Add a folder…", self._add_folder),
                           ("Remove", self._remove)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)

        form = QFormLayout()
        self.fmt = QComboBox()
        self.fmt.addItems([AUTO, *importing.FORMATS])
        self.model = QLineEdit()
        self.model.setPlaceholderText("only for HealthBench completions without a model name")
        self.rubric = QComboBox()
        self.rubric.addItem("none (the project's rubrics stay)", None)
        for key, name in projects.rubric_templates():
            self.rubric.addItem(f"{name}  ({key})", key)
        self.rubric.addItem("From a file…", "")
        self.rubric.activated.connect(self._on_rubric_activated)
        form.addRow("Format:", self.fmt)
        form.addRow("Model name:", self.model)
        form.addRow("Add a rubric or taxonomy:", self.rubric)
        lay.addLayout(form)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        lay.addWidget(self.progress)
        self.results = QListWidget()
        self.results.setMinimumHeight(110)
        lay.addWidget(self.results, 1)
        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel import",
                                                    QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.import_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        lay.addWidget(self.buttons)
        self._update_enabled()

    # files --------------------------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> None:
        known = {self.files.item(i).text() for i in range(self.files.count())}
        for p in paths:
            if str(p) not in known:
                self.files.addItem(str(p))
        self._update_enabled()

    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def _add_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Files to import", "",
            "Cases, outputs, ratings (*.jsonl *.ndjson *.json *.csv *.tsv *.eval);;All files (*)")
        self.add_paths([Path(n) for n in names])

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images (DICOM, PNG, JPEG)")
        if folder:
            self.add_paths([Path(folder)])

    def _remove(self) -> None:
        for item in self.files.selectedItems():
            self.files.takeItem(self.files.row(item))
        self._update_enabled()

    def _on_rubric_activated(self, index: int) -> None:
        if self.rubric.itemData(index) != "":
            return
        name, _ = QFileDialog.getOpenFileName(self, "Rubric or taxonomy file", "",
                                              "Rubric files (*.yaml *.yml *.json)")
        if name:
            self.rubric.insertItem(index, Path(name).name, name)
            self.rubric.setCurrentIndex(index)
        else:
            self.rubric.setCurrentIndex(0)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.add_paths([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])

    def _update_enabled(self) -> None:
        self.import_button.setEnabled(not self.running and self.files.count() > 0)
        self.cancel_button.setEnabled(self.running)
        self.close_button.setEnabled(not self.running)

    # running ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.running or not self.files.count():
            return
        self.running = True
        self.token = CancelToken()
        self._lines = []
        self._changed = False
        self.results.clear()
        self._queue = self.paths()
        self._update_enabled()
        rubric = self.rubric.currentData()
        if rubric:
            Op(projects.add_form_from, self.project, rubric) \
                .success(self._rubric_added).failure(self._rubric_failed).run(self.db)
        else:
            self._next()

    def _rubric_added(self, result: tuple[str, int]) -> None:
        key, version = result
        self._report(f"rubric {key} v{version} added")
        self._changed = True
        self._next()

    def _rubric_failed(self, exc: BaseException) -> None:
        self._report(f"rubric {self.rubric.currentText()}: NOT added: {exc}")
        self._finish()

    def _next(self) -> None:
        if not self._queue:
            self._finish()
            return
        path = self._queue.pop(0)
        fmt = None if self.fmt.currentText() == AUTO else self.fmt.currentText()
        options: dict[str, Any] = {"model": self.model.text().strip() or None}
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"{path.name}…")
        Op(importing.import_file, self.project, path, fmt=fmt, options=options,
           progress=ProgressRelay(self._show_progress), token=self.token) \
            .success(partial(self._file_done, path)) \
            .failure(partial(self._file_failed, path)).run(self.db)

    def _show_progress(self, done: int, total: int | None, message: str) -> None:
        if not self.running:
            return
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.progress.setFormat(message or f"{done}")

    def _file_done(self, path: Path, result: tuple[str, Any]) -> None:
        fmt, summary = result
        added = ", ".join(f"{n} {k}" for k, n in summary.added.items()) or "nothing new"
        skipped = ", ".join(f"{n} {k}" for k, n in summary.skipped.items())
        self._report(f"{path.name} ({fmt}): added {added}"
                     + (f"; already there: {skipped}" if skipped else ""))
        self._changed = self._changed or bool(summary.added)
        self._next()

    def _file_failed(self, path: Path, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self._report(f"{path.name}: cancelled, nothing of it imported")
            self._queue.clear()
        else:
            self._report(f"{path.name}: NOT imported (nothing of it was saved): {exc}")
        self._next()

    def _report(self, line: str) -> None:
        self._lines.append(line)
        self.results.addItem(line)
        self.results.scrollToBottom()

    def _finish(self) -> None:
        self.running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("done")
        self._update_enabled()
        if self._changed:
            self.bus.emit(Changes(project=True, rubrics=True), self)
        self.sig_done.emit(list(self._lines))

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()

    def reject(self) -> None:
        if self.running:
            self.cancel()
            return
        super().reject()
