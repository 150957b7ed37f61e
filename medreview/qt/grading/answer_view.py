"""AnswerView: the model's answer rendered from Markdown, with error spans highlighted.

Selecting text (mouse, or A then Shift+arrows) and pressing E tags it: ``selected_span``
maps the rendered selection back to the Markdown source offsets that a ``TextSpan`` stores.
"""

from __future__ import annotations

import re
from typing import Any

import markdown
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextBrowser, QTextEdit, QVBoxLayout, QWidget

from medreview.services.answer_spans import locate_in_rendered, locate_in_source

_NAV_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right,
             Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}
SEVERITY_COLORS = ("#fff3b0", "#ffd58a", "#ffb199", "#ff8a80")


_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+\S")


def _loosen_lists(text: str) -> str:
    """Python-Markdown needs a blank line before a list; model answers often omit it."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and out[-1].strip() and _LIST_ITEM.match(line) and not _LIST_ITEM.match(out[-1]):
            out.append("")
        out.append(line)
    return "\n".join(out)


_MD: markdown.Markdown | None = None


def render_markdown(text: str) -> str:
    global _MD
    if _MD is None:  # building the converter costs more than converting an answer
        _MD = markdown.Markdown(extensions=["extra", "sane_lists"])
    html = _MD.reset().convert(_loosen_lists(text))
    return html


class AnswerView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Answer")
        self.title.setObjectName("paneTitle")
        lay.addWidget(self.title)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        # Keyboard selection too, so an error span can be tagged without the mouse.
        self.browser.setTextInteractionFlags(
            self.browser.textInteractionFlags().TextSelectableByMouse
            | self.browser.textInteractionFlags().TextSelectableByKeyboard)
        lay.addWidget(self.browser, 1)
        self.browser.installEventFilter(self)
        self.source = ""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # A read-only browser does not claim arrow keys, so the window's Up/Down/PgUp
        # shortcuts would steal them; claim them while the answer has focus so the rater
        # can move and select with the keyboard.
        if obj is self.browser and event.type() == QEvent.Type.ShortcutOverride:
            key = event.key()  # type: ignore[attr-defined]
            mods = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier  # type: ignore[attr-defined]
            if key in _NAV_KEYS and mods in (Qt.KeyboardModifier.NoModifier,
                                              Qt.KeyboardModifier.ControlModifier):
                event.accept()
                return True
        return super().eventFilter(obj, event)

    def show_answer(self, label: str, text: str) -> None:
        self.title.setText(label)
        self.source = text
        self.browser.setHtml(render_markdown(text))

    def selected_span(self) -> dict[str, Any] | None:
        cursor = self.browser.textCursor()
        if not cursor.hasSelection():
            return None
        selected = cursor.selectedText().replace("\u2029", "\n").replace("\u00a0", " ")
        length = max(1, self.browser.document().characterCount())
        span = locate_in_source(self.source, selected, cursor.selectionStart() / length)
        return span.to_dict() if span else None

    def set_highlights(self, entries: list[dict[str, Any]], severity_rank: dict[Any, int]
                       ) -> int:
        """Highlight each error entry's span; returns how many were found in the text."""
        rendered = self.browser.document().toPlainText()
        selections: list[QTextEdit.ExtraSelection] = []
        for entry in entries:
            span = entry.get("span")
            if not span:
                continue
            where = locate_in_rendered(rendered, str(span.get("text", "")))
            if where is None:
                continue
            sel = QTextEdit.ExtraSelection()
            cur = QTextCursor(self.browser.document())
            cur.setPosition(where[0])
            cur.setPosition(where[1], QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            rank = severity_rank.get(entry.get("severity"), 0)
            fmt.setBackground(QColor(SEVERITY_COLORS[min(rank, len(SEVERITY_COLORS) - 1)]))
            fmt.setForeground(QColor("#1d1f23"))
            fmt.setToolTip(str(entry.get("category", "")))
            sel.cursor = cur
            sel.format = fmt
            selections.append(sel)
        self.browser.setExtraSelections(selections)
        return len(selections)
