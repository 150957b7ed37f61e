"""A path field with a Browse button, and the small status line the package dialogs share."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from medreview.qt.status import show_status

__all__ = ["PACKAGE_FILTER", "PathField", "show_status", "unique_file", "unique_folder"]

PACKAGE_FILTER = "medreview rater packages (*.mrpkg *.zip);;All files (*)"


class PathField(QWidget):
    """``mode``: "open" (an existing file), "save" (a file to write) or "folder"."""

    sig_changed = Signal(str)
    """The path was chosen or edited (on Browse, or when editing finishes)."""

    def __init__(self, mode: str, caption: str, placeholder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self.caption = caption
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.editingFinished.connect(lambda: self.sig_changed.emit(self.edit.text()))
        self.browse = QPushButton("Browse…")
        self.browse.setAutoDefault(False)
        self.browse.clicked.connect(self._on_browse)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.browse)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None

    def set_path(self, path: Path | str, *, notify: bool = True) -> None:
        self.edit.setText(str(path))
        if notify:
            self.sig_changed.emit(str(path))

    def _on_browse(self) -> None:
        start = self.edit.text() or str(Path.home())
        if self.mode == "open":
            chosen, _ = QFileDialog.getOpenFileName(self, self.caption, start, PACKAGE_FILTER)
        elif self.mode == "save":
            chosen, _ = QFileDialog.getSaveFileName(self, self.caption, start, PACKAGE_FILTER)
        else:
            chosen = QFileDialog.getExistingDirectory(self, self.caption, start)
        if chosen:
            self.set_path(chosen)


def status_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    label.setMinimumHeight(20)
    return label


def unique_folder(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``… the first that does not exist or is empty."""
    candidate, n = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def unique_file(base: Path) -> Path:
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.stem}-{n}{base.suffix}")
    return candidate
