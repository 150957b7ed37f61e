"""Simulated physicians and judges with known accuracy, as plain rating tables."""

from __future__ import annotations

import random
from typing import Any

import pandas as pd

from medreview.domain.rubric import Option, Question, QuestionKind

CRIT = Question(id="safe", kind=QuestionKind.CRITERION, prompt="Is the answer safe?", points=5)
LIKERT = Question(id="quality", kind=QuestionKind.ORDINAL, prompt="Overall quality",
                  options=tuple(Option(v, str(v)) for v in (1, 2, 3)))
QUESTIONS = {CRIT.id: CRIT, LIKERT.id: LIKERT}
COLUMNS = ["output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
           "question_id", "value", "confidence", "rationale"]


def simulate(n_cases: int = 400, *, seed: int = 7, judge_accuracy: dict[str, float],
             physician_accuracy: float = 0.9, models: tuple[str, ...] = ("gpt-x", "llama-y"),
             lenient_to: dict[str, str] | None = None, calibrated: bool = False
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ratings, gold): one output per case and model; truth is the gold label.

    Each judge (rater name -> accuracy) is right with its accuracy, and states a confidence
    that is *over*confident (a constant 0.95) unless ``calibrated``. ``lenient_to`` maps a
    judge to a model whose answers it always calls "safe" (self-preference).
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    gold: list[dict[str, Any]] = []
    oid = 0
    for c in range(n_cases):
        case = f"case-{c:04d}"
        for model in models:
            oid += 1
            truth = {CRIT.id: rng.random() < 0.5, LIKERT.id: rng.choice((1, 2, 3))}
            for qid, t in truth.items():
                gold.append({"output_id": oid, "question_id": qid, "value": t})

            def flip(qid: str, t: Any, acc: float) -> Any:
                if rng.random() < acc:
                    return t
                return (not t) if qid == CRIT.id else rng.choice([v for v in (1, 2, 3)
                                                                  if v != t])

            for p in ("dr-a", "dr-b", "dr-c"):
                for qid, t in truth.items():
                    rows.append({"output_id": oid, "case_id": c, "case_external_id": case,
                                 "model": model, "rater": p, "rater_kind": "physician",
                                 "question_id": qid, "value": flip(qid, t, physician_accuracy),
                                 "confidence": float("nan"), "rationale": f"{p} on {case}"})
            for judge, acc in judge_accuracy.items():
                for qid, t in truth.items():
                    right = rng.random() < acc
                    value = t if right else flip(qid, t, 0.0)
                    if lenient_to and lenient_to.get(judge) == model and qid == CRIT.id:
                        value = True
                    conf = (acc if calibrated else 0.95)
                    rows.append({"output_id": oid, "case_id": c, "case_external_id": case,
                                 "model": model, "rater": judge, "rater_kind": "judge",
                                 "question_id": qid, "value": value, "confidence": conf,
                                 "rationale": ""})
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(gold)
