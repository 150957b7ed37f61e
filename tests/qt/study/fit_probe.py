"""Run in a subprocess by ``test_adjudication_scaling.py``: open the adjudication window on the
screen Qt was given (size and scale from the environment) and print what fits, as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget


def _inside(w: QWidget, child: QWidget) -> bool:
    p = child.mapTo(w, QPoint(0, 0))
    return (child.isVisible() and p.x() >= 0 and p.y() >= 0
            and p.x() + child.width() <= w.width() and p.y() + child.height() <= w.height())


def main(path: Path) -> None:
    from medreview.qt.app import make_app
    from medreview.qt.study.adjudication import AdjudicationWindow
    from medreview.qt.theme import apply_theme
    from medreview.runtime.bus import ChangeBus
    from medreview.runtime.executors import DbExecutor
    from medreview.services.projects import open_project

    app = make_app()
    apply_theme(app, "light", 10)
    db = DbExecutor()
    project = db.submit(open_project, path).result()
    w = AdjudicationWindow(project, db, ChangeBus())
    w.show()  # at the size it chose for this screen
    end = time.monotonic() + 20
    while not (w.queue.items and w.item is not None and w.editor.widget is not None):
        if time.monotonic() > end:
            raise SystemExit("the queue never loaded")
        app.processEvents()
        time.sleep(0.01)
    for _ in range(10):
        app.processEvents()
    free = w.screen().availableGeometry()
    hint = w.minimumSizeHint()
    clipped = [type(p).__name__ for p in (w.queue, w.editor, w.editor.save, w.table)
               if p.width() < p.minimumSizeHint().width()
               or p.height() < p.minimumSizeHint().height()]
    print(json.dumps({
        "screen": [free.width(), free.height()], "window": [w.width(), w.height()],
        "hint": [hint.width(), hint.height()], "save_inside": _inside(w, w.editor.save),
        "accept_inside": _inside(w, w.editor.accept), "clipped": clipped}))
    w.close()
    db.submit(project.close).result()
    db.shutdown()
    QApplication.processEvents()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
