"""The rater's side of a package: open one as a project, and write the graded one back.

Both run the file work (checksums, zip) on a worker thread of their own, never the database
thread, behind a busy bar; a refused package says why and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from medreview.qt.bridge import Op
from medreview.qt.study.background import file_worker
from medreview.qt.study.file_field import PathField, show_status, status_label, unique_file
from medreview.qt.study.file_field import unique_folder as _unique_folder
from medreview.qt.study.values import error_text
from medreview.services import study as svc


def _busy_bar() -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 0)  # the core reports no steps here: a busy indicator
    bar.setTextVisible(False)
    bar.setMaximumHeight(10)
    bar.hide()
    return bar


def _title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("paneTitle")
    return label


def _intro(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setEnabled(False)
    return label


class OpenPackageDialog(QDialog):
    """Choose a package and a folder; extract it there; ``folder`` is the project to open."""

    def __init__(self, parent: QWidget | None = None, file: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open a rater package")
        self.setMinimumWidth(640)
        self.worker = file_worker()
        self.folder: Path | None = None
        self.info: svc.PackageCheck | None = None
        self._dest_edited = False
        lay = QVBoxLayout(self)
        lay.addWidget(_title("Open a rater package"))
        lay.addWidget(_intro("A package holds the items assigned to you with their cases and "
                             "images. It opens as a project of its own; grade as usual, then "
                             "use “Return package” to send your grading back."))
        form = QFormLayout()
        self.file = PathField("open", "Choose a rater package", "the .mrpkg file you received")
        self.file.sig_changed.connect(self._on_file_changed)
        form.addRow("Package", self.file)
        self.info_label = QLabel("")
        self.info_label.setTextFormat(Qt.TextFormat.PlainText)  # rater and project names
        self.info_label.setWordWrap(True)
        form.addRow("", self.info_label)
        self.dest = PathField("folder", "Extract the package into", "a new, empty folder")
        self.dest.edit.textEdited.connect(self._on_dest_edited)
        form.addRow("Extract into", self.dest)
        lay.addLayout(form)
        self.bar = _busy_bar()
        lay.addWidget(self.bar)
        self.status = status_label()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # reasons quote package contents
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.addButton("Open",
                                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.extract)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.finished.connect(lambda _r: self.worker.shutdown(wait=False))
        if file is not None:
            self.file.set_path(file)

    def _on_dest_edited(self, _text: str) -> None:
        self._dest_edited = True

    def _on_file_changed(self, text: str) -> None:
        self.info = None
        self.open_button.setEnabled(False)
        if not text.strip():
            return
        file = Path(text.strip()).expanduser()
        if not self._dest_edited:
            self.dest.set_path(_unique_folder(file.with_suffix("")), notify=False)
        show_status(self.status, "Reading the package…")
        Op(self, svc.read_package_info, file).success(self._on_info) \
            .failure(self._on_refused).run(self.worker)

    def _on_info(self, info: svc.PackageCheck) -> None:
        self.info = info
        stage = "as sent" if info.stage == "outbound" else "already returned once"
        self.info_label.setText(f"For {info.rater} · project “{info.project_name}” · "
                                f"{info.items} item(s) · {stage}")
        show_status(self.status, "")
        self.open_button.setEnabled(True)

    def extract(self) -> None:
        file, dest = self.file.path(), self.dest.path()
        if file is None or dest is None or self.info is None:
            return
        self.open_button.setEnabled(False)
        self.bar.show()
        show_status(self.status, "Checking every file and extracting…")
        Op(self, svc.unpack_package, file, dest).success(self._on_extracted) \
            .failure(self._on_refused).run(self.worker)

    def _on_extracted(self, folder: Path) -> None:
        self.bar.hide()
        self.folder = Path(folder)
        show_status(self.status, f"Extracted into {folder}.", ok=True)
        self.accept()

    def _on_refused(self, exc: BaseException) -> None:
        self.bar.hide()
        self.info_label.setText("")
        show_status(self.status, f"Cannot open this package: {error_text(exc)}", ok=False)
        self.open_button.setEnabled(self.info is not None)


def open_package_dialog(parent: QWidget | None, file: Path | None = None) -> Path | None:
    """Ask for a package and a destination, extract it; the project folder to open, or None."""
    dlg = OpenPackageDialog(parent, file)
    dlg.exec()
    return dlg.folder


class ReturnPackageDialog(QDialog):
    """Seal a graded package folder into a file for the study lead."""

    def __init__(self, parent: QWidget | None, project_folder: Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Return your graded package")
        self.setMinimumWidth(640)
        self.folder = Path(project_folder)
        self.worker = file_worker()
        self.written: Path | None = None
        lay = QVBoxLayout(self)
        lay.addWidget(_title("Return your graded package"))
        lay.addWidget(_intro("This writes one file with your grading (and nothing else) for "
                             "the study lead to merge. You can return again later; merging "
                             "keeps every revision."))
        self.summary = QLabel("Reading the package…")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        form = QFormLayout()
        self.out = PathField("save", "Save the return file as")
        self.out.set_path(unique_file(self.folder.parent / f"{self.folder.name}-graded.mrpkg"),
                          notify=False)
        form.addRow("Save as", self.out)
        lay.addLayout(form)
        self.bar = _busy_bar()
        lay.addWidget(self.bar)
        self.status = status_label()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # reasons quote package contents
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.write_button = self.buttons.addButton("Write return file",
                                                   QDialogButtonBox.ButtonRole.AcceptRole)
        self.write_button.clicked.connect(self.write)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.finished.connect(lambda _r: self.worker.shutdown(wait=False))
        Op(self, svc.package_folder_summary, self.folder).success(self._on_summary) \
            .failure(self._on_not_package).run(self.worker)

    def _on_summary(self, s: svc.PackageFolderSummary) -> None:
        left = s.items - s.done
        text = f"{s.rater} · project “{s.project_name}” · {s.done} of {s.items} done"
        if s.in_progress:
            text += f" · {s.in_progress} in progress"
        if left:
            text += (f"\n{left} item(s) not finished: you can return now and send the rest "
                     "later.")
        self.summary.setText(text)

    def _on_not_package(self, exc: BaseException) -> None:
        self.summary.setText("")
        self.write_button.setEnabled(False)
        show_status(self.status, f"This project is not an opened rater package: "
                                 f"{error_text(exc)}", ok=False)

    def write(self) -> None:
        out = self.out.path()
        if out is None:
            show_status(self.status, "Choose where to save the return file.", ok=False)
            return
        self.write_button.setEnabled(False)
        self.bar.show()
        show_status(self.status, "Writing…")
        Op(self, svc.seal_package, self.folder, out).success(self._on_written) \
            .failure(self._on_failed).run(self.worker)

    def _on_written(self, info: svc.PackageInfo) -> None:
        self.bar.hide()
        self.written = Path(info.path)
        size = self.written.stat().st_size / 1e6
        show_status(self.status, f"Written: {self.written} ({size:.1f} MB). Send this file to "
                                 "the study lead.", ok=True)
        self.write_button.hide()
        close = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        close.setText("Close")
        self.buttons.rejected.disconnect()
        self.buttons.rejected.connect(self.accept)

    def _on_failed(self, exc: BaseException) -> None:
        self.bar.hide()
        self.write_button.setEnabled(True)
        show_status(self.status, f"Not written: {error_text(exc)}", ok=False)


def return_package_dialog(parent: QWidget | None, project_folder: Path) -> Path | None:
    """Write the return file of a graded package folder; its path, or None if cancelled.

    The caller should have saved pending edits first (the file is a consistent snapshot of
    what is in the database at that moment)."""
    dlg = ReturnPackageDialog(parent, project_folder)
    dlg.exec()
    return dlg.written
