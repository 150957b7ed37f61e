"""Run in a subprocess by ``test_stats_windows_fit.py``: open the dashboard and calibration
windows on the screen Qt was given (size from the environment) and print, as JSON, the
screen, each window's size and its minimum size hint once its statistics are shown."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication


def _wait(app: QApplication, cond: Any) -> None:
    end = time.monotonic() + 60
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("the statistics never finished")
        app.processEvents()
        time.sleep(0.01)
    for _ in range(10):
        app.processEvents()


def cut_off(window: Any) -> list[str]:
    """Visible controls and texts of ``window`` that stick out of it (a widget inside a scroll
    area is reachable by scrolling: its scroll area is checked instead)."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QLabel,
        QProgressBar,
        QScrollArea,
        QTabBar,
        QWidget,
    )

    def scrolled(w: QWidget) -> bool:
        p = w.parentWidget()
        while p is not None and p is not window:
            if isinstance(p.parentWidget(), QScrollArea):
                return True
            p = p.parentWidget()
        return False

    bad = []
    kinds = (QAbstractButton, QComboBox, QLabel, QProgressBar, QTabBar, QScrollArea)
    for w in window.findChildren(QWidget):
        if not isinstance(w, kinds) or not w.isVisible() or scrolled(w):
            continue
        top_left = w.mapTo(window, w.rect().topLeft())
        if not window.rect().contains(QRect(top_left, w.size())):
            bad.append(f"{type(w).__name__} {w.objectName() or getattr(w, 'text', str)()!r}")
    return bad


def main(path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.stats.calibration_view import CalibrationWindow
    from medreview.qt.stats.dashboard import DashboardWindow
    from medreview.qt.theme import apply_theme
    from medreview.services.bus import ChangeBus
    from medreview.services.projects import open_project
    from medreview.services.tasks import DbExecutor, WorkExecutor

    app = make_app()
    apply_theme(app, "light", 10)
    db, work = DbExecutor(), WorkExecutor()
    project = db.submit(open_project, path).result()
    out: dict[str, Any] = {}
    dash = DashboardWindow(project, db, work, ChangeBus())
    cal = CalibrationWindow(project, db, work, ChangeBus())
    for name, w, done in (("dashboard", dash, lambda: dash.stats is not None),
                          ("calibration", cal, lambda: cal.outcome is not None)):
        w.show()  # at the size it chose for this screen
        _wait(app, lambda done=done, w=w: done() and not w.job.running)  # type: ignore[misc]
        hint = w.minimumSizeHint()
        free = w.screen().availableGeometry()
        out["screen"] = [free.width(), free.height()]
        out[name] = {"window": [w.width(), w.height()], "hint": [hint.width(), hint.height()]}
        pages = getattr(w, "tabs", None)
        cut = cut_off(w)
        for i in range(pages.count() if pages is not None else 0):
            pages.setCurrentIndex(i)
            for _ in range(5):
                app.processEvents()
            cut += [f"{pages.tabText(i)}: {c}" for c in cut_off(w)]
        out[name]["cut_off"] = cut
        w.close()
    print(json.dumps(out))
    db.submit(project.close).result()
    db.shutdown()
    work.shutdown()
    QApplication.processEvents()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
