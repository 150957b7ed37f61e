"""``medreview demo`` holds two judge prompt versions, and judge-eval shows real numbers."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.demo.judge_versions import add_to_demo
from medreview.services.judge_eval import case_split
from medreview.services.judging import list_judge_runs
from medreview.services.projects import open_project


def test_the_demo_compares_two_prompt_versions(demo_path: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(shutil.copytree(demo_path, tmp_path / "demo"))
    add_to_demo(demo)
    with open_project(demo) as project:
        runs = sorted(list_judge_runs(project), key=lambda r: r.run_id)
        split = case_split(project)
    assert len(runs) == 2 and runs[1].status == "done"
    examples = runs[1].params["few_shot"]
    assert len(examples) == 4 and all(split[e["case_key"]] == "train" for e in examples)
    assert runs[1].n_done == runs[1].n_requests > 300  # every criterion, really asked
    assert main(["judge-eval", str(demo), "--runs", "1,2", "--json", "--resamples", "200"]) == 0
    report = json.loads(capsys.readouterr()[0])
    acc = next(m for m in report["metrics"] if m["metric"] == "accuracy")
    labels = [r["label"] for r in report["runs"]]
    for lab in labels:
        est = acc["versions"][lab]
        assert 0.7 < est["value"] < 1 and est["low"] < est["high"]
    assert math.isfinite(acc["physician_ceiling"]["value"])
    assert all(c["ece_after"] is not None for c in report["calibration"])
