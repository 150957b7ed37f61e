"""Overlay planes (60xx): masks placed, multi-frame aware, hostile headers ignored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from medreview.imaging.display import decode_frame, display_frame
from medreview.imaging.overlays import overlay_mask


def test_overlay_matches_pydicom_and_is_drawn_only_on_request() -> None:
    path = get_testdata_file("examples_overlay.dcm")
    ds = pydicom.dcmread(path)
    frame = decode_frame(path)
    assert frame.overlay is not None
    np.testing.assert_array_equal(frame.overlay, ds.overlay_array(0x6000).astype(bool))
    plain, drawn = frame.render(), frame.render(overlays=True)
    np.testing.assert_array_equal(plain, display_frame(path))  # off by default
    assert (drawn[frame.overlay] == 255).all()
    np.testing.assert_array_equal(drawn[~frame.overlay], plain[~frame.overlay])


def test_origin_offsets_and_clips_the_plane(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))
    ref = ds.overlay_array(0x6000).astype(bool)
    ds[0x60000050].value = [11, -4]  # 10 rows down, 5 columns left of the image
    got = overlay_mask(ds, 0, (ds.Rows, ds.Columns))
    assert got is not None
    expected = np.zeros_like(ref)
    expected[10:, :-5] = ref[:-10, 5:]
    np.testing.assert_array_equal(got, expected)


def test_frames_outside_the_overlay_and_lying_headers_show_no_overlay() -> None:
    ds = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))
    shape = (ds.Rows, ds.Columns)
    ds[0x60000051] = pydicom.DataElement(0x60000051, "US", 3)  # overlay starts on frame 3
    assert overlay_mask(ds, 0, shape) is None
    del ds[0x60000051]
    ds[0x60000015].value = "100000"  # claims far more frames than its data holds
    assert overlay_mask(ds, 5, shape) is None
    ds[0x60000015].value = "1"
    ds[0x60000010].value = 65535  # absurd size: data too short, ignored not fatal
    ds[0x60000011].value = 65535
    assert overlay_mask(ds, 0, shape) is None


def test_a_malformed_overlay_never_blocks_the_image(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("examples_overlay.dcm"))
    ds[0x60003000].value = b"\x01"  # one byte of overlay data
    path = tmp_path / "bad_overlay.dcm"
    ds.save_as(path)
    frame = decode_frame(path)
    assert frame.overlay is None and frame.render(overlays=True).shape == (ds.Rows, ds.Columns)
