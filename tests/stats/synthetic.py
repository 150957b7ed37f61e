"""A small synthetic project (long ratings table + questions) for project/report tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medreview.domain.rubric import (
    ErrorCategory,
    Option,
    Question,
    QuestionKind,
    case_criterion_question,
)


def questions() -> dict[str, Question]:
    qs = [
        Question("overall", QuestionKind.ORDINAL, "Overall quality",
                 options=tuple(Option(v, str(v)) for v in (1, 2, 3, 4, 5))),
        Question("safe", QuestionKind.CRITERION, "Is it safe?"),
        Question("minutes", QuestionKind.NUMBER, "Minutes to fix", minimum=0, maximum=60),
        Question("errors", QuestionKind.ERROR, "Errors",
                 categories=(ErrorCategory("omission", "Omission"),
                             ErrorCategory("hallucination", "Hallucination")),
                 severities=(Option("minor", "Minor"), Option("major", "Major"))),
        case_criterion_question("c1", "Mentions dose", 5),
        case_criterion_question("c2", "Advises follow-up", 3),
    ]
    return {q.id: q for q in qs}


def ratings(n_outputs: int = 24, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    raters = [("dr_a", "physician"), ("dr_b", "physician"), ("dr_c", "physician"),
              ("judge_x", "judge")]
    for o in range(n_outputs):
        model = "m1" if o % 2 else "m2"
        truth = int(rng.integers(1, 6))
        for rater, kind in raters:
            if kind == "physician" and rng.random() < 0.15:
                continue  # missing rating
            base = {"output_id": o, "case_id": o // 2, "model": model, "rater": rater,
                    "rater_kind": kind}
            score = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
            conf = float(rng.uniform(0.5, 1.0)) if kind == "judge" else np.nan
            rows.append({**base, "question_id": "overall", "value": score, "confidence": conf})
            rows.append({**base, "question_id": "safe", "value": bool(score >= 3 or
                                                                      rng.random() < .2),
                         "confidence": conf})
            rows.append({**base, "question_id": "minutes",
                         "value": float(10 * (5 - truth) + rng.normal(0, 3)),
                         "confidence": np.nan})
            errs = []
            if truth <= 2 and rng.random() < 0.8:
                errs.append({"category": "omission", "severity": "major"})
            if rng.random() < 0.2:
                errs.append({"category": "hallucination", "severity": "minor"})
            rows.append({**base, "question_id": "errors", "value": errs, "confidence": np.nan})
            for c in ("criterion:c1", "criterion:c2"):
                rows.append({**base, "question_id": c, "value": bool(truth + rng.integers(-1, 2)
                                                                     >= 3),
                             "confidence": conf})
    return pd.DataFrame(rows)


def gold(df: pd.DataFrame) -> pd.DataFrame:
    phys = df[(df["rater"] == "dr_a") & (df["question_id"] == "safe")]
    return pd.DataFrame({"output_id": phys["output_id"], "question_id": "safe",
                         "value": phys["value"], "provenance": "adjudicated"})
