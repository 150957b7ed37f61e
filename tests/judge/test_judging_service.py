"""End to end: a project judged through the fake server, with faults, resume, cache, privacy."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.domain.rubric import case_criterion_question
from medreview.domain.validation import is_complete
from medreview.errors import JudgeError
from medreview.judge.client import JudgeClient
from medreview.judge.testing_server import FakeOpenAIServer, prompt_id
from medreview.progress import CancelToken
from medreview.services.judging import plan_work, run_judge
from medreview.services.projects import set_consent
from medreview.storage.forms import active_form_rows, form_from_row
from medreview.storage.models import (
    CaseRow,
    JudgeItemRow,
    JudgeRunRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
)
from medreview.storage.project import Project, open_project
from tests.judge.conftest import build_project, fast_config

SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


def _ledger(project: Project, run_id: int) -> list[JudgeItemRow]:
    with project.read() as s:
        return list(s.scalars(select(JudgeItemRow).where(JudgeItemRow.run_id == run_id)))


def test_full_run_stores_ordinary_judgments(project: Project, server: FakeOpenAIServer) -> None:
    summary = run_judge(project, fast_config(server.url))
    # 3 cases x 2 outputs x (2 criteria + 1 medval request)
    assert (summary.items_total, summary.judged, summary.failed) == (18, 18, 0)
    assert summary.status == "done" and summary.requests == server.count() == 18
    assert summary.prompt_tokens > 0
    with project.read() as s:
        rater = s.get(RaterRow, summary.rater_id)
        assert rater is not None and rater.kind == "judge" and rater.judge_run_id == summary.run_id
        run = s.get(JudgeRunRow, summary.run_id)
        assert run is not None and run.n_requests == 18 and run.model == "fake-judge"
        assert run.template_key == "auto" and len(run.template_hash) == 64
        rubric, _taxonomy = active_form_rows(s)
        assert rubric is not None
        form = form_from_row(rubric)
        revs = s.execute(select(JudgmentRevisionRow, JudgmentRow.output_id)
                         .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                         .where(JudgmentRow.rater_id == rater.id)).all()
        assert len(revs) == 6
        for rev, output_id in revs:
            assert rev.source == "judge" and rev.status == "done"
            out = s.get(OutputRow, output_id)
            case = s.get(CaseRow, out.case_id) if out else None
            assert case is not None
            crit = [case_criterion_question(c.key, c.text, c.points) for c in case.criteria]
            assert is_complete(form, rev.answers, crit)  # physician value conventions
            assert isinstance(rev.answers["criterion:urgent"], bool)
            assert rev.answers["risk_level"] in (1, 2, 3, 4)
            assert rev.confidence is not None and 0 <= rev.confidence <= 1
            sources = {a["question_id"]: a["judge"]["confidence_source"] for a in rev.annotations}
            assert sources["criterion:urgent"] == "logprobs"
            assert set(sources) == set(rev.answers)


def test_faults_end_judged_once_or_failed_with_reason(
        project: Project, server: FakeOpenAIServer) -> None:
    server.hang_s = 0.8
    server.faults.extend(["429", "500", "timeout", "drop", "malformed", "truncated",
                          "cut_body", "bad_body", "fenced", "503"])
    # One criterion of one output never parses: it must end failed, with its raw text.
    server.sticky.append(("model-b answer to case 1", "malformed"))
    # Which request draws which queued fault depends on thread timing, so one item may draw
    # several in a row. Allow each item more retries than there are transient faults of each
    # kind (7 transport, 2 unparseable): then only the sticky output can fail, on any schedule.
    config = fast_config(server.url, concurrency=4, max_retries=8, parse_retries=2)
    summary = run_judge(project, config)
    ledger = _ledger(project, summary.run_id)
    keys = [(r.output_id, r.item_key) for r in ledger]
    assert len(keys) == len(set(keys)) == summary.items_total == 18
    failed = [r for r in ledger if r.status == "failed"]
    assert len(failed) == 3 == summary.failed  # every item of that output
    for r in failed:
        assert r.error.startswith("unparseable reply") and r.raw_text and r.result == {}
    assert all(r.status == "done" and r.result["answers"] for r in ledger if r not in failed)
    assert summary.status == "incomplete"
    with project.read() as s:
        judgments = s.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == summary.rater_id)).all()
        assert len(judgments) == 5  # the fully failed output has no judgment


def test_rerun_is_served_from_cache(project: Project, server: FakeOpenAIServer) -> None:
    first = run_judge(project, fast_config(server.url))
    sent = server.count()
    second = run_judge(project, fast_config(server.url))
    assert second.run_id != first.run_id
    assert (second.cached, second.judged, second.requests) == (18, 0, 0)
    assert server.count() == sent
    changed = run_judge(project, fast_config(server.url, temperature=0.3), limit=1)
    assert changed.cached == 0 and changed.judged == 3  # other parameters, other cache key


def test_cancelled_run_resumes_without_resending(project: Project,
                                                  server: FakeOpenAIServer) -> None:
    server.delay_s = 0.02
    token = CancelToken()

    def progress(done: int, total: int | None = None, message: str = "") -> None:
        if done >= 7:
            token.cancel()

    first = run_judge(project, fast_config(server.url, concurrency=2), progress=progress,
                      token=token)
    assert first.status == "cancelled"
    done_before = {(r.output_id, r.item_key) for r in _ledger(project, first.run_id)
                   if r.status == "done"}
    assert 7 <= len(done_before) < 18
    units = {u.key: prompt_id(list(u.task.messages)) for u in plan_work(project)}
    done_prompts = {units[k] for k in done_before}
    n_before = server.count()
    resumed = run_judge(project, fast_config(server.url), resume=first.run_id)
    assert resumed.run_id == first.run_id and resumed.status == "done"
    assert resumed.already_done == len(done_before)
    resent = {r.prompt_id for r in server.requests[n_before:]}
    assert not resent & done_prompts
    ledger = _ledger(project, first.run_id)
    assert len(ledger) == 18 and all(r.status == "done" for r in ledger)


def test_killed_cli_run_resumes(tmp_path: Path, server: FakeOpenAIServer) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    server.delay_s = 0.1
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "medreview.cli.main", "judge", str(path), "--base-url",
         server.url, "--model", "fake-judge", "--concurrency", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    done = 0
    try:
        while done < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            with sqlite3.connect(path / "project.sqlite") as db:
                try:
                    done = db.execute("select count(*) from judge_item where status='done'"
                                      ).fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 3 <= done < 18
    with open_project(path) as project:
        with project.read() as s:
            run_id = s.scalar(select(JudgeRunRow.id))
            done_keys = {(o, k) for o, k in s.execute(select(
                JudgeItemRow.output_id, JudgeItemRow.item_key).where(
                JudgeItemRow.status == "done"))}
        units = {u.key: prompt_id(list(u.task.messages)) for u in plan_work(project)}
        n_before = server.count()
        server.delay_s = 0.0
        summary = run_judge(project, fast_config(server.url), resume=run_id)
        assert summary.status == "done" and summary.already_done == len(done_keys)
        assert not {r.prompt_id for r in server.requests[n_before:]} & {
            units[k] for k in done_keys}
        assert len(_ledger(project, summary.run_id)) == 18


def test_nothing_is_sent_without_consent(project: Project, server: FakeOpenAIServer) -> None:
    remote = fast_config("https://judge.example.org/v1")
    local_client = JudgeClient(replace(remote, base_url=server.url), None)
    with pytest.raises(JudgeError, match="consent"):
        run_judge(project, remote, client=local_client)
    with pytest.raises(JudgeError, match="consent"):
        run_judge(project, remote)
    assert server.count() == 0
    with project.read() as s:
        assert s.scalar(select(JudgeRunRow.id)) is None
    set_consent(project, True, by="study lead")
    summary = run_judge(project, remote, client=local_client, limit=1)
    assert summary.judged == 3 and server.count() == 3
    with project.read() as s:
        run = s.get(JudgeRunRow, summary.run_id)
        assert run is not None and run.base_url == "https://judge.example.org/v1"


def test_remote_endpoint_without_key_is_refused(project: Project) -> None:
    set_consent(project, True, by="lead")
    with pytest.raises(JudgeError, match="OPENAI_API_KEY"):
        run_judge(project, fast_config("https://judge.example.org/v1"))


def test_key_never_lands_in_db_or_logs(tmp_path: Path, server: FakeOpenAIServer,
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MY_JUDGE_KEY", SECRET)
    project = build_project(tmp_path / "proj")
    server.faults.extend(["429", "500"])
    # A server that echoes the key in its error (some do): the item fails, the key stays out.
    server.sticky.append(("model-a answer to case 0", "echo_key"))
    summary = run_judge(project, fast_config(server.url, api_key_env="MY_JUDGE_KEY",
                                             max_retries=2))
    assert summary.failed == 3
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in server.requests)
    failed = [r for r in _ledger(project, summary.run_id) if r.status == "failed"]
    assert all("[redacted]" in r.error for r in failed)
    project.close()
    for f in (tmp_path / "proj").iterdir():
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f.name
    assert SECRET not in caplog.text
    assert "429" in caplog.text  # the logs did see the retries


def test_keyring_key_is_preferred(project: Project, server: FakeOpenAIServer) -> None:
    from medreview.judge.privacy import store_api_key

    store_api_key(server.url, "sk-from-keyring-123456789", keyring_service="medreview-judge")
    run_judge(project, fast_config(server.url), limit=1)
    assert server.requests[0].headers["authorization"] == "Bearer sk-from-keyring-123456789"


def test_images_only_when_enabled(tmp_path: Path, server: FakeOpenAIServer) -> None:
    from medreview.domain.records import AttachmentRecord

    png = tmp_path / "scan.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    project = build_project(tmp_path / "proj", n_cases=1, models=("m",),
                            extra_records=(AttachmentRecord("case-0", str(png), "image"),))
    run_judge(project, fast_config(server.url))
    assert server.count() == 3 and "image_url" not in str([r.body for r in server.requests])
    run_judge(project, fast_config(server.url, images=True))
    with_images = server.requests[3:]
    assert len(with_images) == 3
    assert all("data:image/png;base64," in str(r.body) for r in with_images)
    project.close()


def test_form_template_and_resume_guards(tmp_path: Path, server: FakeOpenAIServer) -> None:
    project = build_project(tmp_path / "proj", forms=("quality_harm",), n_cases=1)
    summary = run_judge(project, fast_config(server.url), style="form")
    assert summary.items_total == 2 and summary.judged == 2
    with pytest.raises(JudgeError, match="same --model"):
        run_judge(project, fast_config(server.url, model="other"), resume=summary.run_id)
    with pytest.raises(JudgeError, match="no such judge run"):
        run_judge(project, fast_config(server.url), resume=999)
    project.close()
