"""RegionList: the marks drawn on the images for this judgment, each with what it says.

A mark is linked to the question that was current when it was drawn; here the rater says what
it means ("the finding the answer names is here / is not here", …) or removes it. The list is
a view of the draft: it emits edits and the controller changes the draft.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.domain.judgment import Annotation
from medreview.domain.rubric import Question
from medreview.services.regions import REGION_MEANINGS, region_caption, region_indices
from medreview.services.views import SeriesView


class RegionList(QFrame):
    sig_meaning = Signal(int, str)
    """(index in the draft's annotations, meaning key) chosen for a mark."""
    sig_remove = Signal(int)
    """Index in the draft's annotations of a mark to remove."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("question")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        head = QLabel("Marks on the images")
        head.setObjectName("questionPrompt")
        lay.addWidget(head)
        hint = QLabel("Draw with Rect, Ellipse or Point in the viewer; a mark is linked to the "
                      "question that is current when you draw it.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        lay.addWidget(hint)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(4)
        lay.addLayout(self._rows)
        self.rows: list[tuple[int, QLabel, QComboBox]] = []
        self.hide()

    def show_marks(self, annotations: Sequence[Annotation], series: Sequence[SeriesView],
                   questions: Sequence[Question]) -> None:
        indices = region_indices(annotations)
        shown = [(i, region_caption(annotations[i], series, questions),
                  annotations[i].note or "mark") for i in indices]
        if [(i, c.text(), box.currentData()) for i, c, box in self.rows] == shown:
            return  # nothing changed: keep the widgets (and any open combo) as they are
        while self._rows.count():
            item = self._rows.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.rows = []
        for i, caption, meaning in shown:
            row = QWidget()
            rl = QHBoxLayout(row)
            rl.setContentsMargins(0, 0, 0, 0)
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.PlainText)  # series descriptions are data
            label.setText(visible_text(caption))
            label.setWordWrap(True)
            box = QComboBox()
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            for key, text in REGION_MEANINGS:
                box.addItem(text, key)
            box.setCurrentIndex(max(0, box.findData(meaning)))
            box.activated.connect(lambda _n, i=i, b=box: self.sig_meaning.emit(i, b.currentData()))
            remove = QToolButton()
            remove.setText("✕")
            remove.setToolTip("Remove this mark")
            remove.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            remove.clicked.connect(lambda _c=False, i=i: self.sig_remove.emit(i))
            rl.addWidget(label, 1)
            rl.addWidget(box)
            rl.addWidget(remove)
            self._rows.addWidget(row)
            self.rows.append((i, label, box))
        self.setVisible(bool(shown))
