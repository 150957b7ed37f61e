"""StatsWindow: what the dashboard and calibration windows share as top-level windows.

Both compute on first show (building one hidden costs nothing), recompute on later shows only
if the project changed meanwhile (``RefreshOnChange``), and cancel their job when closed.
Subclasses set ``self.job`` and ``self.watch`` and implement ``refresh``. Their keys (F5,
Ctrl+W, Escape) come from ``STATS_KEYS`` in ``qt/keys.py``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QCloseEvent, QShortcut, QShowEvent
from PySide6.QtWidgets import QMainWindow

from medreview.qt.keys import STATS_KEYS
from medreview.qt.shortcuts import install_keymap
from medreview.qt.stats.runner import RefreshOnChange, StatsJob


class StatsWindow(QMainWindow):
    job: StatsJob
    watch: RefreshOnChange
    _shown_once = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A tool window: F5 recomputes; Escape or Ctrl+W close it and the keys go back to
        # the grading window.
        self.shortcuts: dict[str, list[QShortcut]] = install_keymap(
            self, STATS_KEYS, {"refresh": lambda: self.refresh(), "close": self.close})

    def refresh(self) -> None:
        raise NotImplementedError

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.refresh()
        else:
            self.watch.window_shown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.job.cancel(quiet=True)
        super().closeEvent(event)
