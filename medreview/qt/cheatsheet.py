"""The "?" cheat sheet, drawn from the same keymap table that creates the shortcuts."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from medreview.qt.keys import groups


def cheatsheet_html() -> str:
    parts = ["<h2>Keyboard</h2>"]
    for group, bindings in groups().items():
        parts.append(f"<h3>{html.escape(group)}</h3><table cellpadding='3'>")
        for b in bindings:
            keys = " / ".join(f"<b>{html.escape(k)}</b>" for k in b.keys)
            parts.append(f"<tr><td width='180'>{keys}</td><td>{html.escape(b.label)}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


class CheatSheetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard cheat sheet")
        self.resize(560, 640)
        self.browser = QTextBrowser()
        self.browser.setHtml(cheatsheet_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
