"""The study commands end to end through ``medreview.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.cli.main import main
from medreview.storage.project import Project
from tests.study.helpers import grade_package


def test_assign_package_merge_adjudicate_commands(study: Project, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    proj = str(study.path)
    assert main(["assign", proj, "--raters", "Dr X,Dr Y", "--per-output", "2",
                 "--overlap", "0.3", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "new raters: Dr X, Dr Y" in out and "9 outputs have two or more raters" in out
    assert main(["package", proj, "--rater", "Dr X", "--out", str(tmp_path / "x.mrpkg")]) == 0
    assert main(["package", proj, "--rater", "Dr Nobody", "--out", str(tmp_path / "n")]) == 2
    assert "no rater with this name" in capsys.readouterr().err
    graded = grade_package(tmp_path / "x.mrpkg", tmp_path / "x", tmp_path / "unused.mrpkg")
    assert main(["package", str(tmp_path / "x"), "--seal", "--out",
                 str(tmp_path / "x-ret.mrpkg")]) == 0
    assert graded.is_file()
    assert main(["merge", proj, str(tmp_path / "x-ret.mrpkg")]) == 0
    assert "new revision(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.mrpkg"
    bad.write_bytes((tmp_path / "x-ret.mrpkg").read_bytes()[:300])
    assert main(["merge", proj, str(bad)]) == 2
    assert "damaged or truncated" in capsys.readouterr().err
    assert main(["adjudicate", proj, "--auto", "--json"]) == 0
    queue = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert isinstance(queue, list)
    assert main(["adjudicate", proj, "--set", "1", "overall", "3", "--by", "Dr Lead",
                 "--rationale", "checked", "--history", str(tmp_path / "audit")]) == 0
    assert "gold output 1 overall = 3" in capsys.readouterr().out
    assert main(["adjudicate", proj, "--history", str(tmp_path / "audit")]) == 0
    lines = (tmp_path / "audit" / "gold_history.jsonl").read_text().splitlines()
    assert any(json.loads(x)["provenance"] == "adjudicated" for x in lines)
    assert main(["export", proj, str(tmp_path / "exp"), "--kind", "training",
                 "--kind", "audit", "--format", "jsonl"]) == 0
    assert (tmp_path / "exp" / "sft.train.jsonl").is_file()
    assert (tmp_path / "exp" / "audit" / "judgment_history.jsonl").is_file()
