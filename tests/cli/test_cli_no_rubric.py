"""The command line refuses assign, package and judge on a project without a rubric, in one
line saying how to add one (the rule of ``services/readiness.py``), and goes ahead after."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from tests.services.test_readiness import one_line_about_rubric, write_cases


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    _out, err = capsys.readouterr()
    return code, err


def test_the_command_line_refuses_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "study"
    assert run(capsys, "init", proj)[0] == 0
    assert run(capsys, "import", proj, write_cases(tmp_path))[0] == 0
    code, err = run(capsys, "assign", proj, "--raters", "Dr A,Dr B", "--per-output", "1")
    assert code == 2
    one_line_about_rubric(err, "assigning raters")
    code, err = run(capsys, "package", proj, "--rater", "Dr A", "--out", tmp_path / "a.mrpkg")
    assert code == 2
    one_line_about_rubric(err, "a rater package")
    assert not (tmp_path / "a.mrpkg").exists()
    code, err = run(capsys, "judge", proj, "--base-url", "http://127.0.0.1:9/v1",
                    "--model", "fake-judge")
    assert code == 2
    one_line_about_rubric(err, "a judge run")
    # the way the message names works
    assert run(capsys, "import", proj, "--rubric", "quality_harm")[0] == 0
    assert run(capsys, "assign", proj, "--raters", "Dr A,Dr B", "--per-output", "1")[0] == 0
