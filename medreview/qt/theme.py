"""Light and dark themes: the Fusion style, a palette, and ``ui/<name>.qss`` on top."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from medreview.paths import ui_dir

THEMES = ("light", "dark")


def _palette(name: str) -> QPalette:
    R = QPalette.ColorRole
    p = QPalette()
    if name == "dark":
        colors = {
            R.Window: "#24272b", R.WindowText: "#e6e6e6",
            R.Base: "#1b1d20", R.AlternateBase: "#2a2d31",
            R.Text: "#e6e6e6", R.Button: "#2f3338",
            R.ButtonText: "#e6e6e6", R.Highlight: "#3d7bd9",
            R.HighlightedText: "#ffffff", R.ToolTipBase: "#2f3338",
            R.ToolTipText: "#e6e6e6", R.PlaceholderText: "#8a8f96",
            R.Link: "#7fb0ff",
        }
    else:
        colors = {
            R.Window: "#f4f5f7", R.WindowText: "#1d1f23",
            R.Base: "#ffffff", R.AlternateBase: "#f0f2f5",
            R.Text: "#1d1f23", R.Button: "#e9ebef",
            R.ButtonText: "#1d1f23", R.Highlight: "#2f6fd0",
            R.HighlightedText: "#ffffff", R.ToolTipBase: "#ffffdc",
            R.ToolTipText: "#1d1f23", R.PlaceholderText: "#7a7f87",
            R.Link: "#1f5fbf",
        }
    for role, color in colors.items():
        p.setColor(role, QColor(color))
    return p


def apply_theme(app: QApplication, name: str, font_pt: int) -> None:
    """Apply a theme and base font size to the whole application."""
    if name not in THEMES:
        name = "light"
    app.setStyle("Fusion")
    app.setPalette(_palette(name))
    font = QFont(app.font())
    font.setPointSize(font_pt)
    app.setFont(font)
    qss = ui_dir() / f"{name}.qss"
    sheet = qss.read_text(encoding="utf-8") if qss.is_file() else ""
    app.setStyleSheet(sheet)
    app.setProperty("medreview_theme", name)


def current_theme(app: QApplication) -> str:
    return str(app.property("medreview_theme") or "light")
