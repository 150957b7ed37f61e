"""Fixtures: a study project with three models per case and PHI-laden DICOM on one case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medreview.storage.project import Project
from tests.study.helpers import study_project


@pytest.fixture
def study(tmp_path: Path) -> Iterator[Project]:
    project = study_project(tmp_path / "study")
    yield project
    project.close()
