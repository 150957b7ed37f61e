"""Where could a judge key end up (security-notes F10/6a)? A key put in the URL is refused
before anything is sent (never as Basic auth); a key from the environment that the server
echoes back stays out of the project files, stdout/stderr and the exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.judge.testing_server import FakeOpenAIServer
from medreview.services.judging import list_judge_runs
from medreview.storage.project import open_project
from tests.judge.conftest import build_project

KEY = "3f9a0c1b2d4e5f60718293a4b5c6d7e8"  # Azure-shaped: 32 hex, not "sk-..."


def _files_with(root: Path, needle: str) -> list[str]:
    return [str(f.relative_to(root)) for f in root.rglob("*")
            if f.is_file() and needle.encode() in f.read_bytes()]


@pytest.mark.parametrize("url", [
    "http://apikey:{key}@127.0.0.1:{port}/v1?api-key={key}",
    "http://apikey:{key}@127.0.0.1:{port}/v1",
    "http://127.0.0.1:{port}/v1?api-key={key}",
])
def test_a_key_in_the_url_is_refused_before_anything_is_sent(
        tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str],
        url: str) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    rc = main(["judge", str(path), "--base-url", url.format(key=KEY, port=server.port),
               "--model", "fake-judge", "--limit", "1"])
    out, err = capsys.readouterr()
    assert rc == 2 and server.count() == 0  # no request at all, so no Basic auth either
    assert KEY not in out + err and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "OPENAI_API_KEY" in lines[0] and "keyring" in lines[0]
    assert _files_with(path, KEY) == []
    with open_project(path) as project:
        assert list_judge_runs(project) == []


def test_an_echoed_env_key_stays_out_of_db_output_and_exports(
        tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    path = tmp_path / "proj"
    build_project(path).close()
    server.sticky.append(("", "echo_key"))  # every reply: 401 "... Bearer <key>"
    rc = main(["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
               "--limit", "2", "--max-retries", "0"])
    assert rc == 1 and server.count() == 6
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    exp = tmp_path / "exp"
    assert main(["export", str(path), str(exp), "--kind", "tables", "--kind", "audit",
                 "--format", "csv", "--real-names"]) == 0
    out, err = capsys.readouterr()
    assert "failed: output" in out and "[redacted]" in out  # the echo is shown, redacted
    assert KEY not in out + err
    assert _files_with(path, KEY) == [] and _files_with(exp, KEY) == []
    assert any(f.is_file() for f in exp.rglob("*"))  # the export did write something
