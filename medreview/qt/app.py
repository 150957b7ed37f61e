"""The application entry point ``run_app`` (called by the ``gui`` and ``demo`` commands):
High-DPI policy, theme and font from settings, an excepthook that shows errors, the window."""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from medreview.qt.main_window import MainWindow
from medreview.qt.settings import UiSettings
from medreview.qt.theme import apply_theme

log = logging.getLogger(__name__)

# Loaded after the window is up, on a background thread, so the first project opens without
# waiting for them; the window itself never needs them (tests/qt/test_startup_imports.py).
WARM_IMPORTS = ("medreview.services.projects", "medreview.services.form_editing")


def _warm_imports() -> None:
    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # the real use reports it; warming is best effort
            log.debug("warming %s failed", name, exc_info=True)
            return


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        _install_file_open(existing)
        return existing
    # Fractional scale factors (125 %, 150 %) are passed through instead of rounded.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(argv or sys.argv[:1])
    app.setApplicationName("medreview")
    app.setOrganizationName("medreview")
    _install_file_open(app)
    return app


def _install_file_open(app: QApplication) -> None:
    """macOS hands a double-clicked .mrpkg to the app as a FileOpen event, not in argv."""
    from medreview.qt.open_file import install_file_open_filter  # only when an app is made

    install_file_open_filter(app)


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.error("unhandled error", exc_info=(kind, exc, tb))
    text = "".join(traceback.format_exception(kind, exc, tb))
    from medreview.services.access import describe_storage_error  # a damaged page: one line

    box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                      f"{describe_storage_error(exc) or exc}\n\nYour saved work is safe; "
                      "unsaved edits are saved within a second of typing.")
    box.setTextFormat(Qt.TextFormat.PlainText)  # the message may quote hostile data
    box.setDetailedText(text)
    box.exec()


def run_app(project_path: Path | str | None = None) -> int:
    """Show the main window (opening ``project_path``, a folder or a server URL, if given)
    and run the event loop."""
    app = make_app()
    settings = UiSettings()
    apply_theme(app, settings.theme(), settings.font_pt())
    sys.excepthook = _excepthook
    window = MainWindow(settings)
    window.show()
    if project_path is not None:
        window.open_project(project_path)  # a URL stays text: Path() would fold its "//"
    else:
        QTimer.singleShot(200, lambda: threading.Thread(target=_warm_imports, name="warm-imports",
                                                        daemon=True).start())
    return app.exec()


def run_app_on_package(file: Path) -> int:
    """The app, with the package dialog opened on ``file`` once the window is up (Windows and
    Linux pass a double-clicked .mrpkg on the command line)."""
    from medreview.qt.open_file import open_package

    make_app()
    QTimer.singleShot(0, lambda: open_package(Path(file)))
    return run_app(None)
