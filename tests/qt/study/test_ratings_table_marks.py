"""The adjudicator's side-by-side table says who answered "not applicable" or could not assess
the item, in the rater's column, muted and outside the majority colouring."""

from __future__ import annotations

from typing import Any

from medreview.domain.not_assessed import ALL_ROWS
from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.study.ratings_table import RatingsTable
from medreview.services.study import OutputRatings


def test_marks_show_in_the_raters_column(qtbot: Any) -> None:
    questions = [Question(id="dx", kind=QuestionKind.CRITERION, prompt="Right diagnosis"),
                 Question(id="safe", kind=QuestionKind.CRITERION, prompt="Safe advice")]
    ratings = OutputRatings(
        output_id=1, ratings={"dx": {"B": True, "D": False}, "safe": {"B": True}}, gold={},
        majority={},
        not_assessed={"dx": {"A": "N/A"}, ALL_ROWS: {"C": "cannot assess (Missing context)"}})
    table = RatingsTable()
    qtbot.addWidget(table)
    table.show_ratings(questions, ratings, {}, disputed={"dx"})
    assert table.raters == ["A", "B", "C", "D"]
    assert table.question_ids == ["dx", "safe"]

    def text(row: int, rater: str) -> str:
        return table.item(row, 1 + table.raters.index(rater)).text()

    assert text(0, "A") == "N/A" and text(1, "A") == ""
    assert text(0, "C") == text(1, "C") == "cannot assess (Missing context)"
    assert text(0, "B") != "" and text(0, "D") != ""
    # a mark is never painted as off the majority
    assert table.item(0, 1).background().style().name == "NoBrush"
