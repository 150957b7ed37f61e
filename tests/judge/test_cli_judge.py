"""``medreview judge`` against the fake server: summary on stdout, progress on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.judge.testing_server import FakeOpenAIServer
from tests.judge.conftest import build_project


def test_cli_judges_and_resumes(tmp_path: Path, server: FakeOpenAIServer,
                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "proj"
    build_project(path).close()
    args = ["judge", str(path), "--base-url", server.url, "--model", "fake-judge",
            "--concurrency", "2", "--limit", "2"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "6 judged, 0 cached, 0 failed" in out and "requests: 6" in out
    assert "judge" in err  # the progress bar
    assert main([*args, "--resume", "1"]) == 0
    out, _err = capsys.readouterr()
    assert "6 already done, 0 judged" in out and server.count() == 6
    assert main(["judge", str(path), "--base-url", "https://judge.example.org/v1",
                 "--model", "m"]) == 2
    _out, err = capsys.readouterr()
    assert "consent" in err and server.count() == 6
