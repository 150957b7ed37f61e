"""Fixtures of the importer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importers.helpers import DATA


@pytest.fixture
def data_dir() -> Path:
    return DATA
