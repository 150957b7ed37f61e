"""``medreview team pool PROJECT``: the pool's ratings per output and the lease length, set
and shown; bad values are one line and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.services import team
from medreview.services.projects import open_project
from medreview.services.sample_project import build_sample_project


def _run(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    assert main(list(argv)) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out if code == 0 else captured.err


def test_pool_is_set_shown_and_cleared(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    build_sample_project(tmp_path / "p", n_cases=1, outputs_per_case=2,
                         with_dicom=False)[0].close()
    where = str(tmp_path / "p")
    assert "pool: none" in _run(capsys, "team", "pool", where)
    out = _run(capsys, "team", "pool", where, "--needed", "2", "--lease-seconds", "90")
    assert "2 finished rating(s) per output" in out and "90 s" in out
    out = _run(capsys, "team", "pool", where, "--lease-seconds", "45")  # the pool stays
    assert "2 finished rating(s)" in out and "45 s" in out
    for bad in (["--needed", "0"], ["--lease-seconds", "nan"], ["--lease-seconds", "1e9"],
                ["--needed", "2", "--no-pool"]):
        err = _run(capsys, "team", "pool", where, *bad, code=2)
        assert len(err.strip().splitlines()) == 1, err
    with open_project(where) as project:
        assert team.lease_settings(project) == team.LeaseSettings(seconds=45.0, needed=2)
    assert "pool: none" in _run(capsys, "team", "pool", where, "--no-pool")
    with open_project(where) as project:
        assert team.lease_settings(project).needed is None
