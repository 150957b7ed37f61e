"""The overall score is the core's: every write path stores the same score for the same answers.

Grading, an import of prior ratings, a merged rater package, undo and the LLM judge (against
the bundled fake server on 127.0.0.1) all write through ``storage.revisions.append_revision``,
which scores the answers with ``domain.scoring.judgment_score`` under the recorded form.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from medreview.cli.main import main
from medreview.demo import build_demo_project
from medreview.domain.judgment import JudgmentDraft
from medreview.domain.records import Located, RatingRecord
from medreview.domain.scoring import judgment_score
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services import grading
from medreview.storage import schema
from medreview.storage.assignments import rater_by_name
from medreview.storage.forms import form_from_row
from medreview.storage.ingest import ingest
from medreview.storage.models import (
    CaseRow,
    FormRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project, open_project
from medreview.storage.revisions import case_questions_of
from medreview.storage.tables import ratings_long
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package
from tests.schema_helpers import as_older_schema
from tests.study.helpers import grade_package, study_project


def _revisions(project: Project) -> list[dict[str, Any]]:
    """Every revision with what the core needs to score it again, and who wrote it."""
    out = []
    with project.read() as s:
        for rev, rater, output_id in s.execute(
            select(JudgmentRevisionRow, RaterRow.name, JudgmentRow.output_id)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
        ):
            form = form_from_row(s.get_one(FormRow, rev.form_id))
            cases = case_questions_of(s, output_id) if form.per_case_criteria else ()
            out.append({"rater": rater, "output_id": output_id, "source": rev.source,
                        "status": rev.status, "answers": dict(rev.answers),
                        "score": rev.overall_score,
                        "expected": judgment_score(form, rev.answers, cases, status=rev.status)})
    return out


def _criteria_answers(project: Project, output_id: int, met: tuple[bool, ...]) -> dict[str, Any]:
    with project.read() as s:
        qids = [q.id for q in case_questions_of(s, output_id)]
    return {"overall": 3, **dict(zip(qids, met, strict=False))}


def test_grading_import_merge_and_undo_store_the_same_score(tmp_path: Path) -> None:
    project = study_project(tmp_path / "base", n_cases=3, dicom=False)
    try:
        assign(project, AssignmentDesign(("Dr A",), per_output=1, overlap=None, seed=1))
        pkg = build_package(project, "Dr A", tmp_path / "a.mrpkg").path
        sealed = grade_package(pkg, tmp_path / "a", tmp_path / "a-done.mrpkg")
        merge_packages(project, [sealed])

        with project.read() as s:
            lead = rater_by_name(s, "Dr Lead").id
            output_id, case_ext, model = s.execute(
                select(OutputRow.id, CaseRow.external_id, OutputRow.model)
                .join(CaseRow, CaseRow.id == OutputRow.case_id).order_by(OutputRow.id)
            ).first()  # type: ignore[misc]
        answers = _criteria_answers(project, output_id, (True, False, True, True))
        # the app: the draft's own overall_score is not trusted, the core decides
        grading.save_revision(project, lead, output_id,
                              JudgmentDraft(answers=answers, overall_score=99.0), status="done")
        grading.save_revision(project, lead, output_id,
                              JudgmentDraft(answers={**answers, "overall": 1}), status="done")
        grading.save_revision(project, lead, output_id,
                              JudgmentDraft(answers=_criteria_answers(
                                  project, output_id, (False, False, False, False))),
                              status="done")
        grading.undo_last(project, lead, output_id)  # back to the second revision
        ingest(project, [Located(RatingRecord(case_ext, model, "Dr Imported", "physician",
                                              answers), "ratings.csv", 2)],
               source="ratings.csv", importer="prior_ratings")
    finally:
        project.close()

    project = open_project(tmp_path / "base")
    try:
        revs = _revisions(project)
    finally:
        project.close()
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in revs:
        by_source.setdefault(r["source"], []).append(r)
    assert {"ui", "merge", "undo", "import"} <= set(by_source)
    for r in revs:  # the stored score is the core's score of the stored answers
        assert r["score"] == r["expected"], r
    assert all(r["score"] is not None for r in by_source["merge"])
    same = [r for r in revs if r["output_id"] == output_id and r["answers"] == answers]
    assert {r["source"] for r in same} == {"ui", "import"}
    assert len({r["score"] for r in same}) == 1 and same[0]["score"] not in (None, 99.0)
    (undo,) = by_source["undo"]
    second = next(r for r in by_source["ui"] if r["answers"] == {**answers, "overall": 1})
    assert undo["answers"] == second["answers"] and undo["score"] == second["score"]
    # The score depends on the criteria only: the undone revision (all unmet) scored lower.
    assert min(r["score"] for r in by_source["ui"]) < undo["score"]


def test_merge_ignores_a_forged_score_in_the_package(tmp_path: Path) -> None:
    project = study_project(tmp_path / "base", n_cases=2, dicom=False)
    try:
        assign(project, AssignmentDesign(("Dr A",), per_output=1, overlap=None, seed=1))
        pkg = build_package(project, "Dr A", tmp_path / "a.mrpkg").path
        folder = tmp_path / "a"
        sealed = grade_package(pkg, folder, tmp_path / "a1.mrpkg")
        with sqlite3.connect(folder / "project.sqlite") as conn:
            conn.execute("UPDATE judgment_revision SET overall_score = 1000.0")
        conn.close()
        from medreview.study.package import seal_package

        sealed = seal_package(folder, tmp_path / "a2.mrpkg").path
        merge_packages(project, [sealed])
        revs = [r for r in _revisions(project) if r["source"] == "merge"]
    finally:
        project.close()
    assert revs and all(r["score"] == r["expected"] != 1000.0 for r in revs)


def test_cli_judge_on_the_demo_scores_every_judged_output(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    path = build_demo_project(tmp_path / "demo")
    with FakeOpenAIServer() as server:
        assert main(["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
                     "--concurrency", "4"]) == 0
    capsys.readouterr()
    project = open_project(path)
    try:
        revs = [r for r in _revisions(project) if r["source"] == "judge"
                and r["rater"].startswith("judge fake-judge")]
        with project.read() as s:
            n_outputs = s.scalar(text("SELECT count(*) FROM output"))
        table = ratings_long(project)
    finally:
        project.close()
    current: dict[int, dict[str, Any]] = {}
    for r in revs:
        current[r["output_id"]] = r  # rows come in revision order per judgment
    assert len(current) == n_outputs
    assert all(r["score"] is not None and r["score"] == r["expected"] for r in current.values())
    # The judge now has a "score" row beside the physicians in the statistics' input.
    scored = table[table["question_id"] == "score"]
    assert {"physician", "judge"} <= set(scored["rater_kind"])
    judge_rows = scored[scored["rater"].str.startswith("judge fake-judge")]
    assert len(judge_rows) == n_outputs


def test_migration_0004_fills_the_score_of_an_old_project(tmp_path: Path) -> None:
    """A project written before 0004 (scores missing or forged) gets the core's scores."""
    src = build_demo_project(tmp_path / "demo")
    path = tmp_path / "old"
    shutil.copytree(src, path)
    as_older_schema(path / "project.sqlite", "0003")
    with sqlite3.connect(path / "project.sqlite") as conn:
        conn.execute("UPDATE judgment_revision SET overall_score = NULL WHERE id % 2 = 0")
        conn.execute("UPDATE judgment_revision SET overall_score = 7.5 WHERE id % 2 = 1")
    conn.close()
    project = open_project(path)
    try:
        assert schema.current_revision(project.engine) == schema.head_revision()
        revs = _revisions(project)
    finally:
        project.close()
    assert len(revs) > 100
    assert all(r["score"] == r["expected"] is not None for r in revs)
    assert list(path.glob("project.schema-0003.*.bak.sqlite"))


def test_judgment_score_edges() -> None:
    from medreview.domain.rubric import Form, FormKind, Question, QuestionKind

    form = Form(key="f", version=1, name="f", kind=FormKind.RUBRIC, scoring="sum",
                questions=(Question("a", QuestionKind.NUMBER, "a"),
                           Question("b", QuestionKind.NUMBER, "b")))
    assert judgment_score(form, {"a": 2, "b": 3.5}) == 5.5
    # hostile numbers: a sum past the float range is no score, never an exception
    assert judgment_score(form, {"a": 1e308, "b": 1e308}) is None
    assert judgment_score(form, {"a": 2}, status="skipped") is None
    assert judgment_score(None, {"a": 2}) is None
    assert judgment_score(form, ["not", "a", "mapping"]) is None  # type: ignore[arg-type]
