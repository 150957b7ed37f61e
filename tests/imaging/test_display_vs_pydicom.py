"""display_frame on every bundled pydicom file against pydicom's own processing pipeline.

The reference is built from pydicom's apply_modality_lut / apply_voi_lut / apply_windowing /
apply_color_lut / convert_color_space, decoded with the same pinned plugin; pydicom returns
values in the stored-value range, so the reference rescales them to 0..255 exactly as the
standard's output range defines, inverts MONOCHROME1 after VOI and blanks padding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    apply_windowing,
    convert_color_space,
    pixel_array,
)
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medreview.errors import DicomError
from medreview.imaging.codecs import plugin_for, transfer_syntax
from medreview.imaging.display import display_frame, frame_info, modality_frame
from tests.imaging.conftest import bundled, bundled_dir

NATIVE = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
}


def _store_dir() -> Path:
    """pydicom-data's files (the test extra), found offline through pydicom's registry."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file("OBXXXX1A_expb.dcm", download=False)
    assert found, "pydicom-data is not installed (test extra)"
    return Path(str(found)).parent


def _pixel_files() -> list[Path]:
    out = []
    for p in sorted([*bundled_dir().rglob("*"), *_store_dir().glob("*.dcm")]):
        if not p.is_file() or p.suffix in {".py", ".json", ".txt", ".gz", ".icc", ".dump"}:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(p, force=True)
        except Exception:
            continue
        if "PixelData" in ds:
            out.append(p)
    return out


PIXEL_FILES = _pixel_files()


def _padding_mask(arr: np.ndarray, ds) -> np.ndarray:  # type: ignore[no-untyped-def]
    if "PixelPaddingValue" not in ds:
        return np.zeros(arr.shape, bool)
    lo = hi = int(ds.PixelPaddingValue)
    if "PixelPaddingRangeLimit" in ds:
        hi = int(ds.PixelPaddingRangeLimit)
        lo, hi = min(lo, hi), max(lo, hi)
    return (arr >= lo) & (arr <= hi)


