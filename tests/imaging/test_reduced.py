"""Reduced-resolution JPEG 2000 previews (``medreview.imaging.reduced``) on real files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from medreview.imaging.display import decode_frame
from medreview.imaging.frames import DecodedFrame
from medreview.imaging.measure import angle, length
from medreview.imaging.reduced import (
    decode_preview,
    decomposition_levels,
    preview_level,
    reduced_supported,
)
from tests.imaging.conftest import bundled


def store(name: str) -> Path:
    """A pydicom-data file (the test extra), found offline."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name, download=False)
    assert found, f"pydicom-data ({name}) is not installed (test extra)"
    return Path(str(found))


def block_mean(full: np.ndarray, scale: int, shape: tuple[int, ...]) -> np.ndarray:
    """``full`` averaged over scale x scale blocks (edge-padded to ``shape`` * scale)."""
    r, c = shape[:2]
    x = full.astype(np.float64)
    x = np.pad(x, ((0, r * scale - x.shape[0]), (0, c * scale - x.shape[1])), mode="edge")
    out: np.ndarray = x.reshape(r, scale, c, scale).mean(axis=(1, 3))
    return out


# (file, expected scale): 512x512 CT (lossless, lossy, Pixel Representation mismatch with
# the codestream), 1024x1024 MR
CASES = [
    ("693_J2KR.dcm", 2),
    ("693_J2KI.dcm", 2),
    ("J2K_pixelrep_mismatch.dcm", 2),
    ("MR2_J2KR.dcm", 4),
]


def _path(name: str) -> Path:
    try:
        return bundled(name)
    except AssertionError:
        return store(name)


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_preview_matches_a_downsampled_full_decode(name: str, scale: int) -> None:
    path = _path(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = decode_frame(path)
        preview = decode_preview(path)
    assert preview.scale == scale and preview.is_reduced
    rows, cols = full.pixels.shape
    assert preview.pixels.shape == (-(-rows // scale), -(-cols // scale))
    assert preview.pixels.dtype == full.pixels.dtype  # same stored-value kind: same LUT
    assert preview.full_shape == (rows, cols)
    down = block_mean(full.pixels, scale, preview.pixels.shape)
    got = preview.pixels.astype(np.float64)
    span = float(full.pixels.max()) - float(full.pixels.min())
    # the J2K low-pass band is a smoothed block mean: close everywhere but at sharp edges
    assert np.median(np.abs(got - down)) / span < 0.01
    assert np.corrcoef(got.ravel(), down.ravel())[0, 1] > 0.95
    # displayed through the same window, the images agree to a few grey levels
    shown = preview.render(full.effective_window())
    shown_down = block_mean(full.render(full.effective_window()), scale, shown.shape)
    assert np.median(np.abs(shown.astype(np.float64) - shown_down)) <= 3.0
    # and the header facts a reader relies on are the full image's
    assert preview.info == full.info
    assert preview.effective_window() == full.effective_window()


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",  # uncompressed: no preview, the full decode
        "emri_small_jpeg_2k_lossless.dcm",  # 64x64 J2K: too small to be worth one
        "US1_J2KR.dcm",  # colour J2K
        "RG1_J2KR.dcm",  # 1955x1841 CR that Pillow's J2K reader refuses: the full decode
    ],
)
def test_no_cheaper_preview_means_the_full_decode(name: str) -> None:
    path = _path(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preview = decode_preview(path)
        full = decode_frame(path)
    assert preview.scale == 1 and not preview.is_reduced
    np.testing.assert_array_equal(preview.pixels, full.pixels)


def test_measurements_are_identical_on_preview_and_full() -> None:
    path = _path("693_J2KR.dcm")
    full, preview = decode_frame(path), decode_preview(path)
    spacing_f, spacing_p = full.info.pixel_spacing, preview.info.pixel_spacing
    assert spacing_f == spacing_p and spacing_f is not None
    a, b, c = (100.5, 120.5), (300.5, 260.5), (400.5, 100.5)
    assert length(a, b, spacing_p) == length(a, b, spacing_f)
    assert angle(a, b, c, spacing_p) == angle(a, b, c, spacing_f)
    # the cursor reads full-resolution coordinates on both: the preview answers from the
    # pixel covering them
    assert preview.grey is not None
    expected = float(preview.grey.modality(np.asarray([preview.pixels[150, 101]]))[0])
    assert preview.value_at(301, 203) == expected
    rows, cols = full.full_shape
    assert preview.value_at(rows, 0) is None and preview.value_at(0, cols) is None


def test_header_size_that_disagrees_with_the_codestream_gets_the_full_path(tmp_path: Path) -> None:
    ds = dcmread(_path("693_J2KR.dcm"))
    ds.Rows = 1024  # hostile header: the codestream is 512x512
    out = tmp_path / "lie.dcm"
    ds.save_as(out)
    outcome: list[object] = []
    for fn in (decode_frame, decode_preview):
        try:
            frame = fn(out)
            outcome.append(("ok", frame.scale, frame.pixels.shape))
        except Exception as exc:  # the same refusal from both
            outcome.append(("error", type(exc).__name__))
    assert outcome[0] == outcome[1]


def test_decomposition_levels_are_read_with_a_bounded_walk() -> None:
    from pydicom.encaps import generate_frames

    ds = dcmread(_path("693_J2KR.dcm"))
    stream = next(generate_frames(ds.PixelData, number_of_frames=1))
    assert decomposition_levels(stream) == 5
    assert decomposition_levels(b"") is None
    assert decomposition_levels(stream[:30]) is None  # truncated in the main header
    assert decomposition_levels(b"\x00\x00" + stream[2:]) is None  # no SOC
    # thousands of tiny marker segments before COD: given up on, not walked
    junk = b"\xff\x4f" + b"\xff\x64\x00\x02" * 100_000 + stream[2:]
    assert decomposition_levels(junk) is None
    assert decomposition_levels(b"\xff\x4f\xff\x52\x00\x01") is None  # length < 2


def test_preview_level_and_support() -> None:
    assert preview_level(512, 512) == 1
    assert preview_level(1024, 1024) == 2
    assert preview_level(4096, 3328) == 3  # capped
    assert preview_level(300, 200) == 0
    j2k, native = "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.1"
    assert reduced_supported(j2k, 512, 512)
    assert not reduced_supported(native, 4096, 4096)
    assert not reduced_supported(j2k, 256, 256)
    assert not reduced_supported(j2k, 512, 512, samples=3)


def test_preview_frames_are_plain_data_for_worker_processes() -> None:
    import pickle

    preview = decode_preview(_path("693_J2KR.dcm"))
    back = pickle.loads(pickle.dumps(preview))
    assert isinstance(back, DecodedFrame) and back.scale == preview.scale
    np.testing.assert_array_equal(back.pixels, preview.pixels)
