"""One way to colour a status: tones, not colours, chosen by what the line means.

Screens say ``set_tone(label, "error")`` or ``show_status(label, text, ok=False)`` for a line
of text and ``tone_color("ok")`` for a table cell; the colours live here once (readable on the
light and the dark theme).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

TONES: dict[str, str] = {
    "ok": "#1c7c3c",      # saved, ready, done
    "warn": "#8a5300",    # incomplete, cancelled, notes to read
    "error": "#b3261e",   # refused, failed, not saved
    "active": "#2f6fd0",  # ours, running now
    "info": "#1f5fbf",    # merged, informational
    "muted": "#7a7f87",   # waiting, not started
    "set_aside": "#7b4fbf",  # finished without a rating: "cannot assess"
}


def tone_color(tone: str | None) -> QColor:
    """The colour of ``tone`` (unknown or None: muted)."""
    return QColor(TONES.get(tone or "muted", TONES["muted"]))


def tone_style(tone: str | None, bold: bool = False) -> str:
    """A label stylesheet for ``tone`` (None: the theme's own text colour)."""
    if tone is None:
        return ""
    return f"color: {TONES[tone]};" + (" font-weight: 600;" if bold else "")


def set_tone(label: QLabel, tone: str | None, bold: bool = False) -> None:
    label.setStyleSheet(tone_style(tone, bold))


def show_status(label: QLabel, text: str, ok: bool | None = None) -> None:
    """A status line: ``ok`` True green, False red, None neutral."""
    set_tone(label, "ok" if ok else "error" if ok is False else None)
    label.setText(text)


# A line across the top of the main window (read-only project, media away, an escalated or a
# qualification item): one look for all of them.
BANNER_STYLES: dict[str, str] = {
    "warn": "background: #fff3cd; color: #664d03; padding: 6px;",
    "info": "background: #e7f1ff; color: #084298; padding: 6px;",
}


def banner_label(name: str, tone: str = "warn") -> QLabel:
    """A hidden, plain-text, word-wrapped banner named ``name`` (for findChild and tests)."""
    label = QLabel("")
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setStyleSheet(BANNER_STYLES[tone])
    label.hide()
    return label


def window_banner(window: QWidget, name: str, tone: str = "warn") -> QLabel:
    """The main window's banner ``name``, added just above its screens the first time."""
    found = window.findChild(QLabel, name)
    if isinstance(found, QLabel):
        return found
    label = banner_label(name, tone)
    layout = window.centralWidget().layout()  # type: ignore[attr-defined]
    layout.insertWidget(max(0, layout.count() - 1), label)
    return label
