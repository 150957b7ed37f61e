"""End to end: a real project, physicians' ratings, two judge runs through the real local HTTP
server (the plain prompt, then a few-shot prompt built from run 1's corrections on the training
split), and ``medreview judge-eval`` comparing them."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.domain.split import SplitSpec
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judge_eval import case_split, split_spec
from medreview.services.judging import judge_run_info
from medreview.storage.forms import active_form_rows
from medreview.storage.project import Project, open_project
from medreview.storage.raters import get_or_create_rater
from medreview.storage.revisions import RevisionContent, append_revision
from medreview.storage.tables import outputs_table
from tests.judge.conftest import build_project

N_CASES = 16


def rate(project: Project, *, seed: int = 1) -> None:
    """Two physicians per output: 'urgent' met, 'overconfident' not, with some slips."""
    rng = random.Random(seed)
    outputs = outputs_table(project)
    with project.transaction() as s:
        rubric, taxonomy = active_form_rows(s)
        assert rubric is not None
        for name in ("Dr. A", "Dr. B"):
            rater = get_or_create_rater(s, name, "physician")
            for oid, case in outputs[["output_id", "case_external_id"]].itertuples(index=False):
                answers = {"criterion:urgent": rng.random() < 0.9,
                           "criterion:overconfident": rng.random() < 0.1}
                append_revision(s, rater_id=rater.id, output_id=int(oid), content=RevisionContent(
                    answers=answers, annotations=[], status="done",
                    rationale=f"{name}: {case} tells the patient to call 911 at once."),
                    form_id=rubric.id, taxonomy_id=taxonomy.id if taxonomy else None,
                    author=name, source="import")


@pytest.fixture
def rated(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    project = build_project(path, forms=("healthbench",), n_cases=N_CASES)
    rate(project)
    project.close()
    return path


def _moved(project: Project, used: set[str]) -> tuple[int, set[str]]:
    """A split seed under which some of ``used`` are test cases, and those cases."""
    for seed in range(1, 500):
        split = case_split(project, SplitSpec(seed=seed))
        moved = {c for c in used if split[c] == "test"}
        if moved:
            return seed, moved
    raise AssertionError("no seed moves an example case to test")


def _judge(path: Path, server: FakeOpenAIServer, *extra: str) -> None:
    assert main(["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
                 "--concurrency", "4", "--template", "healthbench", *extra]) == 0


def test_two_prompt_versions_compared_on_the_held_out_split(
        rated: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    _judge(rated, server)
    plain = [r.body["messages"] for r in server.requests]
    assert not any("Examples: earlier judge answers" in json.dumps(m) for m in plain)
    _judge(rated, server, "--few-shot-from", "1", "--few-shot", "3")
    few_shot = [r.body["messages"] for r in server.requests[len(plain):]]
    _out, err = capsys.readouterr()
    assert "few-shot examples from run 1 (training split)" in err
    sent = len(server.requests)
    _judge(rated, server, "--resume", "2")  # its stored examples rebuild the same prompts
    assert "already done, 0 judged" in capsys.readouterr()[0] and len(server.requests) == sent
    assert few_shot and all("Examples: earlier judge answers" in json.dumps(m)
                            for m in few_shot)

    with open_project(rated) as project:
        split = case_split(project)
        assert split_spec(project).seed == 18
    test_cases = {k for k, p in split.items() if p == "test"}
    assert test_cases and len(test_cases) < N_CASES
    # The examples shown to run 2 come from training cases only: no test case's text is in
    # the example section of any prompt.
    for m in few_shot:
        examples = json.dumps(m).split("Examples: earlier judge answers", 1)[1]
        examples = examples.split("# Reply", 1)[0]
        assert not any(f"Case {c.split('-')[1]}:" in examples for c in test_cases)
        assert not any(f"to case {c.split('-')[1]}:" in examples for c in test_cases)

    assert main(["judge-eval", str(rated), "--runs", "1,2", "--json", "--resamples", "200"]) == 0
    out, _err = capsys.readouterr()
    report = json.loads(out)
    assert report["split"]["part"] == "test" and report["split"]["seed"] == 18
    assert [r["run_id"] for r in report["runs"]] == [1, 2]
    assert report["runs"][1]["few_shot_examples"] == 3 and report["runs"][0][
        "few_shot_examples"] == 0
    assert report["excluded_cases"] == []
    acc = next(m for m in report["metrics"]
               if m["question_id"] == "criterion:*" and m["metric"] == "accuracy")
    labels = [r["label"] for r in report["runs"]]
    # Every test output's two criteria have gold (2 physicians: unanimous or settled by
    # nobody) and both runs answered them.
    assert acc["n_items"] > 0 and acc["n_cases"] <= len(test_cases)
    a, b = (acc["versions"][lab]["value"] for lab in labels)
    diff = acc["differences"][f"{labels[1]} - {labels[0]}"]
    assert diff["value"] == pytest.approx(b - a)
    assert diff["low"] <= diff["value"] <= diff["high"]
    assert acc["physician_ceiling"]["value"] is not None
    assert {c["run"] for c in report["calibration"]} == set(labels)
    assert report["self_preference"][0]["judge_family"] == "fake"

    # Under another seed some of run 2's example cases fall in test: they are left out of the
    # evaluation for both runs, and named.
    with open_project(rated) as project:
        run2 = judge_run_info(project, 2)
        used = {e["case_key"] for e in run2.params["few_shot"]}
        assert run2.params["split"]["seed"] == 18
        assert all(split[c] == "train" for c in used)
        seed, moved = _moved(project, used)
    assert main(["judge-eval", str(rated), "--runs", "1,2", "--json", "--seed", str(seed),
                 "--no-ci"]) == 0
    report = json.loads(capsys.readouterr()[0])
    assert set(report["excluded_cases"]) == moved and report["split"]["seed"] == seed
    assert any("left out" in n for n in report["notes"])

    assert main(["judge-eval", str(rated), "--runs", "1,2", "--resamples", "100"]) == 0
    out, _err = capsys.readouterr()
    assert "judge evaluation on the test split (seed 18" in out
    assert "per-case criteria (pooled)" in out and "physician ceiling" in out
    assert "B − A" in out and "Calibration" in out and "Self-preference" in out


def test_bad_requests_are_one_line(rated: Path, server: FakeOpenAIServer,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _judge(rated, server, "--limit", "4")
    capsys.readouterr()
    cases = [
        (["--runs", "1,99"], "no such judge run"),
        (["--runs", "1,1"], "listed twice"),
        (["--runs", ","], "no judge run given"),
        (["--runs", "1", "--split", "dev"], "the dev split is empty"),
        (["--runs", "1", "--test-fraction", "0.5"], "--set-split"),
        (["--runs", "1", "--set-split", "--test-fraction", "1.5"], "test fraction 1.5"),
    ]
    for args, message in cases:
        assert main(["judge-eval", str(rated), *args]) == 2, args
        _out, err = capsys.readouterr()
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_no_gold_is_one_line(tmp_path: Path, server: FakeOpenAIServer,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bare"
    build_project(path, forms=("healthbench",), n_cases=8).close()
    _judge(path, server)
    capsys.readouterr()
    assert main(["judge-eval", str(path), "--runs", "1"]) == 2
    _out, err = capsys.readouterr()
    assert "gold label" in err and err.count("\n") == 1


def test_set_split_is_recorded_and_used(rated: Path, server: FakeOpenAIServer,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _judge(rated, server, "--limit", "6")
    capsys.readouterr()
    assert main(["judge-eval", str(rated), "--runs", "1", "--set-split", "--seed", "5",
                 "--test-fraction", "0.5", "--json", "--no-ci"]) == 0
    report = json.loads(capsys.readouterr()[0])
    assert report["split"]["seed"] == 5 and report["split"]["test_fraction"] == 0.5
    with open_project(rated) as project:
        spec = split_spec(project)
    assert (spec.seed, spec.test_fraction) == (5, 0.5)
