"""Writers in separate processes wait for each other: nothing fails, is lost or is duplicated.

Real processes (``medreview`` CLI and small Python writers) on one real SQLite project, and the
fake judge on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord
from medreview.errors import ImportFailed
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form, project_info
from medreview.storage.ingest import incomplete_imports, ingest
from medreview.storage.models import (
    CaseRow,
    ImportLogRow,
    JudgeItemRow,
    JudgeRunRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
)
from medreview.storage.project import Project, create_project, open_project
from tests.storage.helpers import case, output

N_PER_FILE = 3000
SEED_CASES = 30  # x 2 models = the judge's items


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MEDREVIEW_HOME"] = str(tmp_path / "home")
    env["MEDREVIEW_LOG_DIR"] = str(tmp_path / "logs")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env.pop("OPENAI_API_KEY", None)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "medreview.cli.main", *args]


def _write_jsonl(path: Path, tag: str, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            line = {
                "case_id": f"{tag}-{i}",
                "prompt": f"Patient {i} ({tag}): fever and cough for {i % 9 + 1} days. Next step?",
                "model": "m1",
                "output": f"Answer {tag}-{i}: check the oxygen saturation first.",
            }
            fh.write(json.dumps(line) + "\n")


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.mark.sqlite_only(reason="child processes get the folder (server: tests/postgres)")
def test_two_imports_and_a_judge_run_at_once(tmp_path: Path, server: FakeOpenAIServer) -> None:
    path = tmp_path / "proj"
    with create_project(path, "busy") as project:
        add_form(project, load_template("quality_harm"))
        seed = []
        for i in range(SEED_CASES):
            seed.append(case(f"seed-{i}", criteria=0))
            seed += [output(f"seed-{i}", m, f"{m} says: call 911 ({i})") for m in ("ma", "mb")]
        ingest(project, [Located(r, "seed", n) for n, r in enumerate(seed, 1)],
               source="seed", importer="test")
    files = []
    for tag in ("a", "b"):
        f = tmp_path / f"{tag}.jsonl"
        _write_jsonl(f, tag, N_PER_FILE)
        files.append(f)
    env = _env(tmp_path)
    n_items = SEED_CASES * 2
    procs = [
        subprocess.Popen(_cli("import", str(path), str(f)), env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for f in files
    ]
    procs.append(subprocess.Popen(
        _cli("judge", str(path), "--base-url", server.url, "--model", "fake-judge",
             "--limit", str(n_items), "--concurrency", "4"),
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, f"{p.args}: rc {p.returncode}\n{out}\n{err}"
        assert "Traceback" not in err and "locked" not in err
    for f, (out, _err) in zip(files, results[:2], strict=True):
        assert f"{f}: jsonl: added {N_PER_FILE} cases, {N_PER_FILE} outputs" in out
    assert f"{n_items} judged, 0 cached, 0 failed" in results[2][0]

    with open_project(path) as project, project.read() as s:
        counts = project_info(project).counts
        assert counts["cases"] == SEED_CASES + 2 * N_PER_FILE
        assert counts["outputs"] == 2 * SEED_CASES + 2 * N_PER_FILE
        for tag in ("a", "b"):  # every case of each file once, each with its one output
            n_cases = s.scalar(select(func.count()).select_from(CaseRow)
                               .where(CaseRow.external_id.like(f"{tag}-%")))
            assert n_cases == N_PER_FILE
        dup_outputs = s.execute(
            select(OutputRow.case_id, OutputRow.model).group_by(OutputRow.case_id, OutputRow.model)
            .having(func.count() > 1)).all()
        assert dup_outputs == []
        sources = [str(f) for f in files]
        logs = s.scalars(select(ImportLogRow).where(ImportLogRow.source.in_(sources)))
        assert sorted(r.counts["state"] for r in logs) == ["complete", "complete"]
        # The judge: one run, done, every item judged exactly once, one judgment each.
        run = s.scalars(select(JudgeRunRow)).one()
        assert run.status == "done"
        items = s.execute(select(JudgeItemRow.output_id, JudgeItemRow.item_key,
                                 JudgeItemRow.status)).all()
        assert len(items) == len({(o, k) for o, k, _ in items}) >= n_items
        assert {st for _o, _k, st in items} == {"done"}
        judged = s.scalars(select(JudgmentRow.output_id)).all()
        assert len(judged) == len(set(judged)) == n_items
    assert incomplete_imports(open_project(path)) == []


# One process saves one revision per transaction (a rater grading); the other appends
# revisions in transactions of several (a merge). Both number revisions of the same judgments.
_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from medreview.storage.project import open_project
    from medreview.storage.revisions import RevisionContent, append_revision
    path, role, n, per_tx = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rater_id, form_id, outputs = 1, 1, [int(x) for x in sys.argv[5].split(",")]
    with open_project(path) as project:
        done = 0
        while done < n:
            with project.transaction() as s:
                for _ in range(min(per_tx, n - done)):
                    out = outputs[done % len(outputs)]
                    append_revision(s, rater_id=rater_id, output_id=out, form_id=form_id,
                                    taxonomy_id=None, author=role, source=role,
                                    content=RevisionContent(rationale=f"{role} {done}"))
                    done += 1
    print("ok", role, done)
""")


