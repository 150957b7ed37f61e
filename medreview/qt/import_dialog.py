"""ImportDialog: the app's side of ``medreview import`` (cases, outputs, media, prior ratings).

Files are imported one after the other on the database executor, each in one transaction (all
or nothing), with progress and Cancel. A file that fails is reported with its reason (file,
line, field) and leaves the project as the files before it left it.

The Options section mirrors ``medreview import`` (format, encoding, ``--na``, ``--map``,
``--rater``, ``--strict``) through the same ``services.import_options`` helpers, so a file
imports the same way from the app as from the terminal. Media files a folder import leaves
out are listed with their reason after the summary.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
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
from medreview.errors import MedreviewError
from medreview.progress import Cancelled, CancelToken
from medreview.qt.bridge import Op
from medreview.qt.progress_relay import ProgressRelay, show_busy, show_progress
from medreview.runtime.bus import ChangeBus
from medreview.runtime.executors import Executor
from medreview.services import import_options, importing, projects
from medreview.services.projects import Project

AUTO = "auto-detect"
AUTO_ENCODING = "auto (UTF-8, or as its byte-order mark says)"


class MapRow(QWidget):
    """One ``--map`` entry: a role (or ``q:QUESTION``) read from a column, or unmapped."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.field = QComboBox()
        self.field.setEditable(True)
        self.field.addItems(["", *import_options.MAP_ROLES])
        self.field.setToolTip("a role, or q:QUESTION for a rubric question in a ratings file")
        self.column = QLineEdit()
        self.column.setPlaceholderText("column name (several: a,b)")
        self.unmap = QCheckBox("unmap")
        self.unmap.setToolTip("turn this role's default column off (ROLE=)")
        self.unmap.toggled.connect(lambda on: self.column.setEnabled(not on))
        self.remove = QPushButton("Remove")
        lay.addWidget(self.field, 1)
        lay.addWidget(QLabel("←"))
        lay.addWidget(self.column, 2)
        lay.addWidget(self.unmap)
        lay.addWidget(self.remove)

    def item(self) -> str | None:
        """The row as a ``--map`` item, or None for a blank row."""
        field = self.field.currentText().strip()
        column = "" if self.unmap.isChecked() else self.column.text().strip()
        if not field and not column:
            return None
        return f"{field}={column}"


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
        self._options: tuple[str | None, dict[str, str] | None, dict[str, Any]] = (None, None, {})
        self.setWindowTitle("Import into the project")
        self.setMinimumWidth(680)
        self.setAcceptDrops(True)
        lay = QVBoxLayout(self)
        intro = QLabel("Cases and answers (JSONL, CSV, HealthBench, inspect-ai logs), "
                       "image folders (DICOM, PNG, JPEG) or prior ratings. Drop files "
                       "here or add them; importing a file twice adds nothing.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
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

        lay.addWidget(self._options_box())

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

    def _options_box(self) -> QGroupBox:
        box = QGroupBox("Options")
        form = QFormLayout(box)
        self.fmt = QComboBox()
        self.fmt.addItems([AUTO, *importing.FORMATS])
        self.encoding = QComboBox()
        self.encoding.setEditable(True)  # any name Python knows; checked before importing
        self.encoding.addItems([AUTO_ENCODING, *import_options.COMMON_ENCODINGS])
        self.na = QLineEdit()
        self.na.setPlaceholderText("e.g. NA, -, n/a   (an empty cell is always missing)")
        self.rater = QLineEdit()
        self.rater.setPlaceholderText("only for ratings files without a rater column")
        self.model = QLineEdit()
        self.model.setPlaceholderText("for answers or ratings whose file names no model")
        self.strict = QCheckBox("Refuse the whole folder if a file can't be used")
        self.strict.setToolTip("image folders: otherwise the usable files are imported and the "
                               "others listed with the reason")
        self.rubric = QComboBox()
        self.rubric.addItem("none (the project's rubrics stay)", None)
        for key, name in projects.rubric_templates():
            self.rubric.addItem(f"{name}  ({key})", key)
        self.rubric.addItem("From a file…", "")
        self.rubric.activated.connect(self._on_rubric_activated)
        self.map_rows: list[MapRow] = []
        self._map_box = QVBoxLayout()
        add_map = QPushButton("Add a column mapping")
        add_map.clicked.connect(self.add_map_row)
        self._map_box.addWidget(add_map)
        # Refusals name the CLI option (e.g. "--rater"), so each field says which one it is.
        for widget, flag in ((self.fmt, "--format"), (self.encoding, "--encoding"),
                             (self.na, "--na, comma-separated"), (add_map, "--map FIELD=COLUMN"),
                             (self.rater, "--rater"), (self.model, "--model")):
            widget.setToolTip(f"as medreview import {flag}")
        form.addRow("Format:", self.fmt)
        form.addRow("Encoding:", self.encoding)
        form.addRow("Missing-value markers:", self.na)
        form.addRow("Column mapping:", self._map_box)
        form.addRow("Rater name:", self.rater)
        form.addRow("Model name:", self.model)
        form.addRow("Image folders:", self.strict)
        form.addRow("Add a rubric or taxonomy:", self.rubric)
        return box

    def add_map_row(self) -> MapRow:
        row = MapRow(self)
        row.remove.clicked.connect(partial(self._remove_map_row, row))
        self.map_rows.append(row)
        self._map_box.insertWidget(self._map_box.count() - 1, row)
        return row

    def _remove_map_row(self, row: MapRow) -> None:
        self.map_rows.remove(row)
        row.setParent(None)
        row.deleteLater()

    def _chosen_options(self) -> tuple[str | None, dict[str, str] | None, dict[str, Any]]:
        """Format, mapping and the options every file gets (``left_out`` added per file);
        raises the same one-line ``InputError`` as the CLI for a bad mapping or encoding."""
        fmt = None if self.fmt.currentText() == AUTO else self.fmt.currentText()
        items = [i for i in (r.item() for r in self.map_rows) if i is not None]
        mapping = import_options.parse_mapping(items)
        typed = self.encoding.currentText().strip()
        encoding = None if typed in ("", AUTO_ENCODING) else typed
        if encoding is not None:
            import_options.check_encoding(encoding)
        common: dict[str, Any] = {
            "strict": self.strict.isChecked(),
            "model": self.model.text().strip() or None,
            "rater": self.rater.text().strip() or None,
            "encoding": encoding,
            "na": import_options.split_na(self.na.text()),
        }
        return fmt, mapping or None, common

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
        self._lines = []
        self._changed = False
        self.results.clear()
        try:
            self._options = self._chosen_options()
        except MedreviewError as exc:  # a bad option: one line, nothing imported
            self._report(f"options: NOT imported: {exc}")
            self.sig_done.emit(list(self._lines))
            return
        self.running = True
        self.token = CancelToken()
        self._queue = self.paths()
        self._update_enabled()
        rubric = self.rubric.currentData()
        if rubric:
            Op(self, projects.add_form_from, self.project, rubric) \
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
        fmt, mapping, common = self._options
        left_out: list[tuple[str, str]] = []  # filled on the db thread, read once it is done
        options = import_options.file_options(left_out=left_out, **common)
        show_busy(self.progress, f"{path.name}…")
        relay = ProgressRelay(self._show_progress, self)
        Op(self, importing.import_file, self.project, path, fmt=fmt, mapping=mapping,
           options=options, progress=relay, token=self.token) \
            .success(partial(self._file_done, path, left_out)) \
            .failure(partial(self._file_failed, path)).run(self.db)

    def _show_progress(self, done: int, total: int | None, message: str) -> None:
        if not self.running:
            return
        show_progress(self.progress, done, total, message or f"{done}")

    def _file_done(self, path: Path, left_out: list[tuple[str, str]],
                   result: tuple[str, Any]) -> None:
        fmt, summary = result
        added = ", ".join(f"{n} {k}" for k, n in summary.added.items()) or "nothing new"
        skipped = ", ".join(f"{n} {k}" for k, n in summary.skipped.items())
        self._report(f"{path.name} ({fmt}): added {added}"
                     + (f"; already there: {skipped}" if skipped else "")
                     + (f"; {len(left_out)} file(s) left out" if left_out else ""))
        for file, reason in left_out:
            self._report(f"  left out: {file}: {reason}")
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
