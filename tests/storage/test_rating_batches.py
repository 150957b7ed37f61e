"""A batch of finished ratings: raters in the given order, the judge tied to its run, every
revision scored by the core's rule, and a bad rating refusing the whole batch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medreview.errors import ProjectError
from medreview.rubrics.templates import load_template
from medreview.storage import tables
from medreview.storage.forms import store_form
from medreview.storage.ingest import ingest
from medreview.storage.judge_runs import list_runs
from medreview.storage.judgments import revision_history
from medreview.storage.project import Project, create_project
from medreview.storage.raters import list_raters
from medreview.storage.rating_batches import (
    BatchRating,
    FinishedJudgeRun,
    RatingBatch,
    write_rating_batch,
)
from medreview.storage.revisions import RevisionContent
from tests.storage.helpers import case, located, output

RUN = FinishedJudgeRun(uid="00000000-0000-4000-8000-00000000abcd", model="m-judge",
                       base_url="http://127.0.0.1:9/v1", template_key="healthbench-criterion",
                       template_version=1, template_hash="h", params={"temperature": 0.0},
                       notes="from elsewhere", n_requests=4, prompt_tokens=40,
                       completion_tokens=8)


def _project(tmp_path: Path) -> Project:
    project = create_project(tmp_path / "p", "batch")
    store_form(project, load_template("healthbench"))
    ingest(project, located([case("k1"), output("k1", "m1", "Answer one."),
                             output("k1", "m2", "Answer two.")]), source="t", importer="t")
    return project


def _content(c0: bool, c1: bool, score: float | None = None) -> RevisionContent:
    # ``score`` is what a caller might claim; the stored score is computed from the answers.
    return RevisionContent(answers={"criterion:c0": c0, "criterion:c1": c1},
                           overall_score=score, time_on_task_s=12.5, status="done")


def _rows(project: Project) -> list[tuple[str, str, float | None, float]]:
    return sorted((r["rater"], r["model"], r["overall_score"], r["time_on_task_s"])
                  for r in tables.current_revisions(project))


def test_raters_runs_and_scores(tmp_path: Path) -> None:
    project = _project(tmp_path)
    try:
        batch = RatingBatch(
            physicians=("Dr B", "Dr A"),
            ratings=(
                BatchRating("Dr A", "k1", "m1", _content(True, False, score=0.99), "import"),
                BatchRating("Dr B", "k1", "m1", _content(True, True), "import"),
                BatchRating("judge x", "k1", "m2", _content(False, False), "judge"),
            ),
            judge="judge x", judge_run=RUN)
        written = write_rating_batch(project, batch)
        assert written.revisions == 3
        raters = {r.name: r for r in list_raters(project)}
        # Pseudonyms follow the batch's order, not the order of the first rating.
        assert (raters["Dr B"].pseudonym, raters["Dr A"].pseudonym) == ("P01", "P02")
        assert raters["judge x"].kind == "judge"
        (run,) = list_runs(project)
        assert (run.run_id, run.uid, run.status, run.rater_name) == (
            written.judge_run_id, RUN.uid, "finished", "judge x")
        assert (run.n_requests, run.prompt_tokens, run.completion_tokens) == (4, 40, 8)
        assert run.finished_at is not None
        # helpers.case: c0 earns 5 points, c1 is a -2 penalty; the score is met over possible.
        assert _rows(project) == [("Dr A", "m1", 1.0, 12.5), ("Dr B", "m1", 0.6, 12.5),
                                  ("judge x", "m2", 0.0, 12.5)]
        by_output = {r["model"]: r["output_id"] for r in tables.current_revisions(project)}
        (judged,) = revision_history(project, raters["judge x"].id, by_output["m2"])
        (imported,) = revision_history(project, raters["Dr A"].id, by_output["m1"])
        assert (judged.source, judged.author, imported.source, imported.author) == (
            "judge", "judge x", "import", "Dr A")
    finally:
        project.close()


@pytest.mark.parametrize("bad, reason", [
    (BatchRating("Dr A", "k1", "m9", _content(True, True), "import"), "no output of model 'm9'"),
    (BatchRating("Dr A", "k9", "m1", _content(True, True), "import"), "for case 'k9'"),
    (BatchRating("Dr Z", "k1", "m1", _content(True, True), "import"), "not among the batch"),
])
def test_a_bad_rating_refuses_the_whole_batch(tmp_path: Path, bad: BatchRating,
                                              reason: str) -> None:
    project = _project(tmp_path)
    try:
        good = BatchRating("Dr A", "k1", "m1", _content(True, True), "import")
        with pytest.raises(ProjectError, match=reason) as exc:
            write_rating_batch(project, RatingBatch(("Dr A",), (good, bad), "judge x", RUN))
        assert "rating 2" in str(exc.value) and "\n" not in str(exc.value)
        assert (list_raters(project), list_runs(project), _rows(project)) == ([], [], [])
    finally:
        project.close()


def test_an_output_named_twice_by_case_and_model_is_ambiguous(tmp_path: Path) -> None:
    project = _project(tmp_path)
    try:
        ingest(project, located([output("k1", "m1", "A different answer of m1.")]),
               source="t2", importer="t")
        rating = BatchRating("Dr A", "k1", "m1", _content(True, True), "import")
        with pytest.raises(ProjectError, match="several outputs of model 'm1'"):
            write_rating_batch(project, RatingBatch(("Dr A",), (rating,)))
        assert _rows(project) == []
    finally:
        project.close()


def test_a_judge_needs_its_run_and_a_project_a_rubric(tmp_path: Path) -> None:
    project = _project(tmp_path)
    try:
        with pytest.raises(ProjectError, match="judge run"):
            write_rating_batch(project, RatingBatch((), (), judge="judge x"))
        with pytest.raises(ProjectError, match="judge run"):
            write_rating_batch(project, RatingBatch((), (), judge_run=RUN))
    finally:
        project.close()
    bare = create_project(tmp_path / "bare", "bare")
    try:
        with pytest.raises(ProjectError, match="no rubric"):
            write_rating_batch(bare, RatingBatch(("Dr A",), ()))
        assert list_raters(bare) == []
    finally:
        bare.close()


def test_content_is_written_as_given_but_the_score(tmp_path: Path) -> None:
    project = _project(tmp_path)
    try:
        content = replace(_content(True, False), rationale="why", confidence=0.7,
                          annotations=[{"question_id": "criterion:c0", "note": "n"}])
        write_rating_batch(project, RatingBatch(("Dr A",), (
            BatchRating("Dr A", "k1", "m2", content, "import"),)))
        (row,) = tables.current_revisions(project)
        assert (row["rationale"], row["confidence"], row["annotations"], row["answers"]) == (
            "why", 0.7, content.annotations, content.answers)
    finally:
        project.close()
