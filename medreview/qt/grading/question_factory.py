"""``widget_for``: the answer widget for a question's kind.

Its own module so that the widgets may build on one another (the error widget on the shared
``QuestionWidget``) without an import circle.
"""

from __future__ import annotations

from medreview.domain.rubric import Question, QuestionKind
from medreview.qt.grading.error_widget import ErrorWidget
from medreview.qt.grading.question_widgets import (
    ChoiceWidget,
    CriterionWidget,
    MultiChoiceWidget,
    NumberWidget,
    QuestionWidget,
    TextWidget,
)


def widget_for(question: Question, number: int) -> QuestionWidget:
    kind = question.kind
    if kind is QuestionKind.CRITERION:
        return CriterionWidget(question, number)
    if kind in (QuestionKind.ORDINAL, QuestionKind.SINGLE_CHOICE, QuestionKind.PAIRWISE):
        return ChoiceWidget(question, number)
    if kind is QuestionKind.MULTI_CHOICE:
        return MultiChoiceWidget(question, number)
    if kind is QuestionKind.NUMBER:
        return NumberWidget(question, number)
    if kind is QuestionKind.ERROR:
        return ErrorWidget(question, number)
    return TextWidget(question, number)
