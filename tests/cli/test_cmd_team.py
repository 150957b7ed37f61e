"""``medreview team`` without a PostgreSQL server: refusals in one line, nothing touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def test_a_project_folder_has_no_team_roles(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["team", "add-rater", str(tmp_path), "Dr A"]) == 2
    assert "only for a project on a PostgreSQL server" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_one_line_without_the_password(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["team", "list", "postgresql://lead:Secr3t-pw@127.0.0.1:1/study"]) == 2
    line = _one_line(capsys)
    assert "cannot open the database" in line and "Secr3t-pw" not in line


def test_team_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["team"])
    assert exc.value.code == 2
    assert "ACTION" in capsys.readouterr().err
