"""Fixtures for the grading workstation tests: a sample project on disk and a main window
whose QSettings file and user folders live in the test's temporary directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from medreview.services.sample_project import build_sample_project


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDREVIEW_HOME", str(tmp_path / "home"))


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    project, _me = build_sample_project(path, n_cases=3, outputs_per_case=2)
    project.close()
    return path


@pytest.fixture
def pairwise_path(tmp_path: Path) -> Path:
    path = tmp_path / "pairwise"
    project, _me = build_sample_project(path, n_cases=2, outputs_per_case=2, with_dicom=False,
                                        pairwise=True)
    project.close()
    return path


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    """Factory for main windows sharing one settings file; all are closed at teardown."""
    from medreview.qt.app import make_app
    from medreview.qt.main_window import MainWindow
    from medreview.qt.settings import UiSettings
    from medreview.qt.theme import apply_theme

    app = make_app()
    apply_theme(app, "light", 10)
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        w = MainWindow(UiSettings(tmp_path / "qt-state.ini"))
        qtbot.addWidget(w)
        w.resize(1600, 960)
        w.show()
        qtbot.waitExposed(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        if w.project is not None:
            w.close()
