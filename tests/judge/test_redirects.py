"""Consent that holds across redirects (security-notes F5/6c): a local endpoint answering 307
to another origin gets nothing through; the run ends with one line and stays resumable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.errors import JudgeError
from medreview.judge.client import origin_guard
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judging import judge_run_info, list_judge_runs, run_judge
from medreview.services.projects import set_consent
from medreview.storage.models import JudgeItemRow
from medreview.storage.project import Project
from tests.judge.conftest import build_project, fast_config
from tests.judge.redirect_servers import CountingServer, RedirectServer


def _refusal(err: JudgeError, target: str) -> None:
    text = err.message
    assert "\n" not in text
    assert f"redirect to {target}/v1/chat/completions refused: the judge only talks to the " \
           "configured endpoint" in text
    assert "--resume" in text


@pytest.mark.parametrize("consent", [False, True])
def test_redirect_to_another_host_reaches_nothing(project: Project, consent: bool) -> None:
    if consent:  # consent is about where data may go; a redirect is never followed off-origin
        set_consent(project, True, by="lead")
    with CountingServer() as target:
        # 2130706433 is 127.0.0.1 as an integer: the target is this machine, so the test
        # needs no network, yet the redirect names another origin.
        far = f"http://2130706433:{target.port}"
        with RedirectServer(far) as hop:
            url = f"http://127.0.0.1:{hop.port}/v1"
            with pytest.raises(JudgeError) as err:
                run_judge(project, fast_config(url, max_retries=0, concurrency=2))
            _refusal(err.value, far)
            assert hop.seen >= 1 and target.hits == []
            # Control: the same redirect, followed by a plain client, does reach the target.
            httpx.post(f"{url}/chat/completions", json={"messages": ["case text"]},
                       follow_redirects=True)
            assert len(target.hits) == 1 and b"case text" in target.hits[0][1]
    run = list_judge_runs(project)[0]
    assert run.status == "incomplete" and run.resumable and run.n_done == 0
    with project.read() as s:
        assert s.scalars(select(JudgeItemRow).where(JudgeItemRow.status == "done")).all() == []


def test_redirect_to_another_local_port_is_refused_too(project: Project,
                                                       server: FakeOpenAIServer) -> None:
    """Origin is scheme + host + port: a local hop to another server is refused as well."""
    far = f"http://localhost:{server.port}"
    with RedirectServer(far) as hop, pytest.raises(JudgeError) as err:
        run_judge(project, fast_config(f"http://127.0.0.1:{hop.port}/v1"))
    _refusal(err.value, far)
    assert server.count() == 0


def test_the_run_resumes_at_the_real_endpoint_after_a_refusal(project: Project,
                                                              server: FakeOpenAIServer) -> None:
    with RedirectServer(f"http://localhost:{server.port}") as hop:
        url = f"http://127.0.0.1:{hop.port}/v1"
        with pytest.raises(JudgeError):
            run_judge(project, fast_config(url))
        # The fake server answers at the stored URL's origin after all (same --base-url).
        hop.__exit__()
        run_id = list_judge_runs(project)[0].run_id
        with FakeOpenAIServer(port=hop.port) as again:
            # A generous timeout: on a busy machine a 0.5 s timeout retries a slow reply, and
            # the count below is about items sent once, not about timeouts.
            summary = run_judge(project, fast_config(url, timeout_s=30), resume=run_id)
            assert summary.status == "done" and again.count() == 18
    assert judge_run_info(project, run_id).status == "done" and server.count() == 0


def test_origin_guard_allows_the_configured_origin_only() -> None:
    guard = origin_guard("http://127.0.0.1:8000/v1")
    guard(httpx.Request("POST", "http://127.0.0.1:8000/v1/chat/completions"))
    guard(httpx.Request("POST", "http://127.0.0.1:8000/other/path"))  # same origin: followed
    for other in ("http://127.0.0.1:8001/v1", "https://127.0.0.1:8000/v1",
                  "http://localhost:8000/v1", "http://evil.example/v1"):
        with pytest.raises(JudgeError, match="refused"):
            guard(httpx.Request("POST", other))
    default_port = origin_guard("https://api.example.org/v1")
    default_port(httpx.Request("POST", "https://api.example.org:443/v1/x"))


def test_cli_prints_one_line_and_no_traceback(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    with CountingServer() as target:
        far = f"http://2130706433:{target.port}"
        with RedirectServer(far) as hop:
            rc = main(["judge", str(path), "--base-url", f"http://127.0.0.1:{hop.port}/v1",
                       "--model", "fake-judge", "--max-retries", "0", "--limit", "1"])
        assert target.hits == []
    out, err = capsys.readouterr()
    assert rc == 2 and "Traceback" not in err + out
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and "refused: the judge only talks to the configured endpoint" in \
        lines[0] and "--resume 1" in lines[0]
