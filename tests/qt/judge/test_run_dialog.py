"""The judge-run dialog against the fake OpenAI server on 127.0.0.1: background runs, cancel
and resume, consent, and the API key staying out of the screen and the project."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox
from sqlalchemy import select

from medreview.domain.judgment import JudgmentDraft
from medreview.judge.testing_server import FakeOpenAIServer, prompt_id
from medreview.qt.judge import run_dialog
from medreview.qt.judge.text import duration, tokens, usd
from medreview.services.grading import save_revision
from medreview.services.judging import (
    JudgeRunSummary,
    consent_state,
    list_judge_runs,
    plan_work,
)
from medreview.services.projects import add_rater, set_consent
from medreview.storage.models import JudgeItemRow, JudgmentRevisionRow, JudgmentRow, OutputRow
from medreview.storage.project import Project
from tests.qt.judge.helpers import all_text, configure

SECRET = "sk-dialog-DO-NOT-LEAK-0123456789abcdef"
SECRET2 = "sk-keyring-DO-NOT-LEAK-9876543210fedcba"


def _finished(dialog: run_dialog.JudgeRunDialog) -> list[JudgeRunSummary]:
    out: list[JudgeRunSummary] = []
    dialog.sig_finished.connect(out.append)
    return out


def _judged(dialog: run_dialog.JudgeRunDialog) -> int:
    text = dialog.panel.tiles["judged"].value.text()
    return int(text) if text.isdigit() else 0


def _output_ids(project: Project) -> frozenset[int]:
    with project.read() as s:
        return frozenset(s.scalars(select(OutputRow.id)))


def test_run_completes_in_the_background(qtbot, make_dialog, project: Project,
                                         server: FakeOpenAIServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = run_dialog.run_judge_live

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_dialog, "run_judge_live", spy)
    h = make_dialog()
    d = h.dialog
    assert d.estimate.text().startswith("New run: 18 items to send for 6 outputs")
    assert d.runs.rowCount() == 0 and d.runs.placeholder.isVisible()
    configure(d, server.url)
    server.delay_s = 0.2  # 18 items, 3 at a time: the run takes over a second
    finished = _finished(d)
    t0 = time.monotonic()
    assert d.start()
    assert time.monotonic() - t0 < 0.5  # the UI thread did not do the work
    assert d.running and d.cancel_button.isEnabled() and not d.start_button.isEnabled()
    assert not d.form.model.isEnabled()
    qtbot.waitUntil(lambda: _judged(d) > 0, timeout=10000)

    # Mid-run the DB executor is free, and grades saved through it land beside the judge's.
    doctor = h.db.submit(add_rater, project, "Dr. Concurrent").result(timeout=5)
    outputs = sorted(_output_ids(project))
    for oid in outputs:
        h.db.submit(save_revision, project, doctor.id, oid,
                    JudgmentDraft(rationale=f"note {oid}")).result(timeout=5)
    assert d.running and "%" in d.panel.bar.text()

    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    summary = finished[0]
    assert threads and threads[0].startswith("medreview-judge-run")
    assert (summary.status, summary.judged, summary.failed) == ("done", 18, 0)
    assert server.count() == 18 and not d.running
    with project.read() as s:
        judge_rows = s.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == summary.rater_id)).all()
        assert sorted(j.output_id for j in judge_rows) == outputs
        assert all(j.status == "done" for j in judge_rows)
        doctor_revs = s.scalars(select(JudgmentRevisionRow).join(
            JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id).where(
            JudgmentRow.rater_id == doctor.id)).all()
        assert len(doctor_revs) == len(outputs)
    merged = h.merged()
    assert merged.judge_runs and merged.raters and merged.judgments == frozenset(outputs)
    assert d.panel.tiles["judged"].value.text() == "18"
    assert d.panel.tiles["failed"].value.text() == "0"
    assert d.panel.state.text() == "Done" and "Every item was judged" in d.panel.message.text()
    assert not d.panel.failures.isVisible()
    qtbot.waitUntil(lambda: d.runs.rowCount() == 1 and d.runs.item(0, 4).text() == "Done",
                    timeout=5000)
    assert not d.resume_button.isEnabled()  # a finished run has nothing to resume
    qtbot.waitUntil(lambda: "18 from the cache" in d.estimate.text(), timeout=5000)


def test_cancel_stops_promptly_and_resume_sends_only_the_rest(
        qtbot, make_dialog, project: Project, server: FakeOpenAIServer) -> None:
    h = make_dialog()
    d = h.dialog
    configure(d, server.url, concurrency=2)
    server.delay_s = 0.15
    finished = _finished(d)
    assert d.start()
    qtbot.waitUntil(lambda: _judged(d) >= 4, timeout=15000)
    t0 = time.monotonic()
    qtbot.mouseClick(d.cancel_button, Qt.MouseButton.LeftButton)
    assert d.panel.state.text() == "Cancelling…" and not d.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert time.monotonic() - t0 < 1.5  # in-flight requests are abandoned, not awaited
    first = finished[0]
    assert first.status == "cancelled" and d.panel.state.text() == "Cancelled"
    assert f"select run #{first.run_id}" in d.panel.message.text()

    with project.read() as s:
        done_keys = {(o, k) for o, k in s.execute(select(
            JudgeItemRow.output_id, JudgeItemRow.item_key).where(
            JudgeItemRow.run_id == first.run_id, JudgeItemRow.status == "done"))}
    assert 4 <= len(done_keys) < 18
    prompts = {u.key: prompt_id(list(u.task.messages)) for u in plan_work(project)}
    done_prompts = {prompts[k] for k in done_keys}

    # The run is listed as cancelled, selected, and the estimate counts what is left.
    qtbot.waitUntil(lambda: d.runs.selected_run() is not None
                    and d.runs.selected_run().status == "cancelled", timeout=5000)
    assert d.resume_button.isEnabled() and d.resume_button.text() == f"Resume run #{first.run_id}"
    qtbot.waitUntil(lambda: "left to send" in d.resume_estimate.text(), timeout=5000)
    assert f"{18 - len(done_keys)} of 18 items left to send" in d.resume_estimate.text()

    server.delay_s = 0.0
    sent_before = server.count()
    qtbot.mouseClick(d.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=15000)
    second = finished[1]
    assert (second.run_id, second.status) == (first.run_id, "done")
    assert second.already_done == len(done_keys)
    resent = [r.prompt_id for r in server.requests[sent_before:]]
    assert not set(resent) & done_prompts
    assert len(resent) == 18 - len(done_keys)
    assert [r.run_id for r in list_judge_runs(project)] == [first.run_id]  # no second run


def test_remote_endpoint_without_consent_is_refused(qtbot, make_dialog, project: Project,
                                                    server: FakeOpenAIServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    h = make_dialog()
    d = h.dialog
    # 0.0.0.0 reaches this machine's test server but is not a loopback name, so it counts as
    # remote: anything sent despite the refusal would show up in the server's log.
    configure(d, f"http://0.0.0.0:{server.port}/v1", env="JUDGE_KEY")
    assert d.consent.check.isVisible() and "would leave this machine" in d.consent.title.text()
    finished = _finished(d)
    assert not d.start()
    assert not d.running and d.panel.state.text() == "Refused"
    message = d.panel.message.text()
    assert "no recorded consent" in message and "Nothing was sent" in message
    assert d.consent.property("level") == "error"
    qtbot.wait(300)
    assert server.count() == 0 and list_judge_runs(project) == []
    assert not consent_state(project).data_may_leave and not finished

    # Ticking the box records consent in the project, then the same Start runs.
    d.consent.check.setChecked(True)
    assert d.start()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    assert finished[0].status == "done" and server.count() == 18
    state = consent_state(project)
    assert state.data_may_leave and state.by and state.at is not None
    assert h.merged().project
    qtbot.waitUntil(lambda: "was recorded by" in d.consent.body.text(), timeout=5000)
    assert not d.consent.check.isVisible()


def test_api_key_is_never_shown_nor_stored(qtbot, make_dialog, project: Project,
                                           project_dir: Path, server: FakeOpenAIServer,
                                           monkeypatch: pytest.MonkeyPatch,
                                           memory_keyring) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    # A server that repeats the Authorization header in its error message, as some do.
    server.sticky.append(("model-a answer to case 0", "echo_key"))
    h = make_dialog()
    d = h.dialog
    configure(d, server.url, env="JUDGE_KEY")
    qtbot.waitUntil(lambda: d.form.key_status.text().startswith("✓")
                    and "$JUDGE_KEY" in d.form.key_status.text(), timeout=5000)
    assert d.key_source == "env"
    finished = _finished(d)
    assert d.start()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    assert finished[0].failed == 3 and finished[0].status == "incomplete"
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in server.requests)
    qtbot.waitUntil(lambda: d.panel.failures.rowCount() == 3, timeout=5000)
    reasons = [d.panel.failures.item(r, 3).text() for r in range(3)]
    assert all("HTTP 401" in r and "[redacted]" in r for r in reasons)
    assert {d.panel.failures.item(r, 0).text() for r in range(3)} == {"case-0"}

    # Storing a key in the OS keyring goes straight to the keyring.
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (SECRET2, True)))
    d.form.key_source.setCurrentIndex(d.form.key_source.findData("keyring"))
    assert d.form.store_key.isVisible()
    qtbot.mouseClick(d.form.store_key, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "OS keyring" in d.form.key_status.text(), timeout=5000)
    assert memory_keyring.store[("medreview-judge", "127.0.0.1")] == SECRET2

    shown = all_text(d)
    assert "JUDGE_KEY" in shown  # the walk does see the fields
    assert SECRET not in shown and SECRET2 not in shown
    d.shutdown()
    h.db.shutdown()
    project.close()
    files = [f for f in project_dir.rglob("*") if f.is_file()]
    assert any(f.name == "project.sqlite" for f in files)
    for f in files:
        data = f.read_bytes()
        assert SECRET.encode() not in data and SECRET2.encode() not in data, f.name


def test_closing_while_running_asks_then_cancels(qtbot, make_dialog, server: FakeOpenAIServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_dialog()
    d = h.dialog
    configure(d, server.url, concurrency=1)
    server.delay_s = 0.2
    finished = _finished(d)
    assert d.start()
    qtbot.waitUntil(lambda: _judged(d) >= 1, timeout=10000)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "exec", lambda _box: answers.pop(0))
    d.reject()  # "No": keep running, stay open
    assert d.isVisible() and d.running
    d.reject()  # "Yes": cancel and close; the run still reports its end
    assert not d.isVisible()
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert finished[0].status == "cancelled" and not answers


def test_bad_settings_are_named_before_anything_starts(qtbot, make_dialog,
                                                       server: FakeOpenAIServer) -> None:
    h = make_dialog()
    d = h.dialog
    configure(d, server.url, model="")
    assert not d.start()
    assert "enter the model name" in d.panel.message.text() and not d.running
    configure(d, "not a url at all", model="m")
    assert not d.start() and "is not a URL" in d.panel.message.text()
    assert server.count() == 0


def test_remote_endpoint_without_a_key_says_so_and_records_nothing(
        qtbot, make_dialog, project: Project) -> None:
    h = make_dialog()
    d = h.dialog
    # Consent recorded elsewhere (another screen) reaches the dialog through the bus.
    h.bus.emit(set_consent(project, True, by="Dr. Lead"), "another screen")
    qtbot.waitUntil(d.consent.recorded, timeout=5000)
    configure(d, "https://judge.example.org/v1", env="NO_SUCH_KEY_VAR")
    assert "recorded by Dr. Lead" in d.consent.body.text() and not d.consent.check.isVisible()
    qtbot.waitUntil(lambda: "NO_SUCH_KEY_VAR" in d.form.key_status.text(), timeout=5000)
    assert d.form.key_status.text().startswith("✗")
    assert d.start()  # consent is there; the key lookup happens on the run thread
    qtbot.waitUntil(lambda: not d.running, timeout=10000)
    assert "no API key" in d.panel.message.text() and "NO_SUCH_KEY_VAR" in d.last_error
    assert d.panel.state.text() == "Not started" and d.last_summary is None
    assert list_judge_runs(project) == []


def test_numbers_in_words() -> None:
    assert [tokens(n) for n in (950, 1234, 3_400_000)] == ["950", "1.2k", "3.4M"]
    assert [usd(x) for x in (0, 0.0042, 1234.5)] == ["$0.00", "$0.0042", "$1,234.50"]
    assert [duration(s) for s in (4.4, 125, 3725)] == ["4 s", "2 min 05 s", "1 h 02 min"]
