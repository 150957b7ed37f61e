"""The "?" cheat sheet, drawn from the same keymap table that creates the shortcuts."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from medreview.qt.keys import OTHER_KEYMAPS, groups


def cheatsheet_html(menu_keys: Sequence[tuple[str, str]] = ()) -> str:
    """The grading keys by group, the other windows' keys, then ``menu_keys`` as (key, menu
    command) pairs."""
    parts = ["<h2>Keyboard</h2>"]
    sections = [(group, [(" / ".join(b.keys), b.label) for b in bindings])
                for group, bindings in groups().items()]
    sections += [(group, [(" / ".join(b.keys), b.label) for b in bindings])
                 for group, bindings in OTHER_KEYMAPS]
    if menu_keys:
        sections.append(("Menus", list(menu_keys)))
    for group, rows in sections:
        parts.append(f"<h3>{html.escape(group)}</h3><table cellpadding='3'>")
        for keys, label in rows:
            shown = " / ".join(f"<b>{html.escape(k)}</b>" for k in keys.split(" / "))
            parts.append(f"<tr><td width='180'>{shown}</td><td>{html.escape(label)}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


class CheatSheetDialog(QDialog):
    def __init__(self, parent: QWidget | None = None,
                 menu_keys: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard cheat sheet")
        self.resize(560, 640)
        self.browser = QTextBrowser()
        self.browser.setHtml(cheatsheet_html(menu_keys))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
