"""The disagreeing-items list shows data as typed: a case id, a model name or a rater's free
text with markup or hidden characters is shown literally and marked, never rendered as rich
text in a cell or its tooltip (the shared ``qt/table_cells.cell``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import Qt

RLO = "\u202e"


def test_hostile_case_model_and_answer_are_shown_literally(qtbot: Any) -> None:
    from medreview.qt.stats.items_list import AnswerIndex, ItemsDialog

    ratings = pd.DataFrame({
        "output_id": [1, 1], "question_id": ["q", "q"], "rater": ["Dr. A", "Dr. B"],
        "value": ["<img src=x>yes", f"no{RLO}sey"],
        "case_external_id": [f"case{RLO}1", f"case{RLO}1"],
        "model": ["<b>gpt</b>", "<b>gpt</b>"],
    })
    dialog = ItemsDialog([(1, "q")], AnswerIndex(ratings), "q")
    qtbot.addWidget(dialog)
    texts = {dialog.table.horizontalHeaderItem(c).text(): dialog.table.item(0, c)
             for c in range(dialog.table.columnCount())}
    case, model = texts["Case"], texts["Model"]
    assert RLO not in case.text() and "⟦U+202E⟧" in case.text()
    assert model.text() == "<b>gpt</b>" and "&lt;b&gt;" in model.toolTip()
    assert "&lt;img" in texts["Dr. A"].toolTip() and "⟦U+202E⟧" in texts["Dr. B"].text()
    assert not case.flags() & Qt.ItemFlag.ItemIsEditable
