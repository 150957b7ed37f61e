"""One caption per option, shared by grading and adjudication (no Qt here).

An option reads as "<key> · <label>", where <key> is its 1-based position: the digit the
rater presses in grading and the adjudicator in the gold editor. The stored value never shows
in the caption, so a scale stored as 0..2 does not read "0 · No harm" on one screen and
"1 · No harm" on the other. Options past the ninth take two keys and show the label alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medreview.domain.rubric import Option, Question, QuestionKind

PAIRWISE_OPTIONS = (Option("A", "A better"), Option("B", "B better"), Option("tie", "Tie"))
"""The choices of a pairwise question whose form lists none."""


def options_of(question: Question) -> tuple[Option, ...]:
    """The options as numbered on screen (a bare pairwise question gets A / B / tie)."""
    if not question.options and question.kind is QuestionKind.PAIRWISE:
        return PAIRWISE_OPTIONS
    return tuple(question.options)


def option_caption(position: int, label: str) -> str:
    """The caption of the option at 1-based ``position``."""
    return f"{position} · {label}" if 1 <= position <= 9 else label


def caption_of_value(options: Sequence[Option], value: Any) -> str | None:
    """The caption of the option storing ``value`` (never matching a bool to 0/1)."""
    if type(value) is bool:
        return None
    for i, o in enumerate(options, start=1):
        if o.value == value and type(o.value) is not bool:
            return option_caption(i, o.label)
    return None
