"""The study commands run the same use-cases as the screens (``services.study``): each command
is watched calling its service, so a check added there (readiness, change-sets) holds for both
front ends. ``lint-imports`` forbids the CLI to import ``medreview.study`` at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medreview.cli.main import main
from medreview.services import study as svc
from tests.study.helpers import grade_package, study_project


def _watch(monkeypatch: pytest.MonkeyPatch, calls: list[str], name: str) -> None:
    real: Callable[..., Any] = getattr(svc, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(svc, name, watched)


def test_assign_package_merge_and_adjudicate_call_the_services(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study_project(tmp_path / "study", n_cases=3, dicom=False).close()
    proj = str(tmp_path / "study")
    calls: list[str] = []
    for name in ("assign", "build_package", "seal_package", "merge_packages", "auto_gold",
                 "set_gold", "adjudication_queue"):
        _watch(monkeypatch, calls, name)

    def run(*argv: str) -> list[str]:
        calls.clear()
        assert main(list(argv)) == 0
        return list(calls)

    assert run("assign", proj, "--raters", "Dr X", "--seed", "1") == ["assign"]
    pkg = tmp_path / "x.mrpkg"
    assert run("package", proj, "--rater", "Dr X", "--out", str(pkg)) == ["build_package"]
    grade_package(pkg, tmp_path / "x", tmp_path / "unused.mrpkg")
    back = tmp_path / "x-back.mrpkg"
    assert run("package", str(tmp_path / "x"), "--seal", "--out", str(back)) == [
        "seal_package"]
    assert run("merge", proj, str(back)) == ["merge_packages"]
    assert run("adjudicate", proj, "--auto") == ["auto_gold", "adjudication_queue"]
    assert run("adjudicate", proj, "--set", "1", "overall", "2", "--by", "Dr Lead") == [
        "set_gold"]
