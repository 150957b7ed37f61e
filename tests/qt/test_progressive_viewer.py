"""SliceViewer on a JPEG 2000 series: previews while scrolling, full resolution when it stops.

Real viewer (offscreen), real JPEG 2000 files (each slice carries its own number burnt into
the pixels, so the image on screen can be told apart from its neighbours), real worker
processes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from medreview.imaging.display import decode_frame, display_frame
from medreview.imaging.frames import DecodedFrame
from medreview.qt.imaging.measurements import measure_label
from medreview.qt.imaging.slice_view import SliceViewer

N = 16
SIZE = 512


def _slice(k: int) -> np.ndarray:
    """A 512x512 CT slice whose mean grey level encodes ``k`` (a bright band at row 32k)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    img = np.full((SIZE, SIZE), 24, np.int16)  # -1000 HU after the rescale below
    img[(x - 256) ** 2 + (y - 256) ** 2 < 200**2] = 1064  # +40 HU body
    img[32 * k : 32 * k + 24, :] = 2024  # +1000 HU band: where it is tells the slice
    return img


def _band_row(image: np.ndarray, scale: int = 1) -> int:
    """Which slice an image shows: the first row of its brightest band (full coordinates)."""
    rows = image.astype(np.float64).mean(axis=1)
    return int(np.argmax(rows > rows.max() * 0.9)) * scale // 32


