"""Header values checked against the pixel data: frame counts clamped, absurd geometry refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate

from medreview.errors import DicomError, ImportFailed
from medreview.imaging.bounds import MAX_FRAME_PIXELS, read_header
from medreview.imaging.dicom_series import scan_dicom_folder
from medreview.imaging.display import decode_frame, display_frame, frame_info
from medreview.imaging.slice_index import SliceIndex
from medreview.importers.media import parse_media_folder

LIE = "2147483647"


def _edit(tmp: Path, seed: str, name: str, **attrs: object) -> Path:
    ds = pydicom.dcmread(get_testdata_file(seed))
    for k, v in attrs.items():
        setattr(ds, k, v)
    out = tmp / name
    ds.save_as(out, enforce_file_format=False)
    return out


def _native_frames(tmp: Path, n_stored: int, declared: str, name: str = "native.dcm") -> Path:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    frames = np.stack([ds.pixel_array + k for k in range(n_stored)]).astype(ds.pixel_array.dtype)
    ds.PixelData = frames.tobytes()
    ds.NumberOfFrames = declared
    out = tmp / name
    ds.save_as(out, enforce_file_format=False)
    return out


def test_encapsulated_lie_is_clamped_to_the_fragments(tmp_path: Path) -> None:
    p = _edit(tmp_path, "MR_small_RLE.dcm", "rle.dcm", NumberOfFrames=LIE)
    assert read_header(p).frames() == 1
    assert frame_info(p).n_frames == 1
    assert display_frame(p, 0).shape == (64, 64)
    with pytest.raises(DicomError, match=r"frame 1 out of range .*holds 1"):
        display_frame(p, 1)
    with pytest.raises(DicomError, match="out of range"):
        decode_frame(p, 2**31 - 2)


def test_honest_multiframe_files_keep_their_count(tmp_path: Path) -> None:
    two = Path(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    assert frame_info(two).n_frames == 2
    lying = _edit(tmp_path, "SC_rgb_rle_2frame.dcm", "two.dcm", NumberOfFrames=LIE)
    assert frame_info(lying).n_frames == 2
    assert display_frame(lying, 1).shape == (100, 100, 3)


def test_basic_offset_table_bounds_the_frame_count(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    from pydicom.encaps import generate_frames

    frames = list(generate_frames(ds.PixelData, number_of_frames=2))
    ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=True)
    ds["PixelData"].is_undefined_length = True
    ds.NumberOfFrames = LIE
    p = tmp_path / "bot.dcm"
    ds.save_as(p, enforce_file_format=False)
    assert frame_info(p).n_frames == 2  # four fragments, but two offset table entries


def test_native_lie_is_clamped_to_the_bytes(tmp_path: Path) -> None:
    p = _native_frames(tmp_path, 3, LIE)
    assert frame_info(p).n_frames == 3
    assert read_header(p).frames() == 3
    first, last = decode_frame(p, 0), decode_frame(p, 2)
    assert int(last.pixels[0, 0]) == int(first.pixels[0, 0]) + 2
    with pytest.raises(DicomError, match="out of range"):
        display_frame(p, 3)


def test_native_data_short_of_one_frame_is_refused_by_name(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = ds.PixelData[:1000]
    p = tmp_path / "short.dcm"
    ds.save_as(p, enforce_file_format=False)
    with pytest.raises(DicomError, match="less than one frame") as err:
        frame_info(p)
    assert err.value.source == str(p)


@pytest.mark.parametrize("attrs, reason", [
    ({"Rows": 65535, "Columns": 65535}, "megapixels"),
    ({"SamplesPerPixel": 255}, "Samples per Pixel"),
    ({"BitsAllocated": 12}, "Bits Allocated"),
    ({"Rows": 65535, "Columns": 4097}, "megapixels"),
])
def test_absurd_geometry_is_refused_in_one_line(tmp_path: Path, attrs: dict, reason: str) -> None:
    for seed in ("CT_small.dcm", "MR_small_RLE.dcm"):
        p = _edit(tmp_path, seed, f"bad-{seed}", **attrs)
        for call in (frame_info, display_frame):
            with pytest.raises(DicomError, match=reason) as err:
                call(p)
            assert err.value.source == str(p) and "\n" not in str(err.value)
    assert MAX_FRAME_PIXELS < 65535 * 4097


def test_a_legal_large_geometry_is_not_refused_for_its_size(tmp_path: Path) -> None:
    # 65535 rows are legal; here the data then holds less than a frame, and that is the reason
    p = _edit(tmp_path, "CT_small.dcm", "tall.dcm", Rows=65535, Columns=2)
    with pytest.raises(DicomError, match="less than one frame"):
        frame_info(p)


def test_import_clamps_and_refuses_naming_the_file(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "case-a").mkdir(parents=True)
    _native_frames(media / "case-a", 2, LIE, "lying.dcm")
    records = list(parse_media_folder(media))
    assert [r.record.frame_count for r in records] == [2]

    bad = tmp_path / "bad"
    (bad / "case-b").mkdir(parents=True)
    # no .dcm suffix: still refused, because the scanner recognised a DICOM image
    _edit(bad / "case-b", "CT_small.dcm", "IMG0001", Rows=65535, Columns=65535)
    with pytest.raises(ImportFailed) as err:
        list(parse_media_folder(bad, strict_dicom=True))
    assert "IMG0001" in str(err.value) and "megapixels" in str(err.value)
    left_out: list[tuple[str, str]] = []  # default: left out, named, with the reason
    assert list(parse_media_folder(bad, left_out=left_out)) == []
    assert [(Path(f).name, "megapixels" in r) for f, r in left_out] == [("IMG0001", True)]
    scan = scan_dicom_folder(bad)
    assert [p.name for p, _ in scan.refused] == ["IMG0001"]


def test_slice_index_is_lazy_and_exact() -> None:
    idx = SliceIndex([1, 3, 0, 2])  # an unreadable file (0) keeps one slot
    assert len(idx) == 7
    assert list(idx) == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (3, 1)]
    assert idx[-1] == (3, 1) and idx.position(1, 2) == 3 and idx.position(3, 99) == 6
    with pytest.raises(IndexError):
        idx[7]
    huge = SliceIndex([2**31 - 1] * 1000)  # header-sized counts cost O(files), not O(frames)
    assert len(huge) == 1000 * (2**31 - 1)
    assert huge[len(huge) - 1] == (999, 2**31 - 2)
    assert huge[2**31] == (1, 1)
    assert len(SliceIndex()) == 0 and not SliceIndex()