def _voi_output_range(ds) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The output range pydicom's apply_windowing maps a window onto (its own rule)."""
    if ds.get("ModalityLUTSequence"):
        lo, hi = 0.0, float(2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1)
    elif ds.PixelRepresentation == 0:
        lo, hi = 0.0, float(2**ds.BitsStored - 1)
    else:
        lo, hi = float(-(2 ** (ds.BitsStored - 1))), float(2 ** (ds.BitsStored - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        lo = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        hi = hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return lo, hi


def _flatten_functional_groups(ds, frame: int) -> None:  # type: ignore[no-untyped-def]
    """pydicom's apply_* read the top-level attributes only; in an enhanced multi-frame
    object the frame's (else the shared) functional groups hold them (PS3.3 C.7.6.16), so
    copy the frame's Pixel Value Transformation and Frame VOI LUT macros up first."""
    for macro in ("PixelValueTransformationSequence", "FrameVOILUTSequence"):
        for groups, idx in (("PerFrameFunctionalGroupsSequence", frame),
                            ("SharedFunctionalGroupsSequence", 0)):
            seq = ds.get(groups)
            if seq is not None and len(seq) > idx and seq[idx].get(macro):
                for el in seq[idx].get(macro)[0]:
                    ds[el.tag] = el
                break


def reference_display(
    path: Path, frame: int, window: tuple[float, float] | None = None
) -> np.ndarray:
    ds = dcmread(path, force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):  # no file meta: as read
        implicit, little = ds.original_encoding
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    _flatten_functional_groups(ds, frame)
    plugin = plugin_for(transfer_syntax(ds))
    nf = int(ds.get("NumberOfFrames", 1) or 1)
    index = frame if nf > 1 else None
    pi = str(ds.PhotometricInterpretation)
    if pi == "PALETTE COLOR":
        if not ds.original_encoding[1] and "RedPaletteColorLookupTableData" in ds:
            # pydicom reads (non-segmented) LUT data bytes as little endian whatever the
            # syntax: give it the entries in that order, as the standard's values are
            for kw in ("Red", "Green", "Blue"):
                el = ds[f"{kw}PaletteColorLookupTableData"]
                if len(el.value) == 2 * (ds.RedPaletteColorLookupTableDescriptor[0] or 65536):
                    el.value = np.frombuffer(el.value, ">u2").astype("<u2").tobytes()
        rgb = apply_color_lut(pixel_array(ds, index=index, decoding_plugin=plugin), ds)
        return (rgb >> 8).astype(np.uint8) if rgb.dtype == np.uint16 else rgb.astype(np.uint8)
    if int(ds.get("SamplesPerPixel", 1)) == 3:
        if pi.startswith("YBR_FULL") and transfer_syntax(ds) in NATIVE:
            raw = pixel_array(ds, index=index, raw=True)
            rgb = convert_color_space(raw, pi, "RGB")
        else:
            rgb = pixel_array(ds, index=index, decoding_plugin=plugin)
        shift = max(int(ds.BitsStored) - 8, 0)
        return (rgb.astype(np.uint64) >> shift).astype(np.uint8)
    arr = pixel_array(ds, index=index, decoding_plugin=plugin)
    pad = _padding_mask(arr, ds)
    x = apply_modality_lut(arr, ds)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
        if "VOILUTSequence" in ds:
            del ds.VOILUTSequence
    if ds.get("VOILUTSequence"):
        y = apply_voi_lut(x, ds)
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        t = y.astype(np.float64) / (2**bits - 1)
    elif (
        "WindowCenter" in ds
        and "WindowWidth" in ds
        and float(ds.WindowWidth[0] if ds["WindowWidth"].VM > 1 else ds.WindowWidth) > 0
    ):
        lo, hi = _voi_output_range(ds)
        t = (apply_windowing(x, ds) - lo) / (hi - lo)
    else:  # no VOI in the file: 2nd-98th percentile of the frame, padding excluded
        vals = x[~pad]
        lo, hi = (float(v) for v in np.percentile(vals, [2, 98]))
        if not hi > lo:
            lo, hi = float(vals.min()), float(vals.max())
        t = np.clip((x - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(x, dtype=float)
    out = np.round(t * 255).astype(np.uint8)
    if pi == "MONOCHROME1":
        out = 255 - out
    out[pad] = 0
    return out


def _frames(path: Path) -> list[int]:
    nf = (
        int(dcmread(path, stop_before_pixels=True, force=True).get("NumberOfFrames", 1) or 1)
        if "1A" not in path.name
        else 1
    )
    return sorted({0, nf - 1})


def _id(p: Path) -> str:
    return str(p.relative_to(bundled_dir())) if p.is_relative_to(bundled_dir()) else \
        f"pydicom-data/{p.name}"


@pytest.mark.parametrize("path", PIXEL_FILES, ids=_id)
def test_every_bundled_file_matches_pydicom_or_raises(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = _frames(path)
            expected = [reference_display(path, f) for f in frames]
    except Exception as exc:  # pydicom itself cannot decode it: we must refuse cleanly
        with pytest.raises(DicomError) as err:
            display_frame(path, 0)
        assert str(path) in str(err.value)
        assert err.value.reason, exc
        return
    for f, exp in zip(frames, expected, strict=True):
        got = display_frame(path, f)
        assert got.dtype == np.uint8
        assert got.shape == exp.shape
        diff = np.abs(got.astype(int) - exp.astype(int))
        # identical up to float rounding exactly at .5 grey-level boundaries
        assert diff.max() <= 1, f"frame {f}: max diff {diff.max()}"
        assert (diff > 0).mean() < 0.001, f"frame {f}: {(diff > 0).sum()} pixels differ"


def test_bundled_coverage_is_broad() -> None:
    """Guard that the parametrised test really spans the codecs and photometrics."""
    syntaxes, photometrics = set(), set()
    for p in PIXEL_FILES:
        try:
            info = frame_info(p)
            display_frame(p)
        except DicomError:
            continue
        syntaxes.add(info.transfer_syntax)
        photometrics.add(info.photometric)
    assert len(syntaxes) >= 10
    assert {
        "MONOCHROME1",
        "MONOCHROME2",
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "PALETTE COLOR",
    } <= photometrics


@pytest.mark.parametrize(
    ("name", "window"),
    [
        ("CT_small.dcm", (40.0, 400.0)),
        ("CT_small.dcm", (-600.0, 1500.0)),
        ("MR_small.dcm", (500.0, 100.0)),
    ],
)
def test_window_override_matches_pydicom_windowing(name: str, window: tuple[float, float]) -> None:
    path = bundled(name)
    got = display_frame(path, 0, window=window)
    exp = reference_display(path, 0, window=window)
    diff = np.abs(got.astype(int) - exp.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
    assert not np.array_equal(got, display_frame(path, 0))


def test_ct_padding_is_background_and_nan_in_modality_values(tmp_path: Path) -> None:
    ds = dcmread(bundled("CT_small.dcm"))
    arr = ds.pixel_array.copy()
    arr[:10, :] = int(ds.PixelPaddingValue)  # a padded band outside the "field of view"
    ds.PixelData = arr.tobytes()
    path = tmp_path / "padded.dcm"
    ds.save_as(path)
    pad = arr == int(ds.PixelPaddingValue)
    img = display_frame(path, 0, window=(-1000.0, 10.0))  # padding HU would be white here
    assert (img[pad] == 0).all()
    hu = modality_frame(path)
    assert np.isnan(hu[pad]).all()
    keep = ~pad
    np.testing.assert_allclose(
        hu[keep], arr[keep] * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    )


def test_modality_values_are_hu_for_ct() -> None:
    path = bundled("693_J2KI.dcm")
    ds = dcmread(path)
    hu = modality_frame(path)
    ref = apply_modality_lut(pixel_array(ds, decoding_plugin="pylibjpeg"), ds)
    pad = _padding_mask(pixel_array(ds, decoding_plugin="pylibjpeg"), ds)
    np.testing.assert_array_equal(hu[~pad], ref[~pad])
    assert frame_info(path).units == "HU"
