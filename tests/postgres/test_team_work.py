"""Work on a PostgreSQL project through the services, as the CLI and the app do: import a JSONL,
grade, export; then two imports and two graders at once against one project (separate
engines, like separate machines): nothing lost, nothing duplicated, revisions numbered 1..n."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from medreview.cli.main import main
from medreview.domain.judgment import JudgmentDraft
from medreview.rubrics.templates import load_template
from medreview.services import grading
from medreview.services.exporting import ExportRequest, run_export
from medreview.services.importing import import_file
from medreview.services.projects import (
    add_form,
    add_rater,
    create_project,
    open_project,
    project_info,
)


def _jsonl(path: Path, prefix: str, cases: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(cases):
            for model in ("m1", "m2"):
                fh.write(json.dumps({"case_id": f"{prefix}{i}", "prompt": f"Case {prefix}{i}?",
                                     "model": model, "output": f"{model} answers {prefix}{i}"})
                         + "\n")
    return path


def test_import_grade_export_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with create_project(pg_url, "ward") as project:
        add_form(project, load_template("healthbench"))
        fmt, summary = import_file(project, _jsonl(tmp_path / "a.jsonl", "a", 3))
        assert fmt == "jsonl"
        again = import_file(project, tmp_path / "a.jsonl")[1]  # idempotent on the server too
        rater = add_rater(project, "Dr A")
        queue = grading.load_queue(project, rater.id)
        assert len(queue) == 6
        for row in queue[:4]:
            grading.save_revision(project, rater.id, row.output_id,
                                  JudgmentDraft(answers={"overall_comment": "fine"}),
                                  status="done")
        lines = list(run_export(project, ExportRequest(outdir=tmp_path / "out")))
        assert lines
        info = project_info(project)
    assert info.counts["cases"] == 3 and info.counts["outputs"] == 6
    assert summary != again
    with (tmp_path / "out" / "judgments.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["question_id"] == "overall_comment"]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"done"}


def test_two_imports_and_two_graders_at_once(pg_url: str, tmp_path: Path) -> None:
    with create_project(pg_url, "ward") as project:
        add_form(project, load_template("healthbench"))
        import_file(project, _jsonl(tmp_path / "seed.jsonl", "s", 4))
        raters = [add_rater(project, name).id for name in ("Dr A", "Dr B")]
        outputs = [q.output_id for q in grading.load_queue(project, raters[0])]
    files = [_jsonl(tmp_path / f"{p}.jsonl", p, 40) for p in ("x", "y")]
    # Both import files share 10 cases, so the two imports race for the same rows too.
    shared = _jsonl(tmp_path / "shared.jsonl", "z", 10).read_text(encoding="utf-8")
    for f in files:
        f.write_text(f.read_text(encoding="utf-8") + shared, encoding="utf-8")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def on_own_engine(work: Callable[..., object]) -> Callable[[], None]:
        def run() -> None:
            try:
                with open_project(pg_url) as mine:
                    start.wait()
                    work(mine)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
        return run

    def grade(rater_id: int) -> Callable[..., object]:
        def work(project: object) -> None:
            for rounds in range(3):
                for out_id in outputs:
                    grading.save_revision(project, rater_id, out_id,  # type: ignore[arg-type]
                                          JudgmentDraft(answers={"overall_comment": f"r{rounds}"}))
        return work

    jobs = [on_own_engine(lambda p, f=f: import_file(p, f)) for f in files]
    jobs += [on_own_engine(grade(r)) for r in raters]
    threads = [threading.Thread(target=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_project(pg_url) as project:
        counts = project_info(project).counts
        assert counts["cases"] == 4 + 40 + 40 + 10
        assert counts["outputs"] == 2 * counts["cases"]
        for rater_id in raters:
            for out_id in outputs:
                numbers = [h.revision_no for h in grading.history(project, rater_id, out_id)]
                assert numbers == [1, 2, 3]


def test_cli_commands_take_a_url(pg_url: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    password = str(sa.make_url(pg_url).password or "")

    def cli(*argv: object, code_expected: int = 0) -> str:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert code == code_expected, err
        assert password not in out + err
        return out

    assert "created project postgresql://" in cli("init", pg_url, "--rubric", "healthbench")
    cli("import", pg_url, _jsonl(tmp_path / "a.jsonl", "a", 3))
    cli("assign", pg_url, "--raters", "Dr A,Dr B", "--per-output", "2")
    assert "already at schema" in cli("migrate", pg_url)
    cli("stats", pg_url, "--no-ci", code_expected=1)  # read from the server: nothing graded
    cli("export", pg_url, tmp_path / "out")
    cli("package", pg_url, "--rater", "Dr A", "--out", tmp_path / "a.mrpkg")
    info = json.loads(cli("info", pg_url, "--json"))
    assert info["counts"]["cases"] == 3 and info["counts"]["physicians"] == 2
    assert (tmp_path / "out" / "outputs.csv").is_file() and (tmp_path / "a.mrpkg").is_file()


def test_a_judge_run_two_imports_and_two_graders_at_once(pg_url: str, tmp_path: Path) -> None:
    from medreview.judge.testing_server import FakeOpenAIServer
    from medreview.services.judging import run_judge
    from tests.judge.conftest import build_project, fast_config

    build_project(pg_url).close()  # type: ignore[arg-type]  # a URL is a project too
    with open_project(pg_url) as project:
        raters = [add_rater(project, name).id for name in ("Dr A", "Dr B")]
        outputs = [q.output_id for q in grading.load_queue(project, raters[0])]
    files = [_jsonl(tmp_path / f"{p}.jsonl", p, 25) for p in ("x", "y")]
    errors: list[BaseException] = []
    results: list[Any] = []
    start = threading.Barrier(5)

    def on_own_engine(work: Callable[..., object]) -> threading.Thread:
        def run() -> None:
            try:
                with open_project(pg_url) as mine:
                    start.wait()
                    results.append(work(mine))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
        return threading.Thread(target=run)

    def grade(rater_id: int) -> Callable[..., object]:
        def work(project: object) -> None:
            for rounds in range(2):
                for out_id in outputs:
                    grading.save_revision(project, rater_id, out_id,  # type: ignore[arg-type]
                                          JudgmentDraft(answers={"overall_comment": f"r{rounds}"}))
        return work

    with FakeOpenAIServer() as server:
        server.delay_s = 0.02
        # A loaded CI machine can take longer than fast_config's 0.5 s to answer; a timed-out
        # request is retried (and billed) by design, which is not what this test is about.
        config = fast_config(server.url, concurrency=2, timeout_s=10.0)
        threads = [on_own_engine(lambda p, f=f: import_file(p, f)) for f in files]
        threads += [on_own_engine(grade(r)) for r in raters]
        threads.append(on_own_engine(lambda p: run_judge(p, config)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        run = next(r for r in results if hasattr(r, "judged"))
        # The run judges what it finds, imports arriving meanwhile included: each item once.
        assert (run.status, run.failed) == ("done", 0)
        assert run.judged == server.count() >= 18
        assert run.requests == server.count()  # every request the endpoint saw is on the bill
        judged = run.judged
    with open_project(pg_url) as project:
        counts = project_info(project).counts
        assert counts["cases"] == 3 + 25 + 25 and counts["outputs"] == 2 * counts["cases"]
        for rater_id in raters:
            for out_id in outputs:
                numbers = [h.revision_no for h in grading.history(project, rater_id, out_id)]
                assert numbers == [1, 2]
        with project.engine.connect() as conn:
            items = conn.execute(sa.text("SELECT output_id, item_key FROM judge_item")).all()
        assert len(items) == len(set(items)) == judged


def test_an_import_that_fails_after_committed_batches_leaves_nothing(
        pg_url: str, tmp_path: Path) -> None:
    from medreview.errors import ImportFailed

    bad = _jsonl(tmp_path / "bad.jsonl", "b", 700)  # 1400 lines: more than one batch (500)
    with bad.open("a", encoding="utf-8") as fh:
        fh.write('{"case_id": "b-last", "prompt": \n')
    with create_project(pg_url, "ward") as project:
        with pytest.raises(ImportFailed, match=r"bad.jsonl, line 1401"):
            import_file(project, bad)
        counts = project_info(project).counts
    assert counts["cases"] == 0 and counts["outputs"] == 0
