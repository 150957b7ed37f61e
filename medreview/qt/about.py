"""Help → About: the version, and where this system keeps the settings, data and logs (what a
support person asks for first)."""

from __future__ import annotations

import html
import platform
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from medreview import __version__
from medreview.paths import is_frozen, log_dir, user_config_dir, user_data_dir


def about_text() -> str:
    """Rich text for the box; every path is escaped (a profile name may hold anything)."""
    build = "installed app" if is_frozen() else f"from source (Python {sys.version.split()[0]})"
    rows = [
        ("Version", f"medreview {__version__}"),
        ("Build", build),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()}), "
                   f"Qt for Python {pyside_version}"),
        ("Logs", str(log_dir())),
        ("Settings", str(user_config_dir())),
        ("Data", str(user_data_dir())),
    ]
    body = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return ("<p>Physician review of medical AI answers.</p>"
            f"<table>{body}</table>"
            "<p>Error details are written to <code>medreview.log</code> (the app) and "
            "<code>errors.log</code> (the command line) in the logs folder.</p>")


def show_about(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About medreview")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text())
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.exec()
