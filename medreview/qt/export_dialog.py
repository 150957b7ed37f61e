"""ExportDialog: the app's side of ``medreview export`` (tables, audit trail, training files).

The export runs on the database executor (it reads the project) with progress marshalled back
to this dialog; the dialog stays responsive and shows every file written, or the reason an
export was refused (nothing is half-written: each exporter writes whole files).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from medreview.errors import MedreviewError
from medreview.qt.bridge import Op
from medreview.qt.messages import ask
from medreview.qt.progress_relay import ProgressRelay, show_progress
from medreview.qt.status import set_tone
from medreview.runtime.executors import Executor
from medreview.services.exporting import (
    ALL_KINDS,
    KIND_LABELS,
    ExportRequest,
    is_note,
    normalise_kinds,
    parse_fractions,
    run_export,
)
from medreview.services.projects import Project

TABLE_KINDS = ("tables", "audit")
OVERWRITE_LABEL = "Replace files in a folder that isn't empty"
# The export service words its refusal for the command line; the dialog names its checkbox.
CLI_OVERWRITE_HINT = "allow overwriting (--overwrite)"
DIALOG_OVERWRITE_HINT = f"tick \u201c{OVERWRITE_LABEL}\u201d"


class ExportDialog(QDialog):
    sig_done = Signal(list)
    """Lines naming what was written, after a successful export."""

    def __init__(self, project: Project, db: Executor, parent: QWidget | None = None,
                 default_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.db = db
        self.running = False
        self.setWindowTitle("Export")
        self.setMinimumWidth(640)
        lay = QVBoxLayout(self)

        where = QHBoxLayout()
        self.outdir = QLineEdit(str(default_dir or Path(project.path).parent / "export"))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        where.addWidget(QLabel("Folder:"))
        where.addWidget(self.outdir, 1)
        where.addWidget(browse)
        lay.addLayout(where)
        self.overwrite = QCheckBox(OVERWRITE_LABEL)
        self.overwrite.setToolTip("Files and folders of the export replace those of the same "
                                  "name in the folder; everything else in it stays")
        lay.addWidget(self.overwrite)

        self.kind_boxes: dict[str, QCheckBox] = {}
        publish = QGroupBox("For publishing and analysis")
        pl = QVBoxLayout(publish)
        train = QGroupBox("For training judge models (gold labels, split by case)")
        tl = QVBoxLayout(train)
        for kind in ALL_KINDS:
            box = QCheckBox(KIND_LABELS[kind])
            box.setChecked(kind == "tables")
            box.toggled.connect(self._update_enabled)
            self.kind_boxes[kind] = box
            (pl if kind in TABLE_KINDS else tl).addWidget(box)
        self.fmt = QComboBox()
        self.fmt.addItems(["csv", "jsonl", "parquet"])
        fl = QFormLayout()
        fl.addRow("Table format:", self.fmt)
        pl.addLayout(fl)
        lay.addWidget(publish)

        opts = QFormLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.split = QLineEdit("0.8,0.1,0.1")
        self.split.setToolTip("train, validation, test fractions; no case crosses splits")
        self.sft_style = QComboBox()
        self.sft_style.addItems(["messages", "prompt_completion"])
        self.pref_style = QComboBox()
        self.pref_style.addItems(["trl", "openai"])
        self.min_margin = QDoubleSpinBox()
        self.min_margin.setRange(0.0, 1000.0)
        self.min_margin.setDecimals(3)
        self.min_margin.setSingleStep(0.05)
        self.margin = QCheckBox("add a margin column (RewardTrainer)")
        self.burned_in = QCheckBox("Allow images with burned-in annotation (I checked them)")
        self.burned_in.setToolTip("DICOM whose BurnedInAnnotation is YES or missing is "
                                  "refused unless you confirm you checked the pixels")
        self.burned_in.toggled.connect(self._confirm_burned_in)
        self.safe_private = QCheckBox("Keep the private attributes DICOM lists as safe "
                                      "(--retain-safe-private)")
        self.safe_private.setToolTip("b-values, table speed, scale slopes (PS3.15 Table "
                                     "E.3.10-1); every other private attribute is removed")
        opts.addRow("Split seed:", self.seed)
        opts.addRow("Split:", self.split)
        opts.addRow("Chat format:", self.sft_style)
        opts.addRow("Preference format:", self.pref_style)
        opts.addRow("Minimum score margin:", self.min_margin)
        opts.addRow("", self.margin)
        opts.addRow("", self.burned_in)
        opts.addRow("", self.safe_private)
        tl.addLayout(opts)
        lay.addWidget(train)

        self.real_names = QCheckBox("Write raters' real names (default: pseudonyms P01, J01, …)")
        self.real_names.toggled.connect(self._confirm_real_names)
        lay.addWidget(self.real_names)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        lay.addWidget(self.progress)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # paths and reasons, never markup
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.message)
        self.results = QListWidget()
        self.results.setMinimumHeight(120)
        lay.addWidget(self.results, 1)

        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        lay.addWidget(self.buttons)
        self._update_enabled()

    # choices ----------------------------------------------------------------------------------
    def chosen_kinds(self) -> list[str]:
        return [k for k, box in self.kind_boxes.items() if box.isChecked()]

    def _update_enabled(self) -> None:
        kinds = self.chosen_kinds()
        self.fmt.setEnabled(any(k in TABLE_KINDS for k in kinds))
        training = any(k not in TABLE_KINDS for k in kinds)
        for w in (self.seed, self.split, self.sft_style, self.pref_style, self.min_margin,
                  self.margin):
            w.setEnabled(training)
        self.burned_in.setEnabled("media" in kinds)
        self.safe_private.setEnabled("media" in kinds)
        self.export_button.setEnabled(bool(kinds) and not self.running)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", self.outdir.text())
        if folder:
            self.outdir.setText(folder)

    def _confirm(self, box: QCheckBox, title: str, text: str) -> None:
        if not box.isChecked():
            return
        if not ask(self, title, text):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)

    def _confirm_real_names(self, _on: bool) -> None:
        self._confirm(self.real_names, "Real rater names",
                      "The files will name every physician and judge. Share them only where "
                      "your study's consent allows. Write real names?")

    def _confirm_burned_in(self, _on: bool) -> None:
        self._confirm(self.burned_in, "Burned-in annotation",
                      "Pixel data can carry names and dates that header de-identification "
                      "cannot remove. Have you checked every image?")

    def request(self) -> ExportRequest:
        """The export the form describes; raises ``MedreviewError`` with what is wrong."""
        text = self.outdir.text().strip()
        if not text:
            raise MedreviewError("choose a folder to export into")
        return ExportRequest(
            outdir=Path(text).expanduser(), kinds=normalise_kinds(self.chosen_kinds()),
            fmt=self.fmt.currentText(), real_names=self.real_names.isChecked(),
            seed=self.seed.value(), fractions=parse_fractions(self.split.text().strip()),
            sft_style=self.sft_style.currentText(),  # type: ignore[arg-type]
            pref_style=self.pref_style.currentText(),  # type: ignore[arg-type]
            min_margin=self.min_margin.value(), include_margin=self.margin.isChecked(),
            allow_burned_in=self.burned_in.isChecked(),
            retain_safe_private=self.safe_private.isChecked(),
            overwrite=self.overwrite.isChecked())

    # running ----------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            request = self.request()
        except MedreviewError as exc:
            self._show_error(str(exc))
            return
        if not request.overwrite and _non_empty_folder(request.outdir):
            self._show_error(f"{request.outdir} is not empty; choose a new or empty folder, "
                             f"or {DIALOG_OVERWRITE_HINT}")
            return
        self.running = True
        self._update_enabled()
        self.results.clear()
        self.message.setStyleSheet("")
        self.message.setText("Exporting…")
        self.progress.setRange(0, 0)  # busy until the first progress report
        relay = ProgressRelay(self._show_progress, self)
        Op(self, run_export, self.project, request, progress=relay) \
            .success(self._finished).failure(self._failed).run(self.db)

    def _show_progress(self, done: int, total: int | None, message: str) -> None:
        if not self.running:
            return
        show_progress(self.progress, done, total, f"{message}  %v / %m" if message else "%v / %m")

    def _finished(self, lines: list[str]) -> None:
        self.running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("done")
        prefix = self.outdir.text().strip().rstrip("/\\")
        notes = [line for line in lines if is_note(line)]
        written = [line for line in lines if not is_note(line)]
        self.results.addItems([line.removeprefix(prefix).lstrip("/\\") for line in lines])
        text = (f"Wrote {len(written)} file(s) or folder(s) into "
                f"{self.outdir.text().strip()}.")
        # An empty training file must not pass for a success: say why and what to do.
        set_tone(self.message, "warn" if notes else None, bold=True)
        self.message.setText("\n".join([text, *notes]))
        self._update_enabled()
        self.sig_done.emit(lines)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self._show_error(str(exc))
        self._update_enabled()

    def _show_error(self, text: str) -> None:
        set_tone(self.message, "error", bold=True)
        text = text.replace(CLI_OVERWRITE_HINT, DIALOG_OVERWRITE_HINT)
        self.message.setText(f"Not exported: {text}")

    def reject(self) -> None:
        if self.running:  # the export finishes on the database thread; let it
            self.message.setText("Still exporting… the dialog closes when it is done.")
            return
        super().reject()


def _non_empty_folder(path: Path) -> bool:
    try:
        return path.is_dir() and any(path.iterdir())
    except OSError:
        return False  # unreadable: the export itself says why
