"""Run in a subprocess by ``test_editor_fits.py``: open the rubric editor on the screen Qt was
given (size and scale from the environment) with its largest question selected, and print
what fits, as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QWidget


def _inside(w: QWidget, child: QWidget) -> bool:
    p = child.mapTo(w, QPoint(0, 0))
    return (child.isVisible() and p.x() >= 0 and p.y() >= 0
            and p.x() + child.width() <= w.width() and p.y() + child.height() <= w.height())


def main(path: Path) -> None:
    from medreview.domain.rubric import FormKind
    from medreview.qt.app import make_app
    from medreview.qt.form_editor.dialog import FormEditorDialog
    from medreview.qt.theme import apply_theme
    from medreview.services.bus import ChangeBus
    from medreview.services.projects import open_project
    from medreview.services.tasks import DbExecutor

    app = make_app()
    apply_theme(app, "light", 10)
    db = DbExecutor()
    project = db.submit(open_project, path).result()
    dlg = FormEditorDialog(project, db, ChangeBus(), FormKind.RUBRIC)
    dlg.show()  # at the size it chose for this screen
    end = time.monotonic() + 20
    while not dlg.loaded:
        if time.monotonic() > end:
            raise SystemExit("the form never loaded")
        app.processEvents()
        time.sleep(0.01)
    sizes = [len(q.get("options") or []) for q in dlg.data["questions"]]
    dlg.question_list.setCurrentRow(sizes.index(max(sizes)))
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    screen = dlg.screen().availableGeometry()
    hint = dlg.minimumSizeHint()
    print(json.dumps({
        "screen": [screen.width(), screen.height()],
        "hint": [hint.width(), hint.height()],
        "window": [dlg.frameGeometry().width(), dlg.frameGeometry().height()],
        "save_inside": _inside(dlg, dlg.save_button),
        "close_inside": _inside(dlg, dlg.close_button),
        "status_inside": _inside(dlg, dlg.status),
    }))
    dlg.confirm_drop = lambda: True  # type: ignore[method-assign]
    dlg.close()
    db.submit(project.close).result()
    db.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
