"""Shared fixtures: tests never see the user's folders, keyring or settings.

``MEDREVIEW_TEST_BACKEND=postgres`` (set by `.ci/postgres.sh`) puts every project the tests
name by folder on a fresh PostgreSQL database instead (tests/pg_backend.py says how); tests
marked ``sqlite_only(reason=…)`` are then deselected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_backend import ServerProjects, deselect_sqlite_only, report_counts, server_projects

__all__ = ["server_projects"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselect_sqlite_only(config, items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report_counts(terminalreporter)


@pytest.fixture(scope="module", autouse=True)
def _backend(server_projects: ServerProjects | None) -> Iterator[None]:
    """On the PostgreSQL backend, the databases a test module made (its module-scoped
    fixtures' too) go when it ends."""
    yield
    if server_projects is not None:
        server_projects.end_module()


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
def demo_path(
    tmp_path_factory: pytest.TempPathFactory, server_projects: ServerProjects | None
) -> Path:
    """The bundled demo project, built once per test session. Tests that change it work on a
    copy (``demo_copy``)."""
    from medreview.demo.build import build_demo_project

    path = build_demo_project(tmp_path_factory.mktemp("demo") / "demo")
    if server_projects is not None:
        server_projects.keep(path)
    return path


@pytest.fixture
def demo_copy(
    demo_path: Path, tmp_path: Path, server_projects: ServerProjects | None
) -> Path:
    import shutil

    if server_projects is not None:
        return server_projects.clone(demo_path, tmp_path / "demo")
    return Path(shutil.copytree(demo_path, tmp_path / "demo"))
