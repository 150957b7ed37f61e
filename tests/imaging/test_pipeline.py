"""VOI/Modality LUT sequences, VOI functions, polarity and raster images (synthetic files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medreview.errors import DicomError
from medreview.imaging.display import decode_frame, display_frame, frame_info, modality_frame
from medreview.imaging.pipeline import Window, window_unit
from tests.imaging.conftest import bundled
from tests.imaging.test_display_vs_pydicom import reference_display


def _lut_item(n: int, first: int, bits: int, data: np.ndarray) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, "US", [n, first, bits])  # LUTDescriptor
    item.add_new(0x00283006, "US", [int(v) for v in data])  # LUTData
    return item


def _assert_matches(path: Path, window: tuple[float, float] | None = None) -> np.ndarray:
    got = display_frame(path, 0, window=window)
    exp = reference_display(path, 0, window=window)
    diff = np.abs(got.astype(int) - exp.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
    return got


def test_voi_lut_sequence_is_preferred_and_matches_pydicom(tmp_path: Path) -> None:
    ds = dcmread(bundled("MR_small.dcm"))
    ramp = np.sqrt(np.linspace(0, 1, 2048)) * 4095  # a non-linear, 12-bit VOI LUT
    ds.VOILUTSequence = Sequence([_lut_item(2048, 0, 12, ramp.astype(int))])
    path = tmp_path / "voi.dcm"
    ds.save_as(path)
    got = _assert_matches(path)
    assert not np.array_equal(got, display_frame(bundled("MR_small.dcm")))
    # an explicit window still overrides the LUT
    _assert_matches(path, window=(600.0, 200.0))


def test_modality_lut_sequence_feeds_windowing(tmp_path: Path) -> None:
    ds = dcmread(bundled("CT_small.dcm"))
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.ModalityLUTSequence = Sequence([_lut_item(4096, 0, 16, np.arange(4096) * 3)])
    ds.WindowCenter, ds.WindowWidth = 2000, 3000
    path = tmp_path / "mlut.dcm"
    ds.save_as(path)
    _assert_matches(path)
    stored = ds.pixel_array
    np.testing.assert_array_equal(modality_frame(path), np.clip(stored, 0, 4095) * 3.0)


@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
def test_voi_functions_match_pydicom(tmp_path: Path, function: str) -> None:
    ds = dcmread(bundled("MR_small.dcm"))
    ds.VOILUTFunction = function
    path = tmp_path / f"{function}.dcm"
    ds.save_as(path)
    got = _assert_matches(path)
    assert not np.array_equal(got, display_frame(bundled("MR_small.dcm")))


def test_linear_window_formula_edges() -> None:
    x = np.array([-1000.0, 39.0, 39.5, 40.0, 1000.0])
    t = window_unit(x, Window(40, 1), "LINEAR")  # width 1: a hard threshold at c - 0.5
    assert list(t) == [0, 0, 0, 1, 1]
    t = window_unit(np.array([-160.0, 40.0, 240.0]), Window(40, 400), "LINEAR_EXACT")
    np.testing.assert_allclose(t, [0.0, 0.5, 1.0])


def test_presentation_lut_inverse_and_monochrome1(tmp_path: Path) -> None:
    plain = display_frame(bundled("MR_small.dcm"))
    ds = dcmread(bundled("MR_small.dcm"))
    ds.PresentationLUTShape = "INVERSE"
    inv = tmp_path / "inverse.dcm"
    ds.save_as(inv)
    np.testing.assert_array_equal(display_frame(inv), 255 - plain)
    ds = dcmread(bundled("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = tmp_path / "mono1.dcm"
    ds.save_as(mono1)
    np.testing.assert_array_equal(display_frame(mono1), 255 - plain)
    # the viewer's invert toggle flips it back
    np.testing.assert_array_equal(decode_frame(mono1).render(invert=True), plain)


def test_lut_and_direct_paths_agree() -> None:
    frame = decode_frame(bundled("CT_small.dcm"))
    assert frame.grey is not None
    for window in (None, Window(40, 400), Window(-600, 1500), Window(300, 1)):
        via_lut = frame.render(window)
        direct = frame.grey.to_display(frame.pixels, window=window, auto=frame.value_range)
        np.testing.assert_array_equal(via_lut, direct)


def test_multiframe_frames_differ_and_range_is_checked() -> None:
    path = bundled("examples_ybr_color.dcm")
    info = frame_info(path)
    assert info.n_frames == 30 and info.is_colour
    first, last = display_frame(path, 0), display_frame(path, 29)
    assert first.shape == (240, 320, 3) and not np.array_equal(first, last)
    with pytest.raises(DicomError, match="frame 30 out of range"):
        display_frame(path, 30)


def test_png_and_jpeg_through_the_same_entry_point(tmp_path: Path) -> None:
    from PIL import Image

    grey = (np.arange(64 * 32) % 256).astype(np.uint8).reshape(64, 32)
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_array_equal(display_frame(tmp_path / "g.png"), grey)
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    out = display_frame(tmp_path / "c.jpg")
    assert out.shape == (20, 30, 3) and abs(int(out[..., 0].mean()) - 200) <= 2
    info = frame_info(tmp_path / "c.jpg")
    assert (info.rows, info.cols, info.kind, info.is_colour) == (20, 30, "image", True)
    wide = (np.arange(100, dtype=np.uint16) * 600).reshape(10, 10)
    Image.fromarray(wide).save(tmp_path / "w.png")
    out16 = display_frame(tmp_path / "w.png")
    assert out16[0, 0] == 0 and out16[-1, -1] == round(59400 / 65535 * 255)


def test_corrupt_files_raise_dicom_error_naming_the_file(tmp_path: Path) -> None:
    good = bundled("CT_small.dcm").read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(good[: len(good) // 2])
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4)
    text = tmp_path / "notes.dcm"
    text.write_text("this is not an image")
    bad_png = tmp_path / "broken.png"
    bad_png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    for path in (truncated, garbage, text, bad_png, tmp_path / "missing.dcm"):
        with pytest.raises(DicomError) as err:
            display_frame(path)
        assert err.value.source == str(path)
        assert err.value.reason
    ds = dcmread(bundled("JPEG2000.dcm"))
    ds.PixelData = ds.PixelData[:40] + b"\x00" * 40  # codestream destroyed, framing kept
    broken = tmp_path / "broken_j2k.dcm"
    ds.save_as(broken)
    with pytest.raises(DicomError, match="cannot decode pixel data with pylibjpeg"):
        display_frame(broken)


def test_unsupported_syntax_is_named(tmp_path: Path) -> None:
    ds = dcmread(bundled("CT_small.dcm"))
    from pydicom.encaps import encapsulate

    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2
    ds.PixelData = encapsulate([b"\x00" * 64])
    path = tmp_path / "mpeg.dcm"
    ds.save_as(path, enforce_file_format=False)
    with pytest.raises(DicomError, match="MPEG2"):
        display_frame(path)


def test_frame_voi_function_comes_from_the_functional_group() -> None:
    """Enhanced objects put VOI LUT Function in the Frame VOI LUT macro, per frame."""
    from pydicom.data import get_testdata_file

    from medreview.imaging.pipeline import pipeline_from_dataset

    ds = dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    shared = ds.SharedFunctionalGroupsSequence[0].FrameVOILUTSequence[0]
    assert pipeline_from_dataset(ds, 0).voi_function == "LINEAR"
    per = Dataset()
    per.WindowCenter, per.WindowWidth, per.VOILUTFunction = 10, 20, "SIGMOID"
    ds.PerFrameFunctionalGroupsSequence[1].FrameVOILUTSequence = Sequence([per])
    one = pipeline_from_dataset(ds, 1)
    assert (one.voi_function, tuple(one.window)) == ("SIGMOID", (10.0, 20.0))
    assert tuple(pipeline_from_dataset(ds, 0).window) == (float(shared.WindowCenter),
                                                         float(shared.WindowWidth))
