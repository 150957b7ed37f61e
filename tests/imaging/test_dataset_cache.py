"""Decode workers keep the file they read, so frames of a multi-frame file parse it once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from medreview.imaging import codecs, dataset_cache
from medreview.imaging.display import decode_frame
from medreview.imaging.reduced import decode_preview


def _multiframe() -> Path:
    from pydicom.data import get_testdata_file

    found = get_testdata_file("emri_small_jpeg_2k_lossless.dcm", download=False)
    assert found, "pydicom-data is not installed (test extra)"
    return Path(str(found))  # 10 frames, JPEG 2000 lossless


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []

    def read(path: Path, **kw: object):  # type: ignore[no-untyped-def]
        reads.append(Path(path))
        return codecs.read_dataset(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset_cache, "read_dataset", read)
    monkeypatch.setattr(dataset_cache, "_cache", type(dataset_cache._cache)())
    return reads


def test_off_by_default_every_decode_reads_the_file(counted: list[Path]) -> None:
    path = _multiframe()
    for i in range(3):
        decode_frame(path, i)
    assert len(counted) == 3


def test_frames_of_one_file_are_read_once_and_decode_the_same(
    counted: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "mf.dcm"
    shutil.copy(_multiframe(), path)
    plain = [decode_frame(path, i).pixels for i in range(10)]
    counted.clear()
    monkeypatch.setattr(dataset_cache, "_enabled", True)
    cached = [decode_frame(path, i).pixels for i in range(10)]
    cached += [decode_preview(path, i).pixels for i in range(2)]
    assert counted == [path]  # one parse for twelve decodes
    for a, b in zip(plain, cached[:10], strict=True):
        np.testing.assert_array_equal(a, b)
    # a changed file is read again
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    decode_frame(path, 0)
    assert counted == [path, path]


def test_bounded_by_entries_and_file_size(
    counted: list[Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dataset_cache, "_enabled", True)
    files = []
    for k in range(dataset_cache.MAX_ENTRIES + 2):
        p = tmp_path / f"f{k}.dcm"
        shutil.copy(_multiframe(), p)
        files.append(p)
        decode_frame(p, 0)
    assert len(dataset_cache._cache) == dataset_cache.MAX_ENTRIES
    monkeypatch.setattr(dataset_cache, "MAX_FILE_BYTES", 10)
    dataset_cache.clear()
    decode_frame(files[0], 0)
    decode_frame(files[0], 1)
    assert len(dataset_cache._cache) == 0 and counted[-2:] == [files[0], files[0]]