@pytest.mark.sqlite_only(reason="child processes get the folder (server: tests/postgres)")
def test_saves_beside_merge_appends_number_revisions_without_gaps(
    tmp_path: Path, empty_project: Project
) -> None:
    from medreview.storage.raters import get_or_create_rater

    project = empty_project
    add_form(project, load_template("quality_harm"))
    ingest(project, [Located(CaseRecord("c", (Message("user", "q"),)), "t", 1)]
           + [Located(OutputRecord("c", f"m{i}", f"text {i}"), "t", i + 2) for i in range(3)],
           source="t", importer="t")
    with project.transaction() as s:
        get_or_create_rater(s, "Dr A", "physician")
        outputs = s.scalars(select(OutputRow.id)).all()
    project.close()
    env = _env(tmp_path)
    ids = ",".join(str(o) for o in outputs)
    saves, merged = 240, 240
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(project.path), "save",
                          str(saves), "1", ids], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        subprocess.Popen([sys.executable, "-c", _WRITER, str(project.path), "merge",
                          str(merged), "12", ids], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE),
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.startswith("ok"), err
        assert "IntegrityError" not in err and "locked" not in err
    with open_project(project.path) as reopened, reopened.read() as s:
        rows = s.execute(select(JudgmentRevisionRow.judgment_id, JudgmentRevisionRow.revision_no,
                                JudgmentRevisionRow.source)).all()
        assert len(rows) == saves + merged
        assert sum(1 for r in rows if r.source == "save") == saves
        for judgment in s.scalars(select(JudgmentRow)):
            numbers = sorted(no for jid, no, _src in rows if jid == judgment.id)
            assert numbers == list(range(1, len(numbers) + 1))
            assert judgment.current_revision_no == len(numbers)


def _records(n: int, bad_at: int | None = None) -> Iterator[Located]:
    for i in range(1, n + 1):
        if i == bad_at:
            yield Located(output("missing-case", "m", "x"), "f.jsonl", i)
        else:
            yield Located(case(f"k{i}"), "f.jsonl", i)


def test_a_failing_batched_import_takes_back_its_committed_batches(
    empty_project: Project,
) -> None:
    before = project_info(empty_project).counts
    with pytest.raises(ImportFailed) as info:
        ingest(empty_project, _records(300, bad_at=250), source="f.jsonl", importer="t",
               batch_records=20)
    assert info.value.line == 250
    assert project_info(empty_project).counts == before
    with empty_project.read() as s:
        assert s.scalar(select(func.count()).select_from(ImportLogRow)) == 0


_KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from medreview.domain.records import Located
    from medreview.storage.ingest import ingest
    from medreview.storage.project import open_project
    from tests.storage.helpers import case
    def records():
        for i in range(1, 301):
            if i == 170:
                os.kill(os.getpid(), signal.SIGKILL)
            yield Located(case(f"k{i}"), "f.jsonl", i)
    with open_project(Path(sys.argv[1])) as project:
        ingest(project, records(), source="f.jsonl", importer="t", source_sha256="ab" * 32,
               batch_records=50)
""")


@pytest.mark.sqlite_only(reason="a child process gets the folder")
def test_a_killed_import_is_marked_partial_and_completes_when_run_again(
    tmp_path: Path, empty_project: Project
) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(empty_project.path)],
                          env=_env(tmp_path), cwd=Path(__file__).parents[2], timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [src for src, _when in incomplete_imports(empty_project)] == ["f.jsonl"]
    assert project_info(empty_project).counts["cases"] == 150  # three whole batches
    again = ingest(empty_project, _records(300), source="f.jsonl", importer="t",
                   source_sha256="ab" * 32)
    assert again.added["cases"] == 150 and again.skipped["cases"] == 150
    assert incomplete_imports(empty_project) == []
    with empty_project.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 300
        logs = s.scalars(select(ImportLogRow)).all()
        assert [r.counts["state"] for r in logs] == ["complete"]


def test_rows_another_writer_already_uses_stay_and_the_error_says_so(
    empty_project: Project,
) -> None:
    from medreview.storage.raters import get_or_create_rater
    from medreview.storage.revisions import RevisionContent, append_revision

    project = empty_project
    add_form(project, load_template("quality_harm"))

    def records() -> Iterator[Located]:
        yield Located(case("k1"), "f.jsonl", 1)
        yield Located(output("k1", "m", "answer"), "f.jsonl", 2)
        # Between batches (batch_records=2) a rater saves a grade of the new output.
        with project.transaction() as s:
            rater = get_or_create_rater(s, "Dr A", "physician")
            out_id = s.scalars(select(OutputRow.id)).one()
            append_revision(s, rater_id=rater.id, output_id=out_id, form_id=1, taxonomy_id=None,
                            author="Dr A", source="ui", content=RevisionContent(rationale="ok"))
        yield Located(output("nope", "m", "x"), "f.jsonl", 3)

    with pytest.raises(ImportFailed) as info:
        ingest(project, records(), source="f.jsonl", importer="t", batch_records=2)
    assert info.value.line == 3
    assert "could not be taken back" in info.value.message
    with project.read() as s:  # the grade and what it grades are intact
        assert s.scalar(select(func.count()).select_from(JudgmentRevisionRow)) == 1
        assert s.scalar(select(func.count()).select_from(OutputRow)) == 1
    assert [src for src, _ in incomplete_imports(project)] == ["f.jsonl"]
