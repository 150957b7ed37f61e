"""The editor's screens for ``qt/preview.py`` (docs/screenshots): the taxonomy editor on the
demo's MedVAL error categories, and the grading window with the guidelines pane open (the
rubric's and the error taxonomy's, each under its heading)."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from medreview.domain.rubric import FormKind
from medreview.qt.form_editor.dialog import FormEditorDialog
from medreview.services import form_editing

DEMO_GUIDELINES = """\
# How to grade these answers

Read the **case** and the **report** first, then the answer. Grade what the answer *says*,
not what the model might have meant.

## Criteria

- A criterion is **met** only when the answer states it explicitly.
- A penalty criterion (negative points) is met when the harmful advice is present,
  even if the answer also gives the correct advice elsewhere.

When unsure, flag the item (F) and say why in the rationale.
"""

DEMO_TAXONOMY_GUIDELINES = """1. Mark the shortest span that carries the error, once.
2. *Major*: could change management. *Minor*: wording, or a detail without consequence.
3. Press **0** when you read the whole answer and found no error: it is an answer, unlike
   leaving the question empty.
"""


def _spin(pred: Any, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def make(name: str, window: Any) -> QWidget:
    """``form-editor`` or ``guidelines`` on a main window that has the demo project open."""
    if name == "guidelines":
        item = window.controller.item
        for form, text in ((item.form, DEMO_GUIDELINES),
                           (item.taxonomy, DEMO_TAXONOMY_GUIDELINES)):
            if form is not None:
                window.executor.submit(form_editing.save_guideline, window.project, form.key,
                                       text, "Dr. Study Lead").result()
        window.guidelines.follow(window.project, window.executor, window.controller, item)
        window.guidelines.show()
        pane = window.guidelines.pane
        _spin(lambda: pane.version is not None
              and (item.taxonomy is None or pane.taxonomy_version is not None))
        window.resizeDocks([window.guidelines], [400], Qt.Orientation.Horizontal)
        shown: QWidget = window
        return shown
    dlg = FormEditorDialog(window.project, window.executor, window.bus, FormKind.TAXONOMY,
                           window, author="Dr. Study Lead")
    dlg.resize(1180, 720)
    dlg.show()
    _spin(lambda: dlg.loaded)
    dlg.question_list.setCurrentRow(0)
    dlg.editor.help_edit.setPlainText("Mark each error once, at the shortest span that holds it.")
    dlg.editor.categories.table.setCurrentCell(2, 1)
    return dlg
