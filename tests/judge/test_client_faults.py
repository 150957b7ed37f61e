"""The client and runner against a real HTTP server on 127.0.0.1 with injected faults."""

from __future__ import annotations

import pytest

from medreview.domain.rubric import case_criterion_question
from medreview.judge.client import JudgeClient, RequestFailed, retry_after_seconds
from medreview.judge.runner import judge_task, run_tasks
from medreview.judge.templates import CaseContext, JudgeTask, plan_tasks
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.progress import CancelToken
from tests.judge.conftest import fast_config

CASE = CaseContext((("user", "Chest pain, what now?"),))


def _task(i: int = 0) -> JudgeTask:
    q = case_criterion_question(f"k{i}", "Advises calling emergency services.", 8)
    return plan_tasks("healthbench", CASE, f"answer {i}", (q,))[0]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float, token: CancelToken | None) -> None:
        self.delays.append(seconds)


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "drop", "cut_body",
                                   "bad_body"])
def test_transient_faults_are_retried(server: FakeOpenAIServer, fault: str) -> None:
    server.hang_s = 1.0
    server.faults.append(fault)
    client = JudgeClient(fast_config(server.url), None)
    outcome = judge_task(client, _task())
    assert outcome.status == "done", outcome.error
    assert outcome.requests == 2
    assert [r.fault for r in server.requests] == [fault, "ok"]
    client.close()


@pytest.mark.parametrize("fault", ["malformed", "truncated", "invalid"])
def test_unparseable_reply_is_asked_again_then_failed_with_raw_text(
        server: FakeOpenAIServer, fault: str) -> None:
    client = JudgeClient(fast_config(server.url, parse_retries=1), None)
    server.faults.append(fault)
    assert judge_task(client, _task()).status == "done"  # the second answer parses
    server.faults.extend([fault, fault])
    outcome = judge_task(client, _task(1))
    assert outcome.status == "failed" and outcome.requests == 2
    assert outcome.error.startswith("unparseable reply")
    assert outcome.raw_text  # kept for the ledger
    assert outcome.result == {}  # never stored as a grade
    if fault == "truncated":
        assert "max_tokens" in outcome.error
    client.close()


def test_fenced_json_parses_first_time(server: FakeOpenAIServer) -> None:
    server.faults.append("fenced")
    outcome = judge_task(JudgeClient(fast_config(server.url), None), _task())
    assert outcome.status == "done" and outcome.requests == 1


def test_retry_after_is_honoured_and_backoff_grows(server: FakeOpenAIServer) -> None:
    sleeps = Sleeps()
    server.retry_after = "7"
    server.faults.extend(["429", "500", "500", "500"])
    client = JudgeClient(fast_config(server.url, retry_after_cap_s=100, backoff_base_s=0.5,
                                     backoff_max_s=1.5, max_retries=5), None, sleep=sleeps)
    assert judge_task(client, _task()).status == "done"
    assert sleeps.delays[0] == 7.0  # the server's Retry-After, not our backoff
    for delay, ceiling in zip(sleeps.delays[1:], (1.0, 1.5, 1.5), strict=True):
        assert ceiling / 2 <= delay <= ceiling  # exponential, capped, with jitter


def test_retries_are_bounded(server: FakeOpenAIServer) -> None:
    server.sticky.append(("", "500"))
    client = JudgeClient(fast_config(server.url, max_retries=3), None)
    with pytest.raises(RequestFailed, match="HTTP 500") as info:
        client.complete(_task().messages, _task().schema)
    assert info.value.requests == 4 == server.count()
    outcome = judge_task(client, _task())
    assert outcome.status == "failed" and "gave up after 4 requests" in outcome.error


def test_structured_output_falls_back_once(server: FakeOpenAIServer) -> None:
    server.sticky.append(("json_schema", "no_schema"))
    client = JudgeClient(fast_config(server.url), None)
    assert judge_task(client, _task(0)).status == "done"
    assert judge_task(client, _task(1)).status == "done"
    formats = [(r.body.get("response_format") or {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]


def test_self_consistency_tops_up_when_server_ignores_n(server: FakeOpenAIServer) -> None:
    server.honour_n = False
    client = JudgeClient(fast_config(server.url, temperature=0.7, logprobs=False, seed=0), None)
    outcome = judge_task(client, _task(), n_samples=5)
    assert outcome.status == "done" and server.count() == 5
    assert outcome.result["samples"] == 5
    assert outcome.result["confidence_source"]["criterion:k0"] == "agreement"
    seeds = [r.body["seed"] for r in server.requests]
    assert len(set(seeds)) == 5


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({}) is None


def test_run_tasks_bounds_concurrency_and_cancels(server: FakeOpenAIServer) -> None:
    server.delay_s = 0.05
    client = JudgeClient(fast_config(server.url), None)
    token = CancelToken()
    seen: list[int] = []

    def on_outcome(key: int, task: JudgeTask, outcome: object) -> None:
        seen.append(key)
        if len(seen) == 4:
            token.cancel()

    items = [(i, _task(i)) for i in range(40)]
    finished = run_tasks(items, lambda t: judge_task(client, t, token=token), on_outcome,
                         concurrency=2, token=token)
    assert finished is False
    assert 4 <= len(seen) < 40
    assert server.count() <= len(seen) + 2  # nothing submitted beyond the window
    assert len(set(seen)) == len(seen)
