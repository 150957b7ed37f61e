"""Message boxes whose text is always plain: an error message may quote a file name, a case
title or a value from a hostile file, and QMessageBox's static helpers render rich text when
the text merely looks like HTML."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from medreview.domain.display_text import visible_text

Button = QMessageBox.StandardButton


def _box(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    box = QMessageBox(icon, visible_text(title), visible_text(text), parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Critical, title, text).exec()


def show_warning(parent: QWidget | None, title: str, text: str) -> None:
    _box(parent, QMessageBox.Icon.Warning, title, text).exec()


def ask(parent: QWidget | None, title: str, text: str, *, default_no: bool = False) -> bool:
    """Yes/No question; True when the user answered Yes."""
    box = _box(parent, QMessageBox.Icon.Question, title, text)
    box.setStandardButtons(Button.Yes | Button.No)
    box.setDefaultButton(Button.No if default_no else Button.Yes)
    return box.exec() == Button.Yes
