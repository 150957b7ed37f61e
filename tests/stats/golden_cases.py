"""Inputs of the project-statistics golden test, and the tool that records its answers.

Each case is a long ratings table, questions, gold labels and ``project_stats`` options. The
answers (``ProjectStats.to_json()`` with CIs, fixed seed) were recorded from the row-at-a-time
implementation before statistics moved to integer codes (issue #17, item 2), so the test
pins the rewrite to the old results. Re-record only when a statistic is meant to change:

    .venv/bin/python -m tests.stats.golden_cases --write
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
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
from tests.stats import synthetic

DATA = Path(__file__).parent / "data" / "golden_project_stats.json.gz"
DEMO = Path(__file__).parent / "data" / "golden_demo_inputs.json.gz"

Inputs = tuple[pd.DataFrame, dict[str, Question], Any]


def mixed(n_outputs: int = 40, seed: int = 5) -> Inputs:
    """Multi-choice, pairwise, single choice, ties, missing answers, a rater who answered
    only once, an item no physician answered, two judges, non-numeric values in a number
    question and a gold table with a missing output."""
    rng = np.random.default_rng(seed)
    qs = [
        Question("tags", QuestionKind.MULTI_CHOICE, "Tags",
                 options=tuple(Option(v, v) for v in ("a", "b", "c"))),
        Question("pref", QuestionKind.PAIRWISE, "Preference"),
        Question("topic", QuestionKind.SINGLE_CHOICE, "Topic",
                 options=tuple(Option(v, v) for v in ("x", "y", "z"))),
        Question("grade", QuestionKind.ORDINAL, "Grade",
                 options=tuple(Option(v, str(v)) for v in (0, 1, 2))),
        Question("num", QuestionKind.NUMBER, "Number"),
        Question("note", QuestionKind.TEXT, "Note"),
        Question("flag", QuestionKind.CRITERION, "Flag"),
        case_criterion_question("k1", "first", 2),
        case_criterion_question("k2", "second", 2),
    ]
    raters = [("p1", "physician"), ("p2", "physician"), ("p3", "physician"),
              ("p4", "physician"), ("j1", "judge"), ("j2", "judge")]
    rows: list[dict[str, Any]] = []
    for o in range(n_outputs):
        base_truth = int(rng.integers(0, 3))
        for rater, kind in raters:
            if rater == "p4" and o != 3:
                continue  # a physician with one answer
            if kind == "physician" and (o == 7 or rng.random() < 0.25):
                continue  # item 7: no physician at all
            if rater == "j2" and o % 3 == 0:
                continue
            base = {"output_id": o, "case_id": o // 2, "model": f"m{o % 3}", "rater": rater,
                    "rater_kind": kind,
                    "confidence": float(rng.choice([0.5, 0.7, 1.0, np.nan]))}
            tie = o % 5 == 0  # every rater the same answer
            tags = sorted({str(t) for t in rng.choice(["a", "b", "c"], int(rng.integers(0, 3)))})
            vals: dict[str, Any] = {
                "tags": ["a"] if tie else tags,
                "pref": "tie" if tie else str(rng.choice(["A", "B", "tie"])),
                "topic": "x" if tie else str(rng.choice(["x", "y", "z"])),
                "grade": base_truth if tie else int(np.clip(base_truth + rng.integers(-1, 2),
                                                            0, 2)),
                "num": "n/a" if (o == 11 and rater == "p1") else
                float(base_truth * 2 + rng.normal(0, 0.5)),
                "note": "free text",
                "flag": True if tie else bool(rng.random() < 0.6),
                "criterion:k1": bool(base_truth >= 1),
                "criterion:k2": None if o == 9 else bool(rng.random() < 0.5),
            }
            if rng.random() < 0.1:
                vals["grade"] = None
            for qid, v in vals.items():
                rows.append({**base, "question_id": qid, "value": v})
    df = pd.DataFrame(rows)
    gold = df[(df["rater"] == "p1") & df["question_id"].isin(["flag", "grade", "num"])
              & (df["output_id"] != 2)][["output_id", "question_id", "value"]]
    return df, {q.id: q for q in qs}, gold.assign(provenance="adjudicated")


def bench_like(n_outputs: int = 150, seed: int = 3) -> Inputs:
    """The shape of the scale bench's projects: three physicians (15 % missing), one judge
    with confidences, an ordinal, a criterion, a numeric score and per-case criteria."""
    rng = np.random.default_rng(seed)
    qs: dict[str, Question] = {
        "overall": Question("overall", QuestionKind.ORDINAL, "Overall",
                            options=tuple(Option(v, str(v)) for v in range(1, 6))),
        "safe": Question("safe", QuestionKind.CRITERION, "Safe?"),
        "score": Question("score", QuestionKind.NUMBER, "Score"),
    }
    rows: list[dict[str, Any]] = []
    for o in range(n_outputs):
        case = o // 3
        crit = [f"criterion:c{case}-{k}" for k in range(3)]
        for cid in crit:
            qs[cid] = case_criterion_question(cid.split(":", 1)[1], "criterion", 4)
        truth = rng.normal()
        for rater, kind in (("A", "physician"), ("B", "physician"), ("C", "physician"),
                            ("judge: x", "judge")):
            if kind == "physician" and rng.random() < 0.15:
                continue
            noise = rng.normal(0.0, 0.6)
            conf = float(rng.uniform(0.5, 1.0)) if kind == "judge" else float("nan")
            base = {"output_id": o, "case_id": case, "case_external_id": f"case-{case}",
                    "model": f"model-{o % 3}", "rater": rater, "rater_kind": kind,
                    "confidence": conf}
            met = rng.random(3) < 0.5 + 0.2 * np.tanh(truth + noise)
            vals: dict[str, Any] = {
                "overall": int(np.clip(np.round(3 + truth + noise), 1, 5)),
                "safe": bool(truth + noise > -0.8), "score": float(met.mean()),
                **{c: bool(m) for c, m in zip(crit, met, strict=True)}}
            for qid, v in vals.items():
                rows.append({**base, "question_id": qid, "value": v})
    return pd.DataFrame(rows), qs, None


def demo() -> Inputs:
    """The demo project's inputs as recorded (``DEMO``): the demo itself may change."""
    with gzip.open(DEMO, "rt", encoding="utf-8") as f:
        raw = json.load(f)
    ratings = pd.DataFrame(raw["ratings"]["data"], columns=raw["ratings"]["columns"])
    ratings = ratings.assign(value=pd.Series(
        [r[raw["ratings"]["columns"].index("value")] for r in raw["ratings"]["data"]],
        dtype=object), confidence=ratings["confidence"].astype(float))
    gold = None
    if raw["gold"] is not None:
        gold = pd.DataFrame(raw["gold"]["data"], columns=raw["gold"]["columns"])
        gold = gold.assign(value=pd.Series(
            [r[raw["gold"]["columns"].index("value")] for r in raw["gold"]["data"]],
            dtype=object))
    return ratings, {q["id"]: _question(q) for q in raw["questions"]}, gold


