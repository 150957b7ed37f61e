"""Size a top-level window to the screen it opens on: its preferred size where there is room,
never larger than the screen's free area (a 1366×768 laptop keeps every button in view)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

SCREEN_MARGIN = 0.95  # leave room for the window frame and the taskbar


def fit_to_screen(window: QWidget, preferred: tuple[int, int]) -> None:
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(*preferred)
        return
    free = screen.availableGeometry()
    hint = window.minimumSizeHint()
    width = max(min(preferred[0], int(free.width() * SCREEN_MARGIN)), hint.width())
    height = max(min(preferred[1], int(free.height() * SCREEN_MARGIN)), hint.height())
    window.resize(min(width, free.width()), min(height, free.height()))
