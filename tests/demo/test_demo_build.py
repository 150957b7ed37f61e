"""The demo project holds exactly its seeded simulation, written through storage's batch write,
with the core's score on every revision (later additions, such as another judge run, aside)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from medreview.demo.build import JUDGE_NAME, PHYSICIANS, _simulated_batch, load_demo_cases
from medreview.storage import tables
from medreview.storage.judge_runs import list_runs
from medreview.storage.project import open_project
from medreview.storage.raters import list_raters


def test_the_simulation_is_the_same_on_every_call() -> None:
    cases = load_demo_cases()
    assert _simulated_batch(cases) == _simulated_batch(cases)


def test_the_demo_holds_the_simulated_batch(demo_path: Path) -> None:
    batch = _simulated_batch(load_demo_cases())
    project = open_project(demo_path, read_only=True)
    try:
        names = {*batch.physicians, JUDGE_NAME}
        stored = {(r["rater"], r["case_external_id"], r["model"]): r
                  for r in tables.current_revisions(project) if r["rater"] in names}
        raters = sorted(list_raters(project), key=lambda r: r.id)[:4]
        assert batch.judge_run is not None
        (run,) = [r for r in list_runs(project) if r.uid == batch.judge_run.uid]
    finally:
        project.close()
    assert len(stored) == len(batch.ratings) == 245
    assert Counter(r.source for r in batch.ratings) == {"import": 180, "judge": 65}
    for r in batch.ratings:
        row = stored[(r.rater, r.case_external_id, r.model)]
        c = r.content
        assert (row["answers"], row["annotations"], row["rationale"], row["confidence"],
                row["time_on_task_s"], row["status"]) == (
            c.answers, c.annotations, c.rationale, c.confidence, c.time_on_task_s, c.status)
        # The demo's own HealthBench arithmetic and the core's score on the write agree.
        assert c.overall_score is not None and row["overall_score"] == c.overall_score
    assert [(r.name, r.kind, r.pseudonym) for r in raters] == [
        *((name, "physician", f"P0{i}") for i, (name, _acc) in enumerate(PHYSICIANS, start=1)),
        (JUDGE_NAME, "judge", "J01")]
    items = sum(len(a["met"]) for c in load_demo_cases() for a in c["answers"])
    assert (run.uid, run.status, run.rater_name, run.n_requests, run.prompt_tokens,
            run.completion_tokens) == (batch.judge_run.uid, "finished", JUDGE_NAME, items,
                                       900 * items, 80 * items)
