"""The real-scanner DICOM corpus, built once per session from the test extra's packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dicom_corpus.corpus import build_corpus


@pytest.fixture(scope="session")
def dicom_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("dicom-corpus"))
