"""macOS opens a double-clicked ``.mrpkg`` by sending the running app a ``QFileOpenEvent``
(not a command-line argument): a real event posted to the application must open the package
dialog for that file and then the extracted project, as ``medreview FILE.mrpkg`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QFileOpenEvent


@pytest.fixture
def dialog_calls(monkeypatch: pytest.MonkeyPatch, demo_path: Path) -> list[Path]:
    """Replace the modal package dialog by what it returns: the unpacked project folder."""
    import medreview.qt.study.package_files as package_files
    from medreview.qt.main_window import MainWindow

    seen: list[Path] = []

    def dialog(parent: object, file: Path | None = None) -> Path:
        assert isinstance(parent, MainWindow)
        seen.append(Path(str(file)))
        return demo_path

    monkeypatch.setattr(package_files, "open_package_dialog", dialog)
    return seen


def _window(qtbot: Any, tmp_path: Path) -> Any:
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings

    window = MainWindow(UiSettings(tmp_path / "qt-state.ini"))
    qtbot.addWidget(window)
    window.show()
    return window


def test_a_file_open_event_opens_the_package_then_the_project(
    qtbot: Any, tmp_path: Path, demo_path: Path, dialog_calls: list[Path]
) -> None:
    from medreview.qt.app import make_app

    app = make_app()  # installs the filter on the running application
    window = _window(qtbot, tmp_path)
    package = tmp_path / "Études cliniques" / "dr martin.mrpkg"
    QCoreApplication.postEvent(app, QFileOpenEvent(str(package)))
    qtbot.waitUntil(lambda: window.project is not None, timeout=10_000)
    assert dialog_calls == [package]
    assert Path(window.project.path) == demo_path
    window.close()


def test_the_event_may_arrive_before_the_window_and_as_a_file_url(
    qtbot: Any, tmp_path: Path, demo_path: Path, dialog_calls: list[Path]
) -> None:
    from medreview.qt.app import make_app

    app = make_app()
    package = tmp_path / "reçu" / "lot 2.MRPKG"
    QCoreApplication.postEvent(app, QFileOpenEvent(QUrl.fromLocalFile(str(package))))
    qtbot.wait(150)  # delivered while no window is shown: the filter waits for one
    assert dialog_calls == []
    window = _window(qtbot, tmp_path)
    qtbot.waitUntil(lambda: window.project is not None, timeout=10_000)
    assert dialog_calls == [package]
    window.close()


def test_other_files_are_left_alone_and_the_filter_is_installed_once(
    qtbot: Any, tmp_path: Path, dialog_calls: list[Path]
) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.open_file import FileOpenFilter

    app = make_app()
    make_app()
    assert len(app.findChildren(FileOpenFilter)) == 1
    window = _window(qtbot, tmp_path)
    QCoreApplication.postEvent(app, QFileOpenEvent(str(tmp_path / "notes.txt")))
    qtbot.wait(150)
    assert dialog_calls == [] and window.project is None
    window.close()
