"""The foundation's promises, through the installed command line (in-process ``main``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from medreview.cli.main import main

DATA = Path(__file__).resolve().parent.parent / "importers" / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def info(capsys: pytest.CaptureFixture[str], project: Path) -> dict[str, object]:
    code, out, _ = run(capsys, "info", project, "--json")
    assert code == 0
    return json.loads(out)


def test_demo_then_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = tmp_path / "demo"
    code, out, _ = run(capsys, "demo", "--no-gui", demo)
    assert code == 0, out
    data = info(capsys, demo)
    counts = data["counts"]
    assert isinstance(counts, dict)
    assert counts["cases"] >= 25
    assert counts["outputs"] >= 2 * counts["cases"]
    assert counts["dicom_series"] >= 3
    assert counts["rubrics"] == 1 and counts["taxonomies"] == 1
    assert counts["rubric_criteria"] >= 4 * counts["cases"]
    # Two judges: the demo's judge prompt versions A and B (few-shot), for `judge-eval`.
    # Physicians: the three of the panel and the senior who takes escalations (demo/escalation).
    assert counts["physicians"] == 4 and counts["judges"] == 2
    assert counts["judgments"] > counts["outputs"] * 3
    # Building again at the same place is refused, not merged into the existing demo.
    code, _, err = run(capsys, "init", demo)
    assert code == 2 and "already exists" in err


def test_healthbench_and_inspect_imports_count_right_and_are_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    assert run(capsys, "init", project, "--rubric", "healthbench")[0] == 0
    code, out, err = run(
        capsys, "import", project, DATA / "healthbench.jsonl", DATA / "inspect_medqa.eval", "--json"
    )
    assert code == 0, err
    report = json.loads(out)["files"]
    assert report[0]["format"] == "healthbench"
    assert report[0]["added"] == {"cases": 2, "criteria": 6, "outputs": 5}
    assert report[1]["format"] == "inspect-eval"
    # the log's inline chest X-ray becomes an attachment; its scorer becomes a question added
    # to the project's rubric (a changed form counts as one rubric)
    assert report[1]["added"] == {
        "cases": 3, "attachments": 1, "outputs": 4, "ratings": 4, "rubrics": 1
    }
    before = info(capsys, project)["counts"]
    assert isinstance(before, dict) and before["rubric_criteria"] == 6
    # The same files again (and the .json form of the same inspect log) add nothing.
    code, out, err = run(
        capsys, "import", project, DATA / "healthbench.jsonl", DATA / "inspect_medqa.json", "--json"
    )
    assert code == 0, err
    assert all(not f["added"] for f in json.loads(out)["files"])
    assert info(capsys, project)["counts"] == before


def test_broken_record_refused_with_file_line_reason_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    run(capsys, "init", project)
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "prompt": "Dose?", "model": "m", "output": "10 mg"}\n')
    assert run(capsys, "import", project, good)[0] == 0
    before = info(capsys, project)["counts"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "b", "prompt": "Rash?", "model": "m", "output": "Emollients"}\n'
        '{"id": "c", "prompt": "Fever?", "model": "m", "output": "Paracetamol"}\n'
        '{"id": "d", "prompt": "Cough?", "model": "m", "output": \n'
    )
    code, _, err = run(capsys, "import", project, bad)
    assert code == 2
    assert "bad.jsonl" in err and "line 3" in err and "JSON" in err
    assert len(err.strip().splitlines()) == 1
    assert info(capsys, project)["counts"] == before


def test_export_writes_every_table_in_each_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo"
    run(capsys, "demo", "--no-gui", demo)
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"out-{fmt}"
        code, _printed, err = run(capsys, "export", demo, out, "--format", fmt)
        assert code == 0, err
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted(
            f"{t}.{fmt}"
            for t in ("cases", "criteria", "outputs", "attachments", "judgments", "gold_labels")
        )
    judg = pd.read_parquet(tmp_path / "out-parquet" / "judgments.parquet")
    # One row per output x question x rater; raters pseudonymised by default.
    assert not judg.duplicated(["output_id", "question_id", "rater"]).any()
    assert set(judg["rater"]) == {"P01", "P02", "P03", "J01", "J02"}
    jl = [
        json.loads(line)
        for line in (tmp_path / "out-jsonl" / "judgments.jsonl").read_text().splitlines()
    ]
    assert len(jl) == len(judg)
    crit = [r for r in jl if r["question_id"].startswith("criterion:")]
    assert crit and all(isinstance(r["value"], bool) for r in crit)


def test_unknown_project_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "info", tmp_path / "nowhere")
    assert code == 2
    assert err.strip().endswith("not a medreview project (no project.sqlite)")
