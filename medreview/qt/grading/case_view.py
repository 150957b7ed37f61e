"""CaseView: the prompt or conversation (one block per turn) and collapsible context documents.

Prompts and notes are shown reflowed (``reflow_text``): hard-wrapped lines become paragraphs
that wrap to the pane, so a wider window shows more of a note, not the same ragged lines."""

from __future__ import annotations

import functools

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import escaped_html, visible_text
from medreview.domain.records import ContextDocument, Message
from medreview.domain.reflow import reflow_text
from medreview.qt.grading.safe_text import SafeTextBrowser, set_plain

ROLE_NAMES = {"user": "Patient / user", "assistant": "Assistant (earlier turn)",
              "system": "System", "developer": "Developer", "tool": "Tool"}


def _turn_html(n: int, m: Message, shade: str, accent: str) -> str:
    body = escaped_html(reflow_text(m.content))  # literal text, hidden characters marked
    who = escaped_html(ROLE_NAMES.get(m.role, m.role.title()))
    return (f'<table width="100%" cellpadding="8" cellspacing="0" style="margin-bottom:6px">'
            f'<tr><td bgcolor="{shade}"><span style="color:{accent}; font-weight:600">'
            f"Turn {n} · {who}</span><br>{body}</td></tr></table>")


@functools.lru_cache(maxsize=16)
def conversation_html(messages: tuple[Message, ...], dark: bool) -> str:
    """The conversation as HTML: a pure function of the turns, cached so that the case's
    other answers and the preloaded items find it done."""
    shades = {"user": "#2c3440" if dark else "#eef3fb",
              "assistant": "#2f2f2f" if dark else "#f5f5f5"}
    accent = "#8fb8ff" if dark else "#1f5fbf"
    return "".join(_turn_html(i, m, shades.get(m.role, shades["assistant"]), accent)
                   for i, m in enumerate(messages, start=1))


@functools.lru_cache(maxsize=64)
def _shown_note(text: str) -> str:
    """A note as the plain label shows it: reflowed, hidden characters marked."""
    return visible_text(reflow_text(text))


class CollapsibleSection(QWidget):
    """A titled section whose body folds away (context documents can be long)."""

    def __init__(self, title: str, text: str, expanded: bool, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.button = QToolButton()
        self.button.setObjectName("collapse")
        self.button.setCheckable(True)
        self.button.setChecked(expanded)
        self.button.toggled.connect(self._on_button_toggled)
        # The title is data: a wrapped plain label, so a long one neither widens the pane
        # nor is cut off (a button cannot wrap).
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setObjectName("collapseTitle")
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        head.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.title, 1)
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.PlainText)  # a note is data: never rich text
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(self.body.textInteractionFlags()
                                          | self.body.textInteractionFlags().TextSelectableByMouse)
        self.body.setContentsMargins(14, 0, 4, 4)
        lay.addLayout(head)
        lay.addWidget(self.body)
        self.set_content(title, text, expanded)

    def set_content(self, title: str, text: str, expanded: bool) -> None:
        """Show another document in this section (the next item's: sections are reused)."""
        set_plain(self.title, title)
        self.body.setText(_shown_note(text))
        self.button.blockSignals(True)
        self.button.setChecked(expanded)
        self.button.blockSignals(False)
        self._on_button_toggled(expanded)

    def _on_button_toggled(self, on: bool) -> None:
        self.button.setText("▾" if on else "▸")
        self.body.setVisible(on)


class CaseView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("paneTitle")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        self.tags = QLabel("")
        self.tags.setTextFormat(Qt.TextFormat.PlainText)
        self.tags.setWordWrap(True)
        self.tags.setEnabled(False)
        lay.addWidget(self.tags)
        self.conversation = SafeTextBrowser()
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.conversation)
        self._context_area = QScrollArea()
        self._context_area.setWidgetResizable(True)
        self._context_area.setFrameShape(QFrame.Shape.NoFrame)
        self._context_host = QWidget()
        self._context_layout = QVBoxLayout(self._context_host)
        self._context_layout.setContentsMargins(0, 0, 0, 0)
        self._context_area.setWidget(self._context_host)
        self.split.addWidget(self._context_area)
        self.split.setSizes([300, 200])
        # Both panes share any growth of the window: notes are read as much as the prompt.
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        lay.addWidget(self.split, 1)
        self.sections: list[CollapsibleSection] = []
        self._context_layout.addStretch(1)  # below the sections
        self._html = ""  # the conversation shown now

    def _dark(self) -> bool:
        return self.palette().window().color().lightness() < 128

    def prepare(self, messages: tuple[Message, ...], context: tuple[ContextDocument, ...]
                ) -> None:
        """Render a case ahead of showing it (a preloaded item's): ``show_case`` then finds
        its HTML and notes done."""
        conversation_html(messages, self._dark())
        for doc in context:
            _shown_note(doc.text)

    def show_case(self, title: str, tags: tuple[str, ...], messages: tuple[Message, ...],
                  context: tuple[ContextDocument, ...]) -> None:
        set_plain(self.title, title)
        set_plain(self.tags, "Tags: " + ", ".join(tags) if tags else "")
        self.tags.setVisible(bool(tags))
        html = conversation_html(messages, self._dark())
        if html != self._html:
            self.conversation.setHtml(html)
            self._html = html
        else:  # the case's other answer: the document stands, shown from its top as before
            self.conversation.setTextCursor(QTextCursor(self.conversation.document()))
            self.conversation.verticalScrollBar().setValue(0)
            self.conversation.horizontalScrollBar().setValue(0)
        # Sections are reused from item to item (building them is a good part of showing an
        # item); documents start folded when there are several, so the conversation stays
        # in view.
        expanded = len(context) <= 2
        for i, doc in enumerate(context):
            title = f"{doc.title} ({doc.kind})"
            if i < len(self.sections):
                self.sections[i].set_content(title, doc.text, expanded)
            else:
                sec = CollapsibleSection(title, doc.text, expanded=expanded)
                self._context_layout.insertWidget(i, sec)
                self.sections.append(sec)
        for old in self.sections[len(context):]:
            self._context_layout.removeWidget(old)
            old.hide()
            old.deleteLater()
        del self.sections[len(context):]
        self._context_area.setVisible(bool(context))
