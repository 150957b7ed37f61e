"""Deflated Explicit VR Little Endian: a real file reads as pydicom reads it; a decompression
bomb (a small file that inflates to a gigabyte) is refused with one line, at import and at
display, in bounded memory and time (measured in a child process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info

from medreview.errors import DicomError
from medreview.imaging.bounds import read_header
from medreview.imaging.codecs import read_dataset
from medreview.imaging.deflate import INFLATE_FLOOR, inflate_cap
from medreview.imaging.dicom_series import scan_dicom_folder
from medreview.imaging.display import decode_frame

REPO = Path(__file__).resolve().parents[2]
BOMB_MB = 1024  # what the bomb inflates to


def real_deflated() -> Path:
    import pynetdicom

    folder = Path(pynetdicom.__file__).parent / "tests" / "dicom_files"
    path = folder / "SCImageStorage_Deflated.dcm"
    assert path.is_file(), "pynetdicom no longer ships its deflated secondary capture"
    return path


def _zeros_stream(mebibytes: int) -> bytes:
    """A raw deflate stream of ``mebibytes`` MiB of zeros, built without compressing them all:
    once the window is full of zeros every flushed MiB compresses to the same bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    first = c.compress(chunk) + c.flush(zlib.Z_SYNC_FLUSH)
    steady = c.compress(chunk) + c.flush(zlib.Z_SYNC_FLUSH)
    return first + steady * (mebibytes - 1) + c.flush()


def write_bomb(path: Path, mebibytes: int = BOMB_MB) -> Path:
    """The real deflated file's header, then a Pixel Data element of ``mebibytes`` MiB of
    zeros, all in one deflate stream (the header part as pydicom writes it)."""
    src = pydicom.dcmread(real_deflated())
    del src.PixelData
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    write_dataset(head, src)
    size = mebibytes << 20
    element = b"\xe0\x7f\x10\x00OB\x00\x00" + size.to_bytes(4, "little")
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    prefix = c.compress(head.getvalue() + element) + c.flush(zlib.Z_SYNC_FLUSH)
    # A sync flush ends on a byte boundary with no final block, so the zeros' blocks may follow
    # (raw deflate is a plain sequence of blocks; theirs refer only to their own bytes).
    body = _zeros_stream(mebibytes)
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, src.file_meta, enforce_standard=True)
    path.write_bytes(b"\x00" * 128 + b"DICM" + meta.getvalue() + prefix + body)
    return path


def test_bomb_construction_is_what_it_claims(tmp_path: Path) -> None:
    small = write_bomb(tmp_path / "small.dcm", mebibytes=4)
    ds = pydicom.dcmread(small)  # pydicom's own (unbounded) reader accepts the small one
    assert len(ds.PixelData) == 4 << 20 and not any(ds.PixelData[:4096])
    assert str(ds.file_meta.TransferSyntaxUID) == pydicom.uid.DeflatedExplicitVRLittleEndian


def test_real_deflated_file_reads_as_pydicom_reads_it() -> None:
    path = real_deflated()
    ref = pydicom.dcmread(path)
    ds = read_dataset(path)
    assert ds == ref and ds.file_meta == ref.file_meta
    assert ds.filename == ref.filename
    head = read_dataset(path, headers_only=True)
    assert "PixelData" not in head and head.SOPInstanceUID == ref.SOPInstanceUID
    assert read_header(path).frames() == 1
    frame = decode_frame(path, 0)
    assert np.array_equal(frame.pixels, ref.pixel_array)


def test_bomb_refused_at_import_and_display(tmp_path: Path) -> None:
    folder = tmp_path / "case1"
    folder.mkdir()
    bomb = write_bomb(folder / "bomb.dcm")
    assert bomb.stat().st_size < 2 << 20  # about 1 MB on disk
    result = scan_dicom_folder(folder, check_display=True)
    assert result.series == []
    ((path, reason),) = result.skipped
    assert Path(path).name == "bomb.dcm"
    assert "decompression bomb" in reason and "\n" not in reason
    with pytest.raises(DicomError, match="decompression bomb") as exc:
        decode_frame(bomb, 0)
    assert exc.value.source == str(bomb)
    assert "\n" not in str(exc.value)


def test_truncated_and_corrupt_streams_are_one_line(tmp_path: Path) -> None:
    data = real_deflated().read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 600])
    with pytest.raises(DicomError, match="truncated"):
        read_dataset(cut)
    bad = tmp_path / "bad.dcm"
    meta_end = len(data) - 4000
    bad.write_bytes(data[:meta_end] + bytes(b ^ 0x5A for b in data[meta_end:]))
    with pytest.raises(DicomError, match="deflated dataset is corrupt"):
        read_dataset(bad)


def test_cap_grows_with_the_file_within_its_bounds() -> None:
    assert inflate_cap(4637) == INFLATE_FLOOR
    assert inflate_cap(10 << 20) == 640 << 20
    assert inflate_cap(1 << 40) == 1 << 30


_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from medreview.errors import DicomError
    from medreview.imaging.codecs import read_dataset
    import medreview.imaging.deflate, pydicom.filereader  # imported before the baseline
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    try:
        read_dataset(Path(sys.argv[1]), headers_only=sys.argv[2] == "headers")
        outcome = "read"
    except DicomError as exc:
        outcome = str(exc)
    print(json.dumps({"outcome": outcome, "seconds": time.monotonic() - start,
                      "base_kb": base,
                      "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


@pytest.mark.parametrize("mode", ["full", "headers"])
def test_bomb_memory_and_time_are_bounded(tmp_path: Path, mode: str) -> None:
    bomb = write_bomb(tmp_path / "bomb.dcm")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(bomb), mode], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert "decompression bomb" in got["outcome"] and str(bomb) in got["outcome"]
    grown_mb = (got["peak_kb"] - got["base_kb"]) / 1024
    # the cap for a 1 MB file is 64 MB of output (plus bytearray slack), far from the 2 GB
    # pydicom's dcmread reaches on it (zlib.decompress's 1 GB, then copied)
    assert grown_mb < 1.5 * INFLATE_FLOOR / (1 << 20), got
    assert got["seconds"] < 20, got