def _question(d: dict[str, Any]) -> Question:
    def opts(key: str) -> tuple[Option, ...]:
        return tuple(Option(o["value"], o["label"], o.get("description", ""))
                     for o in d.get(key, ()))

    return Question(d["id"], QuestionKind(d["type"]), d["prompt"], help=d.get("help", ""),
                    required=d.get("required", False), points=d.get("points"),
                    options=opts("options"), severities=opts("severities"),
                    categories=tuple(ErrorCategory(c["id"], c.get("label", ""),
                                                   c.get("description", ""),
                                                   c.get("group", ""))
                                     for c in d.get("categories", ())),
                    minimum=d.get("minimum"), maximum=d.get("maximum"),
                    unit=d.get("unit", ""), tags=tuple(d.get("tags", ())))


def snapshot_demo() -> None:
    """Record the demo's inputs (build it, load them as ``medreview stats`` does)."""
    from medreview.demo.build import build_demo_project
    from medreview.domain.rubric import question_to_dict
    from medreview.services.dashboard import load_inputs
    from medreview.services.projects import open_project

    with tempfile.TemporaryDirectory() as tmp:
        path = build_demo_project(Path(tmp) / "demo")
        with open_project(path) as project:
            inputs = load_inputs(project, pseudonymise=True)

    def table(df: pd.DataFrame, cols: list[str]) -> dict[str, Any]:
        rows = df[cols].astype(object).where(df[cols].notna(), None).to_numpy().tolist()
        return {"columns": cols, "data": rows}

    raw = {"ratings": table(inputs.ratings, ["output_id", "case_id", "case_external_id",
                                             "model", "rater", "rater_kind", "question_id",
                                             "value", "confidence"]),
           "gold": None if inputs.gold is None else table(
               inputs.gold, ["output_id", "question_id", "value", "provenance"]),
           "questions": [question_to_dict(q) for q in inputs.questions.values()]}
    with gzip.open(DEMO, "wt", encoding="utf-8") as f:
        json.dump(raw, f)


def synthetic_small() -> Inputs:
    df = synthetic.ratings(n_outputs=30, seed=4)
    return df, synthetic.questions(), synthetic.gold(df)


# name -> (inputs, project_stats keyword arguments)
SOURCES: dict[str, Callable[[], Inputs]] = {
    "demo": demo, "synthetic": synthetic_small, "mixed": mixed, "bench_like": bench_like,
}
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("demo", {"by": "model", "ci": True}),
    ("demo", {"by": "rater", "ci": False, "per_criterion": True}),
    ("synthetic", {"by": "rater+model", "ci": True, "per_criterion": True}),
    ("synthetic", {"by": None, "ci": True}),
    ("mixed", {"by": "rater+model", "ci": True, "per_criterion": True}),
    ("bench_like", {"by": "model", "ci": True}),
]


def run_name(source: str, kwargs: dict[str, Any]) -> str:
    return source + "|" + ",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))


def compute_all() -> Iterator[tuple[str, dict[str, Any]]]:
    """(run name, parsed ``to_json()``) for every run, inputs built once per source."""
    from medreview.stats.project import project_stats

    cache: dict[str, Inputs] = {}
    for source, kwargs in RUNS:
        if source not in cache:
            cache[source] = SOURCES[source]()
        df, qs, gold = cache[source]
        yield run_name(source, kwargs), json.loads(
            project_stats(df, qs, gold, **kwargs).to_json())


def main() -> None:
    if "--snapshot-demo" in sys.argv:
        snapshot_demo()
        print(f"wrote {DEMO}")
        return
    if "--write" not in sys.argv:
        print(__doc__)
        return
    out = dict(compute_all())
    DATA.parent.mkdir(exist_ok=True)
    with gzip.open(DATA, "wt", encoding="utf-8") as f:
        json.dump(out, f)
    print(f"wrote {DATA} ({DATA.stat().st_size:,} bytes, {len(out)} runs)")


if __name__ == "__main__":
    main()
