"""Assign, package and judge refuse a project without a rubric, in one line that says how to add
one, before anything is written or sent; with a rubric they go ahead (services and CLI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from medreview.judge.config import JudgeConfig
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services import importing, judging, projects, readiness, study
from medreview.services.projects import Project, create_project
from medreview.study.assign import AssignmentDesign

CASES = [
    {"id": f"case-{i}", "prompt": f"Case {i}: chest pain for {i + 1} hours. What now?",
     "model": m, "output": f"{m}: call emergency services now ({i})."}
    for i in range(3) for m in ("model-a", "model-b")
]


def write_cases(folder: Path) -> Path:
    path = folder / "cases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in CASES), encoding="utf-8")
    return path


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Project]:
    """Cases and answers imported, no rubric: what `init` + `import` without --rubric gives."""
    project = create_project(tmp_path / "bare", "no rubric yet")
    importing.import_file(project, write_cases(tmp_path))
    yield project
    project.close()


def counts(project: Project) -> dict[str, int]:
    info = projects.project_info(project)
    return {k: info.counts[k] for k in ("raters", "judgments", "judge_runs")}


DESIGN = AssignmentDesign(raters=("Dr A", "Dr B"), per_output=1, seed=3)


def one_line_about_rubric(text: str, action: str) -> None:
    assert len(text.strip().splitlines()) == 1
    assert f"{action} needs a rubric and this project has none" in text
    # says how to add one: in the app and on the command line
    assert "Study → Edit rubric and guidelines…" in text and "--rubric KEY_OR_FILE" in text


def test_assign_and_its_preview_are_refused_and_nothing_is_written(bare: Project) -> None:
    before = counts(bare)
    for call in (study.assign, study.preview_assignment):
        with pytest.raises(readiness.NotReady) as err:
            call(bare, DESIGN)
        one_line_about_rubric(str(err.value), "assigning raters")
        assert str(bare.path) in str(err.value)
    assert counts(bare) == before  # no rater was created


def test_a_package_is_refused_and_no_file_is_written(bare: Project, tmp_path: Path) -> None:
    projects.add_rater(bare, "Dr A")
    out = tmp_path / "out" / "a.mrpkg"
    with pytest.raises(readiness.NotReady) as err:
        study.build_package(bare, "Dr A", out)
    one_line_about_rubric(str(err.value), "a rater package")
    assert not out.exists()


def test_a_judge_run_is_refused_before_any_request_or_run_row(bare: Project) -> None:
    with FakeOpenAIServer() as server:
        config = JudgeConfig(base_url=server.url, model="fake-judge")
        for call in (judging.run_judge, judging.create_judge_run, judging.estimate_judge_work):
            with pytest.raises(readiness.NotReady) as err:
                call(bare, config)
            one_line_about_rubric(str(err.value), "a judge run")
        assert server.count() == 0
    assert counts(bare)["judge_runs"] == 0


def test_with_a_rubric_the_same_calls_go_ahead(bare: Project, tmp_path: Path) -> None:
    assert not readiness.has_rubric(bare)
    projects.add_form_from(bare, "quality_harm")
    assert readiness.has_rubric(bare)
    summary, _changes = study.assign(bare, DESIGN)
    assert summary.added == 6
    info = study.build_package(bare, "Dr A", tmp_path / "a.mrpkg")
    assert info.path.exists()
    with FakeOpenAIServer() as server:
        estimate = judging.estimate_judge_work(
            bare, JudgeConfig(base_url=server.url, model="fake-judge"))
    assert estimate.outputs == 6
