"""The viewer's overlay toggle: off by default, V or the button draws the 60xx planes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.data import get_testdata_file
from PySide6.QtCore import Qt

from medreview.imaging.display import decode_frame
from medreview.qt.imaging.slice_view import SliceViewer


def test_overlays_toggle_with_v_and_the_button(qtbot) -> None:  # type: ignore[no-untyped-def]
    path = Path(get_testdata_file("examples_overlay.dcm"))
    v = SliceViewer()
    qtbot.addWidget(v)
    v.resize(400, 400)
    v.show()
    qtbot.waitExposed(v)
    v.set_series([path], "overlay")
    qtbot.waitUntil(lambda: v.current_frame() is not None, timeout=10000)
    v.setFocus()
    frame = decode_frame(path)
    assert frame.overlay is not None and v.has_overlays()
    assert v._toolbar.overlays.isEnabled() and not v.overlays_shown()
    np.testing.assert_array_equal(v._image.image, frame.render())
    qtbot.keyClick(v, Qt.Key.Key_V)
    assert v.overlays_shown() and v._toolbar.overlays.isChecked()
    np.testing.assert_array_equal(v._image.image, frame.render(overlays=True))
    v._toolbar.overlays.click()
    assert not v.overlays_shown()
    np.testing.assert_array_equal(v._image.image, frame.render())
    v.close_loader()
