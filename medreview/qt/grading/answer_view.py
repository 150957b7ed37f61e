"""AnswerView: the model's answer rendered from Markdown, with error spans highlighted.

Rendering follows ``domain.display_text``: HTML, links and images show as literal text, hidden
characters as markers, and the browser loads nothing. ``V`` switches to the raw source (the
exact stored text, the one the judge receives) in a plain-text view and back.

Selecting text (mouse, or A then Shift+arrows) and pressing E tags it: ``selected_span``
maps the selection back to the source offsets that a ``TextSpan`` stores (exactly, in the raw
view).
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import (
    MARKER_BG,
    MARKER_FG,
    MARKER_RE,
    answer_html,
    tooltip_text,
    visible_text,
    visible_text_with_map,
)
from medreview.qt.grading.safe_text import SafeTextBrowser
from medreview.services.answer_spans import SourceSpan, locate_in_rendered, locate_in_source


@functools.lru_cache(maxsize=16)
def _rendered(text: str) -> tuple[str, str, tuple[int, ...]]:
    """An answer's HTML, its raw text with hidden characters marked, and the raw-to-source
    offset map: pure functions of the text, cached for the preloaded items."""
    shown, offsets = visible_text_with_map(text)
    return answer_html(text), shown, tuple(offsets)


_NAV_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right,
             Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}
SEVERITY_COLORS = ("#fff3b0", "#ffd58a", "#ffb199", "#ff8a80")


def render_markdown(text: str) -> str:
    """Kept for callers of the old name: the one rendering policy for data."""
    return answer_html(text)


class AnswerView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Answer")
        self.title.setObjectName("paneTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)  # a long model name must not widen the pane
        lay.addWidget(self.title)
        self.browser = SafeTextBrowser()
        # Keyboard selection too, so an error span can be tagged without the mouse.
        self.browser.setTextInteractionFlags(
            self.browser.textInteractionFlags().TextSelectableByMouse
            | self.browser.textInteractionFlags().TextSelectableByKeyboard)
        self.raw = QPlainTextEdit()
        self.raw.setObjectName("rawSource")
        self.raw.setReadOnly(True)
        self.raw.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                         | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.raw.setFont(QFont("monospace"))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.browser)
        self.stack.addWidget(self.raw)
        lay.addWidget(self.stack, 1)
        self.browser.installEventFilter(self)
        self.raw.installEventFilter(self)
        self.source = ""
        self._label = ""
        self._raw_map: Sequence[int] = (0,)
        self._raw_markers: list[QTextEdit.ExtraSelection] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # A read-only browser does not claim arrow keys, so the window's Up/Down/PgUp
        # shortcuts would steal them; claim them while the answer has focus so the rater
        # can move and select with the keyboard.
        if obj in (self.browser, self.raw) and event.type() == QEvent.Type.ShortcutOverride:
            key = event.key()  # type: ignore[attr-defined]
            mods = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier  # type: ignore[attr-defined]
            if key in _NAV_KEYS and mods in (Qt.KeyboardModifier.NoModifier,
                                              Qt.KeyboardModifier.ControlModifier):
                event.accept()
                return True
        return super().eventFilter(obj, event)

    @staticmethod
    def prepare(text: str) -> None:
        """Render an answer ahead of showing it (a preloaded item's): ``show_answer`` then
        finds it done."""
        _rendered(text)

    def show_answer(self, label: str, text: str) -> None:
        self._label = visible_text(label)
        self.source = text
        html, shown, self._raw_map = _rendered(text)
        self.browser.setHtml(html)
        self.raw.setPlainText(shown)
        self._raw_markers = self._marker_selections(shown)
        self.raw.setExtraSelections(self._raw_markers)
        self._show_title()

    def _marker_selections(self, shown: str) -> list[QTextEdit.ExtraSelection]:
        """The raw view is plain text: hidden-character markers are coloured on top."""
        out: list[QTextEdit.ExtraSelection] = []
        if "⟦" not in shown:  # nothing marked (the common case): no format to build
            return out
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(MARKER_FG))
        fmt.setBackground(QColor(MARKER_BG))
        for m in MARKER_RE.finditer(shown):
            sel = QTextEdit.ExtraSelection()
            cur = QTextCursor(self.raw.document())
            cur.setPosition(m.start())
            cur.setPosition(m.end(), QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cur
            sel.format = fmt
            out.append(sel)
        return out

    def set_label(self, label: str) -> None:
        self._label = visible_text(label)
        self._show_title()

    # raw source -------------------------------------------------------------------------------
    def is_raw(self) -> bool:
        return self.stack.currentWidget() is self.raw

    def toggle_raw(self) -> None:
        """Show the exact stored text (key V), or the rendering again; focus follows."""
        had_focus = self.browser.hasFocus() or self.raw.hasFocus()
        self.stack.setCurrentWidget(self.browser if self.is_raw() else self.raw)
        self._show_title()
        if had_focus:
            self.text_widget().setFocus()

    def text_widget(self) -> QWidget:
        return self.raw if self.is_raw() else self.browser

    def focus_text(self) -> None:
        self.text_widget().setFocus()

    def _show_title(self) -> None:
        suffix = "  ·  raw source (V: rendered)" if self.is_raw() else ""
        self.title.setText(self._label + suffix)

    # spans ------------------------------------------------------------------------------------
    def _raw_to_source(self, pos: int) -> int:
        return self._raw_map[max(0, min(pos, len(self._raw_map) - 1))]

    def _source_to_raw(self, offset: int) -> int:
        return bisect.bisect_left(self._raw_map, offset)

    def selected_span(self) -> dict[str, Any] | None:
        if self.is_raw():
            rc = self.raw.textCursor()
            if not rc.hasSelection():
                return None
            start = self._raw_to_source(rc.selectionStart())
            end = self._raw_to_source(rc.selectionEnd())
            if end <= start:
                return None
            return SourceSpan(start, end, self.source[start:end]).to_dict()
        cursor = self.browser.textCursor()
        if not cursor.hasSelection():
            return None
        selected = cursor.selectedText().replace("\u2029", "\n").replace("\u00a0", " ")
        length = max(1, self.browser.document().characterCount())
        span = locate_in_source(self.source, selected, cursor.selectionStart() / length)
        return span.to_dict() if span else None

    def set_highlights(self, entries: list[dict[str, Any]], severity_rank: dict[Any, int]
                       ) -> int:
        """Highlight each error entry's span (in the rendering and in the raw source);
        returns how many were found in the rendered text."""
        rendered: str | None = None  # the document's text, taken only when a span needs it
        selections: list[QTextEdit.ExtraSelection] = []
        raw_selections: list[QTextEdit.ExtraSelection] = []
        for entry in entries:
            span = entry.get("span")
            if not span:
                continue
            raw_where = self._raw_span(span)
            if raw_where is not None:
                raw_selections.append(self._selection(self.raw.document(), raw_where, entry,
                                                      severity_rank))
            if rendered is None:
                rendered = self.browser.document().toPlainText()
            where = locate_in_rendered(rendered, str(span.get("text", "")))
            if where is None:
                continue
            selections.append(self._selection(self.browser.document(), where, entry,
                                              severity_rank))
        self.browser.setExtraSelections(selections)
        self.raw.setExtraSelections(self._raw_markers + raw_selections)
        return len(selections)

    def _raw_span(self, span: dict[str, Any]) -> tuple[int, int] | None:
        start, end = span.get("start"), span.get("end")
        if (not isinstance(start, int) or not isinstance(end, int)
                or not 0 <= start < end <= len(self.source)
                or self.source[start:end] != span.get("text")):
            return None  # offsets from another version of the text: do not guess
        return self._source_to_raw(start), self._source_to_raw(end)

    @staticmethod
    def _selection(doc: Any, where: tuple[int, int], entry: dict[str, Any],
                   severity_rank: dict[Any, int]) -> QTextEdit.ExtraSelection:
        sel = QTextEdit.ExtraSelection()
        cur = QTextCursor(doc)
        cur.setPosition(where[0])
        cur.setPosition(where[1], QTextCursor.MoveMode.KeepAnchor)
        fmt = QTextCharFormat()
        rank = severity_rank.get(entry.get("severity"), 0)
        fmt.setBackground(QColor(SEVERITY_COLORS[min(rank, len(SEVERITY_COLORS) - 1)]))
        fmt.setForeground(QColor("#1d1f23"))
        fmt.setToolTip(tooltip_text(str(entry.get("category", ""))))
        sel.cursor = cur
        sel.format = fmt
        return sel
