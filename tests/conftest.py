"""Shared fixtures: tests never see the user's folders, keyring or settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("medreview-home")
    monkeypatch.setenv("MEDREVIEW_HOME", str(home))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    return tmp_path / "proj"


@pytest.fixture
def empty_project(project_path: Path) -> Iterator[object]:
    from medreview.storage.project import create_project

    project = create_project(project_path, "test project")
    yield project
    project.close()


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo project, built once per test session. Tests that change it work on a
    copy (``demo_copy``)."""
    from medreview.demo.build import build_demo_project

    return build_demo_project(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture
def demo_copy(demo_path: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(demo_path, tmp_path / "demo"))
