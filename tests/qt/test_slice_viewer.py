"""SliceViewer on the demo material: default window, keyboard scrolling, W/L drag, regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from medreview.imaging.display import display_frame
from medreview.qt.imaging.series_strip import SeriesStrip
from medreview.qt.imaging.slice_view import SliceViewer


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medreview.imaging.demo_series import write_demo_dicom

    out = tmp_path_factory.mktemp("demo")
    write_demo_dicom(out)
    return out


@pytest.fixture
def viewer(qtbot, demo: Path) -> SliceViewer:  # type: ignore[no-untyped-def]
    v = SliceViewer()
    qtbot.addWidget(v)
    v.resize(500, 500)
    v.show()
    qtbot.waitExposed(v)
    v.set_series(sorted((demo / "ct").glob("*.dcm")), "Demo CT")
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    v.setFocus()
    return v


def _wait_shown(qtbot, v: SliceViewer, index: int) -> None:  # type: ignore[no-untyped-def]
    def ok() -> None:
        f = v.current_frame()
        assert f is not None and f.info.instance_number == index + 1

    qtbot.waitUntil(ok, timeout=10000)


def _viewport_point(v: SliceViewer, x: float, y: float) -> QPointF:
    scene = v._vb.mapViewToScene(QPointF(x, y))
    return QPointF(v._view.mapFromScene(scene))


def _mouse(v: SliceViewer, kind: QEvent.Type, pos: QPointF, button: Qt.MouseButton,
           buttons: Qt.MouseButton) -> None:  # fmt: skip
    vp = v._view.viewport()
    ev = QMouseEvent(kind, pos, QPointF(vp.mapToGlobal(pos.toPoint())), button, buttons,
                     Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(vp, ev)


def _drag(v: SliceViewer, a: QPointF, b: QPointF, button: Qt.MouseButton, steps: int = 8) -> None:
    _mouse(v, QEvent.Type.MouseButtonPress, a, button, button)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        _mouse(v, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button)
    _mouse(v, QEvent.Type.MouseButtonRelease, b, button, Qt.MouseButton.NoButton)


def test_demo_ct_shows_with_its_default_window(viewer: SliceViewer, demo: Path) -> None:
    assert viewer.slice_count() == 40
    assert tuple(viewer.display_window()) == (40.0, 400.0)
    first = sorted((demo / "ct").glob("*.dcm"))[0]
    np.testing.assert_array_equal(viewer._image.image, display_frame(first))
    text = viewer.overlay_text()
    assert "Slice 1/40" in text and "W 400  L 40" in text and "CT" in text
    assert [p.name for p in viewer.presets()][:4] == [
        "Brain", "Soft tissue / abdomen", "Lung", "Bone"]  # fmt: skip


def test_keyboard_scrolls_through_every_slice(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    seen = []
    viewer.sig_slice_changed.connect(lambda i, n: seen.append(i))
    for i in range(1, 40):
        qtbot.keyClick(viewer, Qt.Key.Key_Down)
        _wait_shown(qtbot, viewer, i)
    assert seen == list(range(1, 40))
    assert "Slice 40/40" in viewer.overlay_text()
    qtbot.keyClick(viewer, Qt.Key.Key_Down)  # clamps at the end
    assert viewer.current_index() == 39
    qtbot.keyClick(viewer, Qt.Key.Key_PageUp)
    _wait_shown(qtbot, viewer, 29)
    qtbot.keyClick(viewer, Qt.Key.Key_Home)
    _wait_shown(qtbot, viewer, 0)
    qtbot.keyClick(viewer, Qt.Key.Key_End)
    _wait_shown(qtbot, viewer, 39)


# Each demo series with the window its header declares first (centre, width).
DEMO_SERIES = {"ct": (40.0, 400.0), "ct_head": (40.0, 80.0), "mr": (600.0, 1600.0),
               "cr": (1600.0, 3600.0)}


def _first_value(v: object) -> float:
    from pydicom.multival import MultiValue

    return float(v[0] if isinstance(v, MultiValue) else v)  # type: ignore[arg-type,index]


@pytest.mark.parametrize("folder", sorted(DEMO_SERIES))
def test_every_demo_series_opens_with_its_window_and_scrolls_through(
        qtbot, demo: Path, folder: str) -> None:  # type: ignore[no-untyped-def]
    import pydicom

    files = sorted((demo / folder).glob("*.dcm"))
    head = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert DEMO_SERIES[folder] == (_first_value(head.WindowCenter),
                                   _first_value(head.WindowWidth))
    v = SliceViewer()
    qtbot.addWidget(v)
    v.resize(400, 400)
    v.show()
    qtbot.waitExposed(v)
    v.set_series(files, folder)
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    v.setFocus()
    assert v.slice_count() == len(files)
    assert tuple(v.display_window()) == DEMO_SERIES[folder]
    np.testing.assert_array_equal(v._image.image, display_frame(files[0]))
    for i in range(1, len(files)):
        qtbot.keyClick(v, Qt.Key.Key_Down)
        _wait_shown(qtbot, v, i)
    np.testing.assert_array_equal(v._image.image, display_frame(files[-1]))
    assert f"Slice {len(files)}/{len(files)}" in v.overlay_text()


def test_keys_do_nothing_without_focus(qtbot, demo: Path) -> None:  # type: ignore[no-untyped-def]
    host = QWidget()
    qtbot.addWidget(host)
    edit = QLineEdit()
    v = SliceViewer()
    lay = QVBoxLayout(host)
    lay.addWidget(edit)
    lay.addWidget(v)
    host.show()
    qtbot.waitExposed(host)
    v.set_series(sorted((demo / "ct").glob("*.dcm"))[:5])
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Down)
    qtbot.keyClick(edit, "i")
    assert v.current_index() == 0 and not v.is_inverted()


def test_right_drag_changes_window(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    changes = []
    viewer.sig_window_changed.connect(lambda c, w: changes.append((c, w)))
    before = viewer._image.image.copy()
    a = _viewport_point(viewer, 64, 64)
    _drag(viewer, a, a + QPointF(128, 64), Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: bool(changes), timeout=5000)
    center, width = viewer.display_window()
    assert width > 400 and center > 40  # right = wider, down = higher level
    assert changes[-1] == (center, width)
    assert not np.array_equal(before, viewer._image.image)
    assert f"W {width:.0f}" in viewer.overlay_text()


def test_presets_invert_and_privacy(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(viewer, "3")
    assert tuple(viewer.display_window()) == (-600.0, 1500.0)
    qtbot.keyClick(viewer, "0")
    assert tuple(viewer.display_window()) == (40.0, 400.0)
    plain = viewer._image.image.copy()
    qtbot.keyClick(viewer, "i")
    assert viewer.is_inverted()
    pad = np.isnan(viewer.current_frame().modality_values())
    np.testing.assert_array_equal(viewer._image.image[~pad], 255 - plain[~pad])
    assert "DEMO SYNTHETIC PATIENT" in viewer.overlay_text()
    qtbot.keyClick(viewer, "h")
    assert "DEMO" not in viewer.overlay_text() and "Slice 1/40" in viewer.overlay_text()


def test_drawing_regions_emits_image_coordinates(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    viewer.set_tool("rect")
    a, b = _viewport_point(viewer, 20.0, 30.0), _viewport_point(viewer, 60.0, 50.0)
    with qtbot.waitSignal(viewer.sig_region_drawn, timeout=5000) as blocker:
        _drag(viewer, a, b, Qt.MouseButton.LeftButton)
    region = blocker.args[0]
    assert region["shape"] == "rect" and region["frame"] == 0
    (x0, y0), (x1, y1) = region["coords"]
    assert abs(x0 - 20) < 1.5 and abs(y0 - 30) < 1.5 and abs(x1 - 60) < 1.5 and abs(y1 - 50) < 1.5
    assert region["path"].endswith("IM0001.dcm")
    assert region["series_uid"] == viewer.current_frame().info.series_uid
    qtbot.keyClick(viewer, "p")
    p = _viewport_point(viewer, 70.0, 80.0)
    with qtbot.waitSignal(viewer.sig_region_drawn, timeout=5000) as blocker:
        _mouse(viewer, QEvent.Type.MouseButtonPress, p, Qt.MouseButton.LeftButton,
               Qt.MouseButton.LeftButton)  # fmt: skip
        _mouse(viewer, QEvent.Type.MouseButtonRelease, p, Qt.MouseButton.LeftButton,
               Qt.MouseButton.NoButton)  # fmt: skip
    assert blocker.args[0]["shape"] == "point"
    ((px, py),) = blocker.args[0]["coords"]
    assert abs(px - 70) < 1.5 and abs(py - 80) < 1.5
    assert viewer._regions.visible_count() == 2


def test_saved_regions_show_only_on_their_slice(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    path2 = str(viewer.current_frame().info.path).replace("IM0001", "IM0002")
    viewer.set_regions([
        {"shape": "ellipse", "coords": [[10, 10], [30, 20]], "frame": 0, "path": path2},
        {"shape": "point", "coords": [[5, 5]], "frame": 0, "path": path2},
    ])  # fmt: skip
    assert viewer._regions.visible_count() == 0
    qtbot.keyClick(viewer, Qt.Key.Key_Down)
    _wait_shown(qtbot, viewer, 1)
    assert viewer._regions.visible_count() == 2


def test_wheel_scrolls_and_hover_reports_hu(qtbot, viewer: SliceViewer) -> None:  # type: ignore[no-untyped-def]
    viewer._vb.on_scroll(1)
    _wait_shown(qtbot, viewer, 1)
    frame = viewer.current_frame()
    viewer._on_mouse_moved(viewer._vb.mapViewToScene(QPointF(64.5, 64.5)))
    hu = frame.value_at(64, 64)
    assert f"x 64, y 64: {hu:.0f} HU" in viewer.overlay_text()


def test_images_and_series_strip(qtbot, demo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(tmp_path / "photo.png")
    v = SliceViewer()
    qtbot.addWidget(v)
    v.show()
    v.set_images([tmp_path / "photo.png"], "Photo")
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    assert v._image.image.shape == (40, 60, 3)
    strip = SeriesStrip()
    qtbot.addWidget(strip)
    strip.attach(v)
    strip.set_series([("CT", sorted((demo / "ct").glob("*.dcm"))),
                      ("CR", sorted((demo / "cr").glob("*.dcm")))])  # fmt: skip
    qtbot.waitUntil(lambda: strip.has_thumbnail(0) and strip.has_thumbnail(1), timeout=10000)
    strip.select(1)
    qtbot.waitUntil(lambda: v.current_frame() is not None
                    and v.current_frame().info.modality == "CR", timeout=10000)  # fmt: skip
    assert v.slice_count() == 1 and v.presets() == ()


def test_undecodable_slice_reports_the_file(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 64)
    v = SliceViewer()
    qtbot.addWidget(v)
    with qtbot.waitSignal(v.sig_frame_failed, timeout=10000) as blocker:
        v.set_series([bad])
    assert str(bad) in blocker.args[0]
    assert "Cannot display" in v.overlay_text()


def test_jpeg2000_decodes_in_a_worker_process(qtbot) -> None:  # type: ignore[no-untyped-def]
    import pydicom.data

    from medreview.qt.imaging import loader

    path = Path(pydicom.data.__file__).parent / "test_files" / "693_J2KI.dcm"
    v = SliceViewer()
    qtbot.addWidget(v)
    v.set_series([path])
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=60000)
    assert loader._processes is not None  # routed to the process pool, not decoded in-thread
    np.testing.assert_array_equal(v._image.image, display_frame(path))
