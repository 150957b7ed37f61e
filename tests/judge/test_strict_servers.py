"""A judge that speaks to strict servers (issue 11 part 5): only the parameters the user set
are sent; a 400 naming an unsupported parameter drops it for the run, records it in the run
and retries the item without it (not a failure). Real local servers, full judging service."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.judge.params import refused_params
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judging import judge_run_info, run_judge
from medreview.storage.models import JudgeItemRow
from medreview.storage.project import Project
from tests.judge.conftest import build_project, fast_config


def _sent(server: FakeOpenAIServer, key: str) -> list[bool]:
    return [key in r.body for r in server.requests]


def test_only_parameters_that_are_set_are_sent(project: Project,
                                               server: FakeOpenAIServer) -> None:
    run_judge(project, fast_config(server.url), limit=1)
    assert server.requests and not any(_sent(server, "seed"))
    assert all(_sent(server, "temperature")) and all(_sent(server, "max_tokens"))
    n = server.count()
    run_judge(project, fast_config(server.url, seed=7, temperature=None, max_tokens=None,
                                   logprobs=False, structured="none"), limit=1)
    later = server.requests[n:]
    assert later and all(r.body["seed"] == 7 for r in later)
    for key in ("temperature", "max_tokens", "logprobs", "response_format", "n"):
        assert not any(key in r.body for r in later), key


@pytest.mark.parametrize(("param", "style", "config", "dropped", "extra_requests"), [
    ("seed", "openai", {"seed": 7}, ["seed"], 1),
    ("logprobs", "litellm", {}, ["logprobs"], 1),
    # json_schema refused, then json_object (it carries response_format too), then plain.
    ("response_format", "vllm", {}, ["response_format=json_schema", "response_format"], 2),
])
def test_a_refused_parameter_is_dropped_recorded_and_not_a_failure(
        project: Project, param: str, style: str, config: dict[str, object],
        dropped: list[str], extra_requests: int) -> None:
    messages: list[str] = []
    with FakeOpenAIServer(reject={param: style}) as server:
        summary = run_judge(project, fast_config(server.url, concurrency=1, **config),
                            progress=lambda _d, _t=None, m="": messages.append(m))
        assert (summary.status, summary.failed, summary.judged) == ("done", 0, 18)
        assert server.count(f"reject:{param}") == extra_requests
        assert server.count() == 18 + extra_requests == summary.requests
        first_ok = next(i for i, r in enumerate(server.requests) if r.fault == "ok")
        assert not any(param in r.body for r in server.requests[first_ok:])
    assert list(summary.dropped_params) == dropped
    info = judge_run_info(project, summary.run_id)
    assert info.params["dropped_params"] == dropped
    assert any(f"refused {dropped[0]}" in m for m in messages)
    with project.read() as s:
        rows = s.scalars(select(JudgeItemRow).where(JudgeItemRow.run_id == summary.run_id))
        assert {r.status for r in rows} == {"done"}


def test_a_resumed_run_starts_without_what_was_refused(project: Project) -> None:
    with FakeOpenAIServer(reject={"seed": "openai"}) as server:
        first = run_judge(project, fast_config(server.url, seed=3, concurrency=1), limit=1)
        assert first.dropped_params == ("seed",) and server.count("reject:seed") == 1
        again = run_judge(project, fast_config(server.url, seed=3), resume=first.run_id,
                          limit=None)
        assert again.status == "done" and server.count("reject:seed") == 1
        assert again.dropped_params == ("seed",)


def test_all_three_refused_at_once_with_concurrency(project: Project) -> None:
    reject = {"seed": "openai", "logprobs": "litellm", "response_format": "vllm"}
    with FakeOpenAIServer(reject=reject) as server:
        summary = run_judge(project, fast_config(server.url, seed=1, concurrency=4))
        assert (summary.status, summary.failed) == ("done", 0)
        assert set(summary.dropped_params) >= {"seed", "logprobs", "response_format"}
        tail = server.requests[-6:]
        assert all(r.fault == "ok" for r in tail)
        assert not any(k in r.body for r in tail for k in reject)


def test_cli_reports_dropped_parameters(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    with FakeOpenAIServer(reject={"seed": "openai"}) as server:
        rc = main(["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
                   "--seed", "5", "--limit", "1", "--concurrency", "1"])
    out, _err = capsys.readouterr()
    assert rc == 0 and "the endpoint refused seed" in out and "0 failed" in out


SENT = ["model", "messages", "temperature", "max_tokens", "seed", "logprobs",
        "response_format", "n"]


@pytest.mark.parametrize(("body", "message", "expected"), [
    ({"message": "Unsupported parameter: 'seed' is not supported with this model.",
      "param": "seed", "code": "unsupported_parameter"}, "Error code: 400", ("seed",)),
    ({"message": "Unsupported value: 'temperature' does not support 0 with this model. Only "
                 "the default (1) value is supported.", "param": "temperature",
      "code": "unsupported_value"}, "", ("temperature",)),
    ({"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                 "'max_completion_tokens' instead.", "param": "max_tokens",
      "code": "unsupported_parameter"}, "", ("max_tokens",)),
    ({"message": "litellm.UnsupportedParamsError: bedrock does not support parameters: "
                 "{'seed': 0}, for model=anthropic.claude. To drop these, set "
                 "`litellm.drop_params=True`", "param": None, "code": "400"}, "", ("seed",)),
    ({"object": "error", "message": "[{'type': 'extra_forbidden', 'loc': ('body', "
      "'top_logprobs'), 'msg': 'Extra inputs are not permitted'}]", "code": 400}, "",
     ("logprobs",)),
    ({"message": "1 validation error for ChatCompletionRequest\nresponse_format\n  extra "
                 "fields not permitted (type=value_error.extra)"}, "", ("response_format",)),
    ({"message": "This model's maximum context length is 8192 tokens.", "param": "messages",
      "code": "context_length_exceeded"}, "", ()),
    ({"message": "Invalid value for 'seed': must be an integer.", "param": "seed",
      "code": "invalid_value"}, "", ()),
    (None, "Error code: 400 - {'detail': 'logprobs is not supported by this backend'}",
     ("logprobs",)),
])
def test_refused_params_reads_each_servers_wording(body: object, message: str,
                                                   expected: tuple[str, ...]) -> None:
    assert refused_params(body, message, SENT) == expected


def test_refused_params_names_only_what_was_sent() -> None:
    body = {"message": "Unsupported parameter: 'seed'", "param": "seed",
            "code": "unsupported_parameter"}
    assert refused_params(body, "", ["model", "messages", "temperature"]) == ()
    assert refused_params({"message": "Unsupported parameter: 'model'", "param": "model",
                           "code": "unsupported_parameter"}, "", SENT) == ()


def test_cli_none_leaves_temperature_and_max_tokens_to_the_server(
        tmp_path: Path, server: FakeOpenAIServer) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    assert main(["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
                 "--limit", "1", "--temperature", "none", "--max-tokens", "None"]) == 0
    assert server.requests and not any("temperature" in r.body or "max_tokens" in r.body
                                       for r in server.requests)
