"""StatsWindow: what the dashboard and calibration windows share as top-level windows.

Both compute on first show (building one hidden costs nothing), recompute on later shows only
if the project changed meanwhile (``RefreshOnChange``), and cancel their job when closed.
Subclasses set ``self.job`` and ``self.watch`` and implement ``refresh``.
"""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow

from medreview.qt.stats.runner import RefreshOnChange, StatsJob


class StatsWindow(QMainWindow):
    job: StatsJob
    watch: RefreshOnChange
    _shown_once = False

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
