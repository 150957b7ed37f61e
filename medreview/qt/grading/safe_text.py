"""Widgets that show text from data and never load anything it names.

Every label that shows data is plain text (Qt would render a label holding ``<b>…`` as rich
text), and a text browser refuses every resource (``file:``, ``http:``, ``data:``, ``qrc:``):
the HTML it gets is already escaped by ``domain.display_text``, this is the second wall.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, Qt, QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QLabel, QTextBrowser, QWidget

from medreview.domain.display_text import visible_text


def blocked_image() -> QImage:
    """What every image URL gets: one transparent pixel."""
    img = QImage(1, 1, QImage.Format.Format_ARGB32)
    img.fill(0)
    return img


class SafeTextBrowser(QTextBrowser):
    """A read-only browser that opens no links and loads no resources; it records what it
    was asked for, so tests (and a curious developer) can see that nothing was fetched."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setSearchPaths([])
        self.refused: list[str] = []

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        self.refused.append(name.toString() if isinstance(name, QUrl) else str(name))
        # Never None or a null image: QTextDocument then reads file: and qrc: URLs itself,
        # and the image handler calls QImage.load(path) on whatever stays null.
        if type == QTextDocument.ResourceType.ImageResource:
            return blocked_image()
        return QByteArray()

    def setSource(self, name: QUrl | str, type: Any = None) -> None:
        self.refused.append(name.toString() if isinstance(name, QUrl) else str(name))


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A label that shows data literally, hidden characters marked."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(visible_text(text))
    return label


def set_plain(label: QLabel, text: str) -> None:
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(visible_text(text))
