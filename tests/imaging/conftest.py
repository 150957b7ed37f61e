"""Shared fixtures for imaging tests: pydicom's bundled files (never the download list)."""

from __future__ import annotations

from pathlib import Path

import pytest


def bundled_dir() -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files"


def bundled(name: str) -> Path:
    path = bundled_dir() / name
    assert path.is_file(), f"pydicom no longer bundles {name}"
    return path


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo material, written once per session."""
    from medreview.imaging.demo_series import write_demo_dicom

    out = tmp_path_factory.mktemp("demo")
    write_demo_dicom(out)
    return out
