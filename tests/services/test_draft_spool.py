"""The draft spool and the session's "server went away" path, without a server.

A real sample project on disk; its saves go through a runner that makes them fail with a
connection error (as a dropped server link does) until the test lets them through, so the
held-and-retried path, the spool file and the backoff are checked in the normal suite. The
same path against a real PostgreSQL server behind a TCP forwarder: tests/postgres.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.judgment import Annotation, JudgmentDraft, TextSpan
from medreview.services import grading
from medreview.services.draft_spool import (
    MAX_BYTES,
    DraftSpool,
    SpooledSave,
    is_connection_lost,
    new_uid,
    read_spool,
)
from medreview.services.grading_session import (
    RETRY_MAX_S,
    UNREACHABLE,
    GradingSession,
    SessionListener,
)
from medreview.services.projects import Project
from medreview.services.sample_project import build_sample_project
from medreview.services.server_projects import clean_url, is_server_url, with_tls


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[list[Any]] = []

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Any:
        timer = [self.now + seconds, fn, False]
        self.timers.append(timer)

        class Handle:
            def cancel(self) -> None:
                timer[2] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in sorted(self.timers, key=lambda t: t[0]):
            if timer[0] <= self.now and not timer[2]:
                timer[2] = True
                timer[1]()

    def pending(self) -> list[float]:
        return [t[0] - self.now for t in self.timers if not t[2]]


class FlakyRunner:
    """Runs calls in order when drained; saves fail with a refused connection while
    ``down`` (loads still work: the items were fetched ahead)."""

    def __init__(self) -> None:
        self.down = False
        self.queue: list[tuple[Callable[[], Any], Callable[[Any], None],
                               Callable[[BaseException], None]]] = []
        self.sent = 0

    def __call__(self, call: Callable[[], Any], ok: Callable[[Any], None],
                 failed: Callable[[BaseException], None]) -> cf.Future[Any]:
        self.queue.append((call, ok, failed))
        return cf.Future()

    def drain(self) -> None:
        while self.queue:
            call, ok, failed = self.queue.pop(0)
            is_save = getattr(call, "func", None) is grading.save_revision
            self.sent += is_save
            if is_save and self.down:
                failed(ConnectionRefusedError(111, "Connection refused"))
                continue
            try:
                value = call()
            except Exception as exc:
                failed(exc)
            else:
                ok(value)


class Heard(SessionListener):
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []

    def save_state(self, state: str, message: str) -> None:
        self.states.append((state, message))


@pytest.fixture
def sample(tmp_path: Path) -> Iterator[tuple[Project, int]]:
    project, me = build_sample_project(tmp_path / "p", n_cases=2, outputs_per_case=2,
                                       with_dicom=False)
    yield project, me.id
    project.close()


def _revisions(project: Project, rater_id: int, output_id: int) -> list[str]:
    return [str(h.draft.answers.get("overall_comment"))
            for h in grading.history(project, rater_id, output_id)]


def test_held_while_unreachable_kept_on_disk_retried_with_backoff_and_saved_once(
        sample: tuple[Project, int], tmp_path: Path) -> None:
    project, rater = sample
    queue = [r.output_id for r in grading.load_queue(project, rater)][:3]
    spool = DraftSpool(tmp_path / "spool" / "rater.json")
    run, clock, heard = FlakyRunner(), Clock(), Heard()
    session = GradingSession(project, rater, run, clock, listener=heard, spool=spool)
    for out in queue[1:]:
        session.preload(out)
    session.open_item(queue[0])
    run.drain()
    run.down = True
    session.set_answer("overall_comment", "a")
    session.save("done")
    run.drain()
    assert session.unreachable and heard.states[-1] == ("error", UNREACHABLE)
    session.open_item(queue[1])  # from the preload cache
    run.drain()
    session.set_answer("overall_comment", "b")
    assert heard.states[-1] == ("error", UNREACHABLE)  # not "Unsaved changes…"
    sent = run.sent
    session.save("done")
    run.drain()
    assert run.sent == sent  # held, not sent while the server is away
    assert spool.flush()
    kept, problems = read_spool(spool.path)
    assert problems == [] and {s.output_id for s in kept} == set(queue[:2])
    assert stat.S_IMODE(os.stat(spool.path).st_mode) == 0o600
    delays = []
    for _ in range(7):  # 1, 2, 4, 8, 16, 30, 30 s: each retry fails, the next waits longer
        (delay,) = clock.pending()
        delays.append(delay)
        clock.advance(delay)
        run.drain()
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, RETRY_MAX_S, RETRY_MAX_S]
    run.down = False
    clock.advance(clock.pending()[0])
    run.drain()
    assert not session.unreachable and not session.unsaved and clock.pending() == []
    assert heard.states[-1][0] == "saved"
    assert spool.flush() and not spool.path.exists()
    assert _revisions(project, rater, queue[0]) == ["a"]
    assert _revisions(project, rater, queue[1]) == ["b"]
    session.close()


def test_a_refused_save_is_not_mistaken_for_an_outage() -> None:
    class Refused(Exception):
        pass

    assert not is_connection_lost(Refused("permission denied for table judgment"))
    assert is_connection_lost(ConnectionResetError(104, "reset"))
    wrapped = RuntimeError("save failed")
    wrapped.__cause__ = TimeoutError("timed out")
    assert is_connection_lost(wrapped)
    login = RuntimeError('FATAL:  password authentication failed for user "x"')
    login.__cause__ = ConnectionError("closed")
    assert not is_connection_lost(login)  # the server answered: a retry changes nothing


def test_the_spool_keeps_the_newest_save_per_item_and_round_trips(tmp_path: Path) -> None:
    spool = DraftSpool(tmp_path / "s.json")
    draft = JudgmentDraft(answers={"q": 3, "overall_comment": "é ✓"}, rationale="r",
                          annotations=(Annotation(question_id="errors", category="dose",
                                                  span=TextSpan(1, 4, "abc")),),
                          confidence=0.5, flagged=True, time_on_task_s=12.5)
    first = SpooledSave(7, new_uid(), "draft", draft, 3)
    newer = SpooledSave(7, new_uid(), "done", draft, 3)
    spool.put(first)
    spool.put(newer)
    spool.remove(7, first.uid)  # an older save's confirmation never drops the newer one
    spool.close()
    assert read_spool(spool.path) == ([newer], [])
    again = DraftSpool(spool.path)
    assert again.saves() == [newer]
    again.remove(7, newer.uid)
    again.close()
    assert not spool.path.exists()


def test_a_hostile_spool_file_is_refused_in_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b"x" * (MAX_BYTES + 1))
    assert read_spool(path)[0] == [] and "limit" in read_spool(path)[1][0]
    path.write_text(json.dumps({"format": "other", "version": 1, "saves": []}))
    assert "not a medreview kept-drafts file" in read_spool(path)[1][0]
    good = {"output_id": 1, "uid": "b" * 32, "status": "done", "draft": {"answers": {}}}
    bad = [{"output_id": True, "uid": "b" * 32, "status": "done", "draft": {}},
           {"output_id": 1, "uid": "B" * 32, "status": "done", "draft": {}},
           {"output_id": 1, "uid": "b" * 32, "status": "gone", "draft": {}},
           {"output_id": 1, "uid": "b" * 32, "status": "done",
            "draft": {"confidence": float("nan")}},
           {"output_id": 1, "uid": "b" * 32, "status": "done", "draft": {"answers": []}}]
    path.write_text(json.dumps({"format": "medreview-draft-spool", "version": 1,
                                "saves": [*bad, good]}))
    saves, problems = read_spool(path)
    assert [s.output_id for s in saves] == [1] and len(problems) == len(bad)
    assert all("\n" not in p and str(path) in p for p in problems)


def test_a_pasted_url_is_cleaned_and_tls_options_pass_through() -> None:
    url = "postgresql://stroke_study_dr_a@db.example:5432/stroke_study"
    assert clean_url(f"  project:  {url}\n") == url
    assert clean_url(f"'{url}'") == url
    assert is_server_url(url) and not is_server_url("/home/me/project")
    assert not is_server_url("https://example.org/x")
    tls = with_tls(url, "verify-full", "/etc/ssl/ca.pem")
    assert "sslmode=verify-full" in tls and "sslrootcert=" in tls and "ca.pem" in tls
    assert with_tls(url) == url
    with pytest.raises(Exception, match="unknown TLS mode"):
        with_tls(url, "sometimes")



def test_kept_saves_are_filed_per_project_and_rater(tmp_path: Path) -> None:
    from medreview.services.draft_spool import spool_path

    class Stand:
        path = tmp_path

    a, b = spool_path(Stand(), 3, "uid-a"), spool_path(Stand(), 3, "uid-b")  # type: ignore[arg-type]
    assert a != b and a.parent == b.parent == tmp_path / "drafts"
    assert spool_path(Stand(), 4, "uid-a") != a  # type: ignore[arg-type]
    assert "uid-a" not in a.name and a.name.startswith("rater-3.")
