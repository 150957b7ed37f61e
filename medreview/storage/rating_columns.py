"""What the statistics' ratings table names and reads besides the answers themselves (shared by
``storage/tables.py`` and ``storage/ratings_read.py``, which builds that table)."""

from __future__ import annotations

from typing import Any

# The rubric score of a judgment (HealthBench: points met / positive points) as a numeric
# pseudo-question, so that score agreement (ICC, interval alpha) and judge leniency are computed
# like any other question.
SCORE_QUESTION_ID = "score"


def question_confidences(annotations: list[Any]) -> dict[str, float]:
    """Per-question confidences a judge recorded (annotations with a ``judge`` entry)."""
    out: dict[str, float] = {}
    for a in annotations or ():
        judge = a.get("judge") if isinstance(a, dict) else None
        if isinstance(judge, dict) and a.get("question_id") and judge.get("confidence") is not None:
            out[str(a["question_id"])] = float(judge["confidence"])
    return out
