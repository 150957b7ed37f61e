"""Viewer tools a radiologist expects, driven by mouse and keys on the demo DICOM series:
W/L drag tool, length/angle measurements in mm, ellipse ROI statistics in HU, the added CT
presets, cine, opening at a key slice, maximising the image pane, viewer keys over window
shortcuts, and the cheat sheet listing them."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter

from medreview.imaging.measure import ellipse_mask
from medreview.qt.imaging.slice_view import SliceViewer
from tests.qt.test_slice_viewer import _mouse, _viewport_point, _wait_shown


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medreview.imaging.demo_series import write_demo_dicom

    out = tmp_path_factory.mktemp("demo")
    write_demo_dicom(out)
    return out


def _open(qtbot, files: list[Path], start=None) -> SliceViewer:  # type: ignore[no-untyped-def]
    v = SliceViewer()
    qtbot.addWidget(v)
    v.resize(600, 600)
    v.show()
    qtbot.waitExposed(v)
    v.set_series(files, "Demo", start=start)
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    v.setFocus()
    return v


@pytest.fixture
def head(qtbot, demo: Path) -> SliceViewer:  # type: ignore[no-untyped-def]
    return _open(qtbot, sorted((demo / "ct_head").glob("*.dcm")))


def _drag(v: SliceViewer, a: QPointF, b: QPointF, button: Qt.MouseButton, steps: int = 4
          ) -> None:
    """A drag at a human pace: pyqtgraph drops moves closer than 10 ms (mouseRateLimit)."""
    _mouse(v, QEvent.Type.MouseButtonPress, a, button, button)
    for i in range(1, steps + 1):
        QTest.qWait(12)
        _mouse(v, QEvent.Type.MouseMove, a + (b - a) * (i / steps), Qt.MouseButton.NoButton,
               button)  # fmt: skip
    _mouse(v, QEvent.Type.MouseButtonRelease, b, button, Qt.MouseButton.NoButton)


def _click(v: SliceViewer, x: float, y: float) -> None:
    QTest.qWait(12)
    p = _viewport_point(v, x, y)
    _mouse(v, QEvent.Type.MouseButtonPress, p, Qt.MouseButton.LeftButton,
           Qt.MouseButton.LeftButton)  # fmt: skip
    _mouse(v, QEvent.Type.MouseButtonRelease, p, Qt.MouseButton.LeftButton,
           Qt.MouseButton.NoButton)  # fmt: skip


def test_left_drag_window_level_tool(qtbot, head: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    assert tuple(head.display_window()) == (40.0, 80.0)
    a = _viewport_point(head, 60, 60)
    _drag(head, a, a + QPointF(100, 50), Qt.MouseButton.LeftButton)  # navigate: a pan
    assert tuple(head.display_window()) == (40.0, 80.0)
    qtbot.keyClick(head, "w")
    assert head.tool() == "window" and head._toolbar._tool_buttons["window"].isChecked()
    before = head._image.image.copy()
    _drag(head, a, a + QPointF(128, 64), Qt.MouseButton.LeftButton)
    center, width = head.display_window()
    assert width > 80 and center > 40
    assert not np.array_equal(before, head._image.image)
    assert f"W {width:.0f}" in head.overlay_text()
    head._toolbar._tool_buttons["navigate"].click()  # the button works as well as the key
    assert head.tool() == "navigate"


def test_length_in_mm_shown_on_its_slice(qtbot, head: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(head, "l")
    with qtbot.waitSignal(head.sig_measured, timeout=5000) as blocker:
        _drag(head, _viewport_point(head, 40, 50), _viewport_point(head, 140, 50),
              Qt.MouseButton.LeftButton)  # fmt: skip
    m = blocker.args[0]
    (x0, y0), (x1, y1) = m["points"]
    want = math.hypot(x1 - x0, y1 - y0) * 1.2  # ct_head PixelSpacing 1.2 mm
    assert abs(x1 - x0 - 100) < 1.5 and want == pytest.approx(120, abs=2)
    assert m["label"] == f"{want:.1f} mm"
    assert head.measurement_labels() == [m["label"]]
    qtbot.keyClick(head, Qt.Key.Key_Down)
    _wait_shown(qtbot, head, 1)
    assert head.measurement_labels() == []  # only on the slice it was measured on
    qtbot.keyClick(head, Qt.Key.Key_Up)
    _wait_shown(qtbot, head, 0)
    assert head.measurement_labels() == [m["label"]]
    assert head.regions() == []  # a viewer tool, not a grading mark
    qtbot.keyClick(head, "x")
    assert head.measurement_labels() == [] and head.measurements() == []


def test_angle_by_three_clicks(qtbot, head: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(head, "a")
    with qtbot.waitSignal(head.sig_measured, timeout=5000) as blocker:
        _click(head, 140, 60)
        _click(head, 60, 60)  # vertex
        _click(head, 60, 140)
    m = blocker.args[0]
    (ax, ay), (vx, vy), (cx, cy) = m["points"]
    u, w = (ax - vx, ay - vy), (cx - vx, cy - vy)
    deg = math.degrees(math.acos((u[0] * w[0] + u[1] * w[1]) / math.hypot(*u) / math.hypot(*w)))
    assert deg == pytest.approx(90, abs=2) and m["label"] == f"{deg:.1f}°"
    assert head.measurement_labels() == [m["label"]]


def test_cr_length_uses_detector_spacing_and_images_say_px(qtbot, demo: Path, tmp_path: Path
                                                          ) -> None:  # type: ignore[no-untyped-def]
    v = _open(qtbot, sorted((demo / "cr").glob("*.dcm")))
    assert v.current_frame().info.spacing_source == "ImagerPixelSpacing"
    qtbot.keyClick(v, "l")
    with qtbot.waitSignal(v.sig_measured, timeout=5000) as blocker:
        _drag(v, _viewport_point(v, 100, 100), _viewport_point(v, 400, 100),
              Qt.MouseButton.LeftButton)  # fmt: skip
    (x0, _), (x1, _) = blocker.args[0]["points"]
    assert blocker.args[0]["label"] == f"{(x1 - x0) * 0.7:.1f} mm (detector)"

    from PIL import Image

    Image.fromarray(np.full((80, 100), 90, np.uint8)).save(tmp_path / "photo.png")
    v2 = SliceViewer()
    qtbot.addWidget(v2)
    v2.resize(500, 500)
    v2.show()
    v2.set_images([tmp_path / "photo.png"])
    qtbot.waitUntil(lambda: v2.current_frame() is not None, timeout=10000)
    v2.setFocus()
    qtbot.keyClick(v2, "l")
    with qtbot.waitSignal(v2.sig_measured, timeout=5000) as blocker:
        _drag(v2, _viewport_point(v2, 10, 10), _viewport_point(v2, 70, 10),
              Qt.MouseButton.LeftButton)  # fmt: skip
    assert re.fullmatch(r"\d+\.\d px", blocker.args[0]["label"])


def test_ellipse_roi_statistics_in_hu(qtbot, head: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(head, Qt.Key.Key_PageDown)
    _wait_shown(qtbot, head, 10)
    qtbot.keyClick(head, "e")
    with qtbot.waitSignal(head.sig_region_drawn, timeout=5000) as blocker:
        _drag(head, _viewport_point(head, 60, 60), _viewport_point(head, 130, 120),
              Qt.MouseButton.LeftButton)  # fmt: skip
    (x0, y0), (x1, y1) = blocker.args[0]["coords"]
    import pydicom

    ds = pydicom.dcmread(head.current_frame().info.path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    mask, rs, cs = ellipse_mask(hu.shape, (x0, y0), (x1, y1))
    inside = hu[rs, cs][mask]
    (text,) = head.roi_texts()
    assert f"mean {inside.mean():.1f} HU" in text and f"SD {inside.std():.1f}" in text
    assert f"min {inside.min():.0f}" in text and f"max {inside.max():.0f}" in text
    assert f"area {inside.size * 1.2 * 1.2:.1f} mm²" in text
    assert text in head.measurement_labels()

    # D: the same statistics without making a grading mark
    marks = head.regions()
    qtbot.keyClick(head, "d")
    with qtbot.waitSignal(head.sig_measured, timeout=5000) as measured:
        _drag(head, _viewport_point(head, 60, 60), _viewport_point(head, 130, 120),
              Qt.MouseButton.LeftButton)  # fmt: skip
    m = measured.args[0]
    assert m["kind"] == "roi" and head.regions() == marks
    (a, b) = m["points"]
    mask, rs, cs = ellipse_mask(hu.shape, a, b)
    inside = hu[rs, cs][mask]
    assert f"mean {inside.mean():.1f} HU" in m["label"] and m["label"] in head.roi_texts()


def test_new_ct_presets_on_number_keys(qtbot, head: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    names = [p.name for p in head.presets()]
    assert names[:6] == ["Brain", "Soft tissue / abdomen", "Lung", "Bone", "Liver",
                         "Mediastinum"]  # existing ones kept, in place  # fmt: skip
    for name, (center, width) in {"Subdural": (75, 215), "Stroke": (40, 40),
                                  "Temporal bone": (700, 4000)}.items():  # fmt: skip
        qtbot.keyClick(head, str(names.index(name) + 1))
        assert tuple(head.display_window()) == (center, width)
    assert "9  Temporal bone (4000/700)" in [head._toolbar.presets.itemText(i)
                                             for i in range(head._toolbar.presets.count())]


def test_cine_plays_without_blocking_and_pauses(qtbot, demo: Path) -> None:  # type: ignore[no-untyped-def]
    v = _open(qtbot, sorted((demo / "ct").glob("*.dcm")))
    v._toolbar.fps.setValue(40)
    assert v.fps() == 40
    seen: list[int] = []
    v.sig_slice_changed.connect(lambda i, n: seen.append(i))
    qtbot.keyClick(v, "c")
    assert v.is_playing() and v._toolbar.cine.isChecked()
    qtbot.waitUntil(lambda: len(seen) >= 45, timeout=15000)  # wraps past the last slice
    assert seen[:5] == [1, 2, 3, 4, 5] and 0 in seen[39:]
    qtbot.keyClick(v, "c")
    assert not v.is_playing() and not v._toolbar.cine.isChecked()
    n = len(seen)
    qtbot.wait(200)
    assert len(seen) == n
    v._toolbar.cine.click()  # the toolbar button too
    assert v.is_playing()
    v.set_series(sorted((demo / "cr").glob("*.dcm")))  # a new series stops the cine
    assert not v.is_playing()


def test_cine_steps_over_an_undecodable_slice(qtbot, demo: Path, tmp_path: Path
                                              ) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 64)
    files = sorted((demo / "ct").glob("*.dcm"))[:3]
    v = _open(qtbot, [files[0], bad, files[1], files[2]])
    v.set_fps(30)
    seen: list[int] = []
    v.sig_slice_changed.connect(lambda i, n: seen.append(i))
    v.set_playing(True)
    qtbot.waitUntil(lambda: len(seen) >= 6, timeout=10000)
    v.set_playing(False)
    assert seen[:4] == [1, 2, 3, 0]


def test_opens_at_key_slice(qtbot, demo: Path) -> None:  # type: ignore[no-untyped-def]
    files = sorted((demo / "ct").glob("*.dcm"))
    v = _open(qtbot, files, start=(files[12], 0))
    assert v.current_index() == 12 and v.current_frame().info.instance_number == 13
    assert "Slice 13/40" in v.overlay_text()
    v.set_series(files, start=25)
    _wait_shown(qtbot, v, 25)
    v.set_series(files, start=10**9)  # out of range: first slice
    _wait_shown(qtbot, v, 0)
    v.set_series(files, start=(Path("/elsewhere.dcm"), 3))
    _wait_shown(qtbot, v, 0)


def test_viewer_keys_win_over_window_shortcuts_while_focused(qtbot, demo: Path
                                                             ) -> None:  # type: ignore[no-untyped-def]
    win = QMainWindow()
    qtbot.addWidget(win)
    v = SliceViewer()
    win.setCentralWidget(v)
    fired: list[str] = []
    for key in ("I", "1", "Escape"):
        sc = QShortcut(QKeySequence(key), win)
        sc.activated.connect(lambda k=key: fired.append(k))
    win.resize(500, 500)
    win.show()
    qtbot.waitExposed(win)
    v.set_series(sorted((demo / "ct").glob("*.dcm"))[:3])
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    v.setFocus()
    qtbot.keyClick(v, "i")
    qtbot.keyClick(v, "1")
    assert v.is_inverted() and tuple(v.display_window()) == (40.0, 80.0) and fired == []
    qtbot.keyClick(v, Qt.Key.Key_Escape)
    assert fired == ["Escape"]  # Escape stays with the window


def _pane_with(qtbot, demo: Path):  # type: ignore[no-untyped-def]
    from medreview.qt.grading.image_pane import ImagePane
    from medreview.services.views import AttachmentView, SeriesView

    def series(folder: str, uid: str, sid: int) -> SeriesView:
        atts = tuple(AttachmentView(id=sid * 100 + i, kind="dicom", filename=p.name, path=p,
                                    sha256="", series_id=sid, sort_index=i, frame_count=1)
                     for i, p in enumerate(sorted((demo / folder).glob("*.dcm"))))
        return SeriesView(id=sid, series_uid=uid, modality="CT", description=folder,
                          attachments=atts)

    win = QMainWindow()
    qtbot.addWidget(win)
    split = QSplitter(Qt.Orientation.Horizontal)
    text = QLabel("answer text")
    right = QSplitter(Qt.Orientation.Vertical)
    pane = ImagePane()
    form = QLabel("rubric")
    right.addWidget(pane)
    right.addWidget(form)
    split.addWidget(text)
    split.addWidget(right)
    win.setCentralWidget(split)
    split.setSizes([500, 500])
    right.setSizes([350, 350])
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    return win, pane, text, form, (series("ct", "1.2.3", 1), series("ct_head", "1.2.4", 2))


def test_image_pane_opens_at_the_key_slice_and_maximises(qtbot, demo: Path
                                                         ) -> None:  # type: ignore[no-untyped-def]
    _win, pane, text, form, (ct, head) = _pane_with(qtbot, demo)
    v = pane.viewer
    pane.show_series((ct, head), [], {"key_slice": 7})
    _wait_shown(qtbot, v, 6)
    # a mapping names the series by UID; the rater's first mark wins over the metadata
    mark = {"shape": "point", "coords": [[5, 5]], "frame": 0,
            "path": str(head.attachments[15].path)}
    later = dict(mark, path=str(head.attachments[20].path))
    pane.show_series((ct, head), [later, mark], {"key_slice": {"1.2.3": 30, "1.2.4": 3}})
    _wait_shown(qtbot, v, 29)
    pane.strip.select(1) if pane.strip is not None else pane.picker.setCurrentIndex(1)
    _wait_shown(qtbot, v, 15)
    for bad in ("7", True, -2, 2.5, [3], {"1.2.3": "9"}, None):  # hostile values: slice 1
        pane.show_series((ct,), [], {"key_slice": bad})
        _wait_shown(qtbot, v, 0)

    size = pane.width() * pane.height()
    v.setFocus()
    qtbot.keyClick(v, "m")
    assert pane.is_maximised() and not text.isVisible() and not form.isVisible()
    qtbot.waitUntil(lambda: pane.width() * pane.height() > 2.5 * size, timeout=3000)
    assert pane.viewer.isVisible()
    qtbot.keyClick(v, "m")
    assert not pane.is_maximised() and text.isVisible() and form.isVisible()
    pane.viewer._toolbar.sig_maximise.emit()  # the Max button
    assert pane.is_maximised()
    pane.toggle_maximised()
    assert text.isVisible()
    qtbot.keyClick(v, "m")
    assert pane.is_maximised()
    pane.show_series(())  # the next item has no images: its siblings come back
    assert not pane.is_maximised() and text.isVisible() and form.isVisible()


def test_cheat_sheet_lists_every_viewer_key() -> None:
    from medreview.qt.cheatsheet import cheatsheet_html
    from medreview.qt.imaging.slice_view import _KEY_TOOLS, _LETTERS
    from medreview.qt.keys import VIEWER_GROUP, VIEWER_KEYS

    sheet = cheatsheet_html()
    assert VIEWER_GROUP in sheet
    listed = {k for b in VIEWER_KEYS for k in b.keys}
    assert {c.upper() for c in _LETTERS | set(_KEY_TOOLS)} <= listed
    assert {"Up", "Down", "PgUp", "PgDown", "Home", "End", "0", "1-9"} <= listed
    for b in VIEWER_KEYS:
        assert html.escape(b.label) in sheet


def test_hostile_saved_ellipses_get_no_statistics_and_no_crash(qtbot, head: SliceViewer
                                                               ) -> None:  # type: ignore[no-untyped-def]
    path = str(head.current_frame().info.path)
    head.set_regions([
        {"shape": "ellipse", "coords": [[float("nan"), 0], [10, 10]], "frame": 0, "path": path},
        {"shape": "ellipse", "coords": [["1e999", 0], [10, 10]], "frame": 0, "path": path},
        {"shape": "ellipse", "coords": "junk", "frame": 0, "path": path},
        {"shape": "ellipse", "coords": [[-1e12, -1e12], [1e12, 1e12]], "frame": 0, "path": path},
    ])  # fmt: skip
    # only the last has statistics, over the whole image (192 x 192 pixels of 1.2 mm)
    (text,) = head.roi_texts()
    assert f"area {192 * 192 * 1.44:.1f} mm²" in text
    assert head._regions.visible_count() == 1  # NaN / inf / junk shapes are not drawn
