"""measure.py against numpy on known images, and on a real CT slice after the rescale."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from medreview.imaging.measure import (
    angle,
    ellipse_mask,
    ellipse_stats,
    format_stats,
    frame_roi_stats,
    length,
)


def test_length_uses_row_and_column_spacing() -> None:
    assert length((0, 0), (3, 4), None) == (5.0, "px")
    # x runs along columns (second spacing value), y along rows (first)
    value, unit = length((0, 0), (10, 0), (0.5, 2.0))
    assert (value, unit) == (20.0, "mm")
    value, _ = length((0, 0), (0, 10), (0.5, 2.0))
    assert value == 5.0
    value, _ = length((1, 1), (4, 5), (0.7, 0.7))
    assert value == pytest.approx(3.5)


def test_angle_in_patient_space() -> None:
    assert angle((10, 0), (0, 0), (0, 10), None) == pytest.approx(90.0)
    assert angle((10, 0), (0, 0), (-10, 0), None) == pytest.approx(180.0)
    assert angle((10, 10), (0, 0), (10, 0), None) == pytest.approx(45.0)
    # 45° in pixels is not 45° when rows are twice as tall as columns are wide
    assert angle((10, 10), (0, 0), (10, 0), (2.0, 1.0)) == pytest.approx(
        math.degrees(math.atan2(20, 10)))
    assert angle((0, 0), (0, 0), (5, 5), None) == 0.0  # degenerate arm


def test_ellipse_mask_matches_the_equation() -> None:
    mask, rs, cs = ellipse_mask((50, 60), (10, 20), (30, 30))
    rows, cols = np.mgrid[0:50, 0:60] + 0.5
    want = ((cols - 20) / 10) ** 2 + ((rows - 25) / 5) ** 2 <= 1
    full = np.zeros((50, 60), bool)
    full[rs, cs] = mask
    np.testing.assert_array_equal(full, want)
    # a box half outside the image is clamped, never indexes out of range
    mask, rs, cs = ellipse_mask((50, 60), (-1e9, -1e9), (1e9, 1e9))
    assert mask.shape == (50, 60)
    for bad in (math.nan, math.inf, -math.inf):  # hostile saved marks
        mask, rs, cs = ellipse_mask((50, 60), (bad, 0), (10, 10))
        assert mask.size == 0
        assert ellipse_stats(np.zeros((50, 60)), (0, bad), (10, 10), None) is None


def test_ellipse_stats_against_numpy() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(40, 12, size=(64, 80))
    values[30, 40] = np.nan  # padding inside the ROI is left out
    a, b = (20.0, 10.0), (60.0, 50.0)
    rows, cols = np.mgrid[0:64, 0:80] + 0.5
    inside = ((cols - 40) / 20) ** 2 + ((rows - 30) / 20) ** 2 <= 1
    picked = values[inside & ~np.isnan(values)]
    s = ellipse_stats(values, a, b, (0.5, 0.25))
    assert s is not None
    assert s.n == picked.size
    assert s.mean == pytest.approx(picked.mean())
    assert s.sd == pytest.approx(picked.std())
    assert (s.minimum, s.maximum) == (picked.min(), picked.max())
    assert s.area == pytest.approx(picked.size * 0.125) and s.area_unit == "mm²"
    assert ellipse_stats(values, a, b, None).area_unit == "px²"  # type: ignore[union-attr]
    assert ellipse_stats(values, (5, 5), (5, 9), None) is None  # zero width
    assert ellipse_stats(np.full((8, 8), np.nan), (0, 0), (8, 8), None) is None
    text = format_stats(s, "HU")
    assert f"mean {picked.mean():.1f} HU" in text and f"SD {picked.std():.1f}" in text
    assert f"area {picked.size * 0.125:.1f} mm²" in text


def test_stats_on_a_demo_ct_are_in_hu(tmp_path: Path) -> None:
    import pydicom

    from medreview.imaging.demo_series import write_demo_dicom
    from medreview.imaging.display import decode_frame

    write_demo_dicom(tmp_path)
    path = sorted((tmp_path / "ct_head").glob("*.dcm"))[10]
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    frame = decode_frame(path)
    rows, cols = hu.shape
    a, b = (cols * 0.3, rows * 0.3), (cols * 0.7, rows * 0.7)
    s = ellipse_stats(frame.modality_values(), a, b, frame.info.pixel_spacing)
    assert s is not None and s.area_unit == "mm²"
    mask, rs, cs = ellipse_mask(hu.shape, a, b)
    np.testing.assert_allclose(s.mean, hu[rs, cs][mask].mean())
    np.testing.assert_allclose(s.sd, hu[rs, cs][mask].std())
    assert frame_roi_stats(frame, a, b) == s  # the cropped path gives the same answer
    assert float(ds.RescaleIntercept) != 0.0  # the test is meaningless without a rescale
