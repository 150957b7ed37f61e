"""The live score line of the grading panel and its explanation on hover (plain text, no Qt).

Points come first because they are what the rater changed; the HealthBench fraction is explained
exactly as ``domain.scoring.healthbench_score`` computes it: the points of the criteria met,
penalties included, over the sum of the positive points, not clipped for one answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from medreview.domain.not_assessed import is_not_applicable
from medreview.domain.rubric import Question, QuestionKind


def _pts(x: float) -> str:
    return f"{x:g} pt" if abs(x) == 1 else f"{x:g} pts"


def healthbench_text(questions: Iterable[Question], answers: Mapping[str, Any],
                     score: float) -> tuple[str, str]:
    """(label, tooltip) for a HealthBench score of one answer."""
    # criteria answered "not applicable" count neither way (domain.scoring.form_score)
    every = [q for q in questions if q.kind is QuestionKind.CRITERION]
    crit = [q for q in every if not is_not_applicable(answers.get(q.id))]
    n_na = len(every) - len(crit)
    possible = sum(q.points or 0 for q in crit if (q.points or 0) > 0)
    gained = sum(q.points or 0 for q in crit
                 if (q.points or 0) > 0 and answers.get(q.id) is True)
    penalty = sum(q.points or 0 for q in crit
                  if (q.points or 0) < 0 and answers.get(q.id) is True)
    got = gained + penalty
    label = f"{got:g} / {_pts(possible)}  ({score:.0%})"
    tip = (f"HealthBench score = points of the criteria met ÷ sum of the positive points.\n"
           f"Met: {gained:+g} from positive criteria, {penalty:+g} from penalties "
           f"(negative criteria met) = {got:g}.\n"
           f"Possible: {possible:g} (the positive criteria only"
           f"{f'; {n_na} not applicable left out' if n_na else ''}).\n"
           f"{got:g} ÷ {possible:g} = {score:.0%}. One answer's score is not clipped: "
           f"penalties can make it negative. Only the mean over cases in the statistics is "
           f"clipped to 0–100 %, as HealthBench does.")
    return label, tip


def rule_text(rule: str | None, score: float) -> tuple[str, str]:
    """(label, tooltip) for the simple form rules."""
    tips = {"sum": "Sum of the answered scale and number values plus the points of the "
                   "criteria met.",
            "mean": "Mean of the answered scale values."}
    return f"Score {score:g}", tips.get(rule or "", "")