@pytest.fixture(scope="module")
def j2k_series(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

    out = tmp_path_factory.mktemp("j2k")
    paths = []
    for k in range(N):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["progressive", str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", "1.2.3.7", "1.2.3"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, k], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.Rows = ds.Columns = SIZE
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = _slice(k).astype(np.uint16).tobytes()
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        p = out / f"{k:03d}.dcm"
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


@pytest.fixture
def viewer(qtbot, j2k_series: list[Path]) -> SliceViewer:  # type: ignore[no-untyped-def]
    v = SliceViewer()
    qtbot.addWidget(v)
    v.resize(600, 600)
    v.show()
    qtbot.waitExposed(v)
    v.set_series(j2k_series, "J2K")
    qtbot.waitUntil(lambda: v.slice_count() == N and v.current_frame() is not None,
                    timeout=60000)  # fmt: skip
    assert not v.showing_preview()  # opening a series shows full resolution
    return v


def _watch(v: SliceViewer) -> list[tuple[int, int, int, bool]]:
    """Record every image the viewer puts on screen: (slice number it claims, slice number
    its pixels show, slice number in the overlay, preview?)."""
    seen: list[tuple[int, int, int, bool]] = []
    original = v._display

    def display(key, frame: DecodedFrame) -> None:  # type: ignore[no-untyped-def]
        original(key, frame)
        label = next(line for line in v.overlay_text().splitlines() if line.startswith("Slice"))
        overlay_no = int(label.split()[1].split("/")[0]) - 1
        seen.append((v.current_index(), _band_row(frame.pixels, frame.scale), overlay_no,
                     frame.is_reduced))  # fmt: skip

    v._display = display  # type: ignore[method-assign]
    return seen


def _cold(qtbot, v: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    """Empty the caches once the decodes the opening asked for are done: a full decode of a
    neighbour still running would land after the clear and be shown instead of its preview
    (right for the reader, but not the path these tests walk)."""
    qtbot.waitUntil(lambda: not v._loader.pending(), timeout=60000)
    v._loader.cache.clear()
    v._loader.previews.clear()


def test_a_slice_reached_while_scrolling_is_previewed_then_refined(qtbot, viewer) -> None:  # type: ignore[no-untyped-def]
    v = viewer
    _cold(qtbot, v)
    seen = _watch(v)
    v.set_slice(5)  # a move: only a preview of slice 5 is asked for while moving
    key = v._key(5)
    qtbot.waitUntil(lambda: v._shown_key == key, timeout=60000)
    assert v.showing_preview()
    frame = v.current_frame()
    assert frame is not None and frame.scale == 2 and frame.pixels.shape == (256, 256)
    # stretched over the full image: same extent in view (= measurement) coordinates
    rect = v._image.mapRectToParent(v._image.boundingRect())
    assert (rect.width(), rect.height()) == (SIZE, SIZE)
    assert "Preview" in v.overlay_text()
    # the scroll has stopped: the full decode replaces the preview within the settle delay
    qtbot.waitUntil(lambda: not v.showing_preview(), timeout=60000)
    np.testing.assert_array_equal(v._image.image, display_frame(v._key(5)[0]))
    assert "Preview" not in v.overlay_text()
    assert [s[3] for s in seen] == [True, False]
    assert all(s[0] == s[1] == s[2] == 5 for s in seen)


def test_fast_scrolling_never_shows_a_stale_slice(qtbot, viewer) -> None:  # type: ignore[no-untyped-def]
    v = viewer
    _cold(qtbot, v)
    seen = _watch(v)
    for _ in range(1, N):  # faster than anything decodes: no waiting between steps
        v.step(1)
        qtbot.wait(3)
    for i in range(N - 2, 8, -1):  # and back up
        v.set_slice(i)
        qtbot.wait(3)
    last = 9
    qtbot.waitUntil(lambda: v._shown_key == v._key(last) and not v.showing_preview(),
                    timeout=60000)  # fmt: skip
    assert seen, "nothing was shown"
    for claimed, shown, overlay_no, _preview in seen:
        # every image put on screen is the slice the viewer was on and says it is
        assert claimed == shown == overlay_no
    assert seen[-1] == (last, last, last, False)
    np.testing.assert_array_equal(v._image.image, display_frame(v._key(last)[0]))
    # while a slice is loading, the overlay numbers the image on screen, not the target
    _cold(qtbot, v)
    shown_before = v.current_index()
    v.set_slice(2)
    text = v.overlay_text()
    if v._shown_key != v._key(2):
        assert f"Slice {shown_before + 1}/{N}" in text and "Loading slice 3" in text


def test_measurements_are_identical_at_both_resolutions(qtbot, viewer) -> None:  # type: ignore[no-untyped-def]
    v = viewer
    _cold(qtbot, v)
    v.set_slice(7)
    qtbot.waitUntil(lambda: v._shown_key == v._key(7), timeout=60000)
    assert v.showing_preview()
    pts = [QPointF(100.5, 120.5), QPointF(400.25, 300.75)]
    tri = [QPointF(100.5, 120.5), QPointF(256.0, 256.0), QPointF(400.25, 90.5)]
    box = [QPointF(180.0, 180.0), QPointF(330.0, 330.0)]
    for kind, p in (("length", pts), ("angle", tri), ("roi", box)):
        v._on_measure(kind, p)
    on_preview = [m["label"] for m in v.measurements()]
    points_preview = [m["points"] for m in v.measurements()]
    qtbot.waitUntil(lambda: not v.showing_preview(), timeout=60000)
    v.clear_measurements()
    for kind, p in (("length", pts), ("angle", tri), ("roi", box)):
        v._on_measure(kind, p)
    assert [m["label"] for m in v.measurements()] == on_preview
    assert [m["points"] for m in v.measurements()] == points_preview
    assert on_preview[0].endswith("mm") and "HU" in on_preview[2]
    # the same numbers straight from the full decode
    full = decode_frame(v._key(7)[0])
    pts_xy = [[p.x(), p.y()] for p in pts]
    assert on_preview[0] == measure_label("length", pts_xy, full)


def test_preview_cache_is_bounded(qtbot, viewer) -> None:  # type: ignore[no-untyped-def]
    v = viewer
    _cold(qtbot, v)
    one_preview = 256 * 256 * 2
    v._loader.previews.max_bytes = 3 * one_preview
    for i in range(1, N):
        v.set_slice(i)
        key = v._key(i)
        qtbot.waitUntil(lambda k=key: v._shown_key == k, timeout=60000)
        assert v._loader.previews.nbytes <= 3 * one_preview
    assert len(v._loader.previews) <= 3
    qtbot.waitUntil(lambda: not v.showing_preview(), timeout=60000)


def test_previews_off_shows_only_full_resolution(qtbot, viewer) -> None:  # type: ignore[no-untyped-def]
    v = viewer
    v.set_progressive(False)
    _cold(qtbot, v)
    seen = _watch(v)
    for i in (3, 4, 5):
        v.set_slice(i)
        key = v._key(i)
        qtbot.waitUntil(lambda k=key: v._shown_key == k, timeout=60000)
    assert seen and not any(s[3] for s in seen)
