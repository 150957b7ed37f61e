"""Open the app on a file given on the command line: a double-clicked ``.mrpkg`` (the file
association made by the installers) shows the "Open a rater package" dialog for that file,
then the extracted project."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer

from medreview.qt.app import make_app, run_app
from medreview.qt.main_window import MainWindow


def _main_window() -> MainWindow | None:
    app = make_app()
    shown = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return shown[-1] if shown else None


def _open_package(file: Path) -> None:
    from medreview.qt.study.package_files import open_package_dialog

    window = _main_window()
    if window is None:
        return
    folder = open_package_dialog(window, file)
    if folder is not None:
        window.open_project(folder)


def run_app_on_package(file: Path) -> int:
    """The app, with the package dialog opened on ``file`` once the window is up."""
    make_app()
    QTimer.singleShot(0, lambda: _open_package(Path(file)))
    return run_app(None)
