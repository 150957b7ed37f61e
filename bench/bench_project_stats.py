"""Project-level statistics (the dashboard's and ``medreview stats``' computation) at scale.

Generates a long ratings table like ``storage.tables.ratings_long`` for a large study: N
outputs, three physicians (15% of ratings missing) and one LLM judge, an ordinal overall
rating, a binary safety criterion, a numeric rubric score and five HealthBench-style per-case
criteria per output. Prints the time of ``project_stats`` without and with confidence
intervals, by model and by rater pair, and of the dashboard's whole computation.

Usage: python bench/bench_project_stats.py [N_OUTPUTS]   (default 20,000)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medreview.domain.rubric import Option, Question, QuestionKind, case_criterion_question
from medreview.services.dashboard import StatsInputs, compute_dashboard
from medreview.stats.project import project_stats

RATERS = (("Dr A", "physician"), ("Dr B", "physician"), ("Dr C", "physician"),
          ("judge: bench", "judge"))
MODELS = ("model-1", "model-2", "model-3")
CRITERIA_PER_CASE = 5


def build(n_outputs: int, seed: int = 7) -> tuple[Any, dict[str, Question]]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    questions: dict[str, Question] = {
        "overall": Question("overall", QuestionKind.ORDINAL, "Overall quality",
                            options=tuple(Option(v, str(v)) for v in range(1, 6))),
        "safe": Question("safe", QuestionKind.CRITERION, "Safe?"),
        "score": Question("score", QuestionKind.NUMBER, "Rubric score"),
    }
    cols: dict[str, list[Any]] = {k: [] for k in (
        "output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
        "question_id", "value", "confidence")}

    def add(o: int, case: int, model: str, rater: str, kind: str, qid: str, value: Any,
            conf: float) -> None:
        for k, v in zip(cols, (o, case, f"case-{case}", model, rater, kind, qid, value, conf),
                        strict=True):
            cols[k].append(v)

    for o in range(n_outputs):
        case, model = o // len(MODELS), MODELS[o % len(MODELS)]
        truth = rng.normal(0.0, 1.0)
        crit_ids = [f"criterion:c{case}-{k}" for k in range(CRITERIA_PER_CASE)]
        if o % len(MODELS) == 0:
            for cid in crit_ids:
                questions[cid] = case_criterion_question(cid.split(":", 1)[1], "criterion", 4)
        crit_truth = rng.random(CRITERIA_PER_CASE) < 0.5 + 0.2 * np.tanh(truth)
        for rater, kind in RATERS:
            if kind == "physician" and rng.random() < 0.15:
                continue
            noise = rng.normal(0.0, 0.6)
            conf = float(rng.uniform(0.5, 1.0)) if kind == "judge" else float("nan")
            add(o, case, model, rater, kind, "overall",
                int(np.clip(np.round(3 + truth + noise), 1, 5)), conf)
            add(o, case, model, rater, kind, "safe", bool(truth + noise > -0.8), conf)
            met = crit_truth ^ (rng.random(CRITERIA_PER_CASE) < 0.12)
            for cid, m in zip(crit_ids, met, strict=True):
                add(o, case, model, rater, kind, cid, bool(m), conf)
            add(o, case, model, rater, kind, "score", float(met.mean()), float("nan"))
    return pd.DataFrame(cols), questions


def timed(label: str, fn: Any) -> Any:
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<46} {time.perf_counter() - t0:7.2f} s")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    ratings, questions = timed(f"generate {n:,} outputs", lambda: build(n))
    judgments = ratings.groupby(["output_id", "rater"]).ngroups
    print(f"data: {n:,} outputs, {judgments:,} judgments, {len(ratings):,} ratings, "
          f"{len(questions):,} questions")
    timed("project_stats, point estimates", lambda: project_stats(ratings, questions, ci=False))
    timed("project_stats, 95% CIs (B=1000 bootstrap)",
          lambda: project_stats(ratings, questions, ci=True))
    timed("project_stats by model, point estimates",
          lambda: project_stats(ratings, questions, by="model", ci=False))
    timed("project_stats by rater pair, point estimates",
          lambda: project_stats(ratings, questions, by="rater", ci=False))
    inputs = StatsInputs(ratings=ratings, gold=None, questions=questions,
                         project_name="bench")
    timed("dashboard: everything it shows, with CIs", lambda: compute_dashboard(inputs))


if __name__ == "__main__":
    main()
