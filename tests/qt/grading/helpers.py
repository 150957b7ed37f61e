"""Small helpers shared by the grading tests (waiting on the window, pressing keys)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from medreview.qt.main_window import MainWindow


def open_and_wait(qtbot, window: MainWindow, path) -> None:  # type: ignore[no-untyped-def]
    assert window.open_project(path)
    qtbot.waitUntil(lambda: window.controller is not None and window.controller.item is not None,
                    timeout=10000)
    qtbot.waitUntil(lambda: window.view.panel.widgets != [], timeout=5000)


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def press(qtbot, keys: str, target: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
    """Type single keys into whatever has focus (as a rater would)."""
    for ch in keys:
        qtbot.keyClick(target or focused(), ch)


def chord(qtbot, key: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier,
          target: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(target or focused(), key, mods)


def wait_saved(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    c = window.controller
    assert c is not None
    qtbot.waitUntil(lambda: not c.dirty and not c.saving
                    and window.save_label.property("state") == "saved", timeout=10000)
