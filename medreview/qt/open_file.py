"""Open the app on a double-clicked ``.mrpkg`` (the file association made by the installers):
the "Open a rater package" dialog for that file, then the extracted project. Windows and Linux
pass the file on the command line (``app.run_app_on_package``); macOS sends it to the running app
as a ``QFileOpenEvent`` (at launch and whenever another package is double-clicked), handled by
``FileOpenFilter``. ``qt/app.py`` imports this module, never the other way round."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from medreview.qt.main_window import MainWindow

log = logging.getLogger(__name__)
PACKAGE_SUFFIX = ".mrpkg"
# A FileOpen event can arrive before the window is shown (macOS sends it at launch): wait for
# the window this many times, 100 ms apart, then give up with a log line.
_WINDOW_WAIT_TRIES = 100


def _main_window() -> MainWindow | None:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return None
    shown = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return shown[-1] if shown else None


def open_package(file: Path) -> None:
    """The package dialog for ``file`` in the shown main window, then the extracted project."""
    from medreview.qt.study.package_files import open_package_dialog

    window = _main_window()
    if window is None:
        return
    folder = open_package_dialog(window, file)
    if folder is not None:
        window.open_project(folder)


_open_package = open_package  # its earlier name (tests/test_selftest.py)


class FileOpenFilter(QObject):
    """Application event filter: a ``QEvent.FileOpen`` naming a ``.mrpkg`` opens it as
    ``medreview FILE.mrpkg`` would. Other files are left to Qt (the app declares no other
    document type, so macOS does not send them)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        name = event.file() or event.url().toLocalFile()
        if not name or not name.lower().endswith(PACKAGE_SUFFIX):
            return False
        # Deferred: the package dialog is modal and must not run inside event delivery.
        path = Path(name)
        QTimer.singleShot(0, lambda: _open_when_window_shown(path, _WINDOW_WAIT_TRIES))
        return True


def _open_when_window_shown(file: Path, tries: int) -> None:
    if _main_window() is not None:
        open_package(file)
    elif tries > 0:
        QTimer.singleShot(100, lambda: _open_when_window_shown(file, tries - 1))
    else:
        log.warning("no window to open %s in", file)


def install_file_open_filter(app: QApplication) -> FileOpenFilter:
    """Install the filter once per application (the app owns it); the installed filter."""
    existing = app.findChild(FileOpenFilter)
    if existing is not None:
        return existing
    handler = FileOpenFilter(app)
    app.installEventFilter(handler)
    return handler
