"""ImagePane: the item's image series. Embeds ``medreview.qt.imaging``'s ``SliceViewer`` and
``SeriesStrip``; if that package cannot be imported (or fails to start) a minimal built-in
viewer shows one slice at a time through ``medreview.imaging.display``, so grading never
depends on the viewer. Regions drawn on the image are forwarded as viewer dicts.

A series opens at its key slice: the rater's first marked slice in it, else the case's
``key_slice`` metadata, else slice 1. M (or the viewer's Max button) makes the pane fill the
window it sits in by hiding its siblings, and brings them back."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QSlider,
    QSplitterHandle,
    QVBoxLayout,
    QWidget,
)

from medreview.domain.display_text import visible_text
from medreview.services.views import AttachmentView, SeriesView

if TYPE_CHECKING:  # numpy loads with the first image, not at start-up
    import numpy as np

log = logging.getLogger(__name__)


def key_slice(metadata: Mapping[str, Any] | None, series: SeriesView, position: int) -> int | None:
    """The 0-based key slice the case names for ``series`` (the ``position``-th shown).

    ``key_slice`` is a 1-based slice number of the first series, or a mapping from
    SeriesInstanceUID to one. Anything else (text, booleans, fractions, nested data) is
    ignored: the value comes from an imported file."""
    value = (metadata or {}).get("key_slice")
    if isinstance(value, Mapping):
        value = value.get(series.series_uid) if series.series_uid else None
    elif position != 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value - 1


def _marked_start(regions: list[dict], paths: list[Path]) -> tuple[Path, int] | None:
    """(file, frame) of the lowest marked slice of this series, by file order then frame."""
    order = {str(p): i for i, p in enumerate(paths)}
    best: tuple[int, int] | None = None
    for r in regions:
        i = order.get(str(r.get("path", "")))
        frame = r.get("frame", 0)
        if i is None or isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            continue
        if best is None or (i, frame) < best:
            best = (i, frame)
    return (paths[best[0]], best[1]) if best is not None else None


def _external(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        log.warning("%s.%s is not available; using the built-in image pane", module, name)
        return None


class BuiltinSliceViewer(QWidget):
    """Fallback: the middle slice first, a slider to scroll, default window from the file."""

    sig_region_drawn = Signal(dict)
    """Never emitted by the fallback (it has no drawing tools); present for API parity."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel("")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)  # series descriptions are data
        self.image = QLabel("No image")
        self.image.setTextFormat(Qt.TextFormat.PlainText)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(160, 160)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setStyleSheet("background: black; color: #aaa;")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        lay.addWidget(self.caption)
        lay.addWidget(self.image, 1)
        lay.addWidget(self.slider)
        self.paths: list[Path] = []
        self.pixels: np.ndarray | None = None
        self._pixmap: QPixmap | None = None

    def set_series(self, paths: list[Path], title: str = "", start: Any = None) -> None:
        self.paths = list(paths)
        self.caption.setText(visible_text(title))
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self.paths) - 1))
        self.slider.setValue(len(self.paths) // 2)
        self.slider.blockSignals(False)
        self.slider.setVisible(len(self.paths) > 1)
        self._on_slider_value_changed(self.slider.value())

    def set_images(self, paths: list[Path], title: str = "", start: Any = None) -> None:
        self.set_series(paths, title)

    def set_regions(self, regions: list[Any]) -> None:
        return None

    def _on_slider_value_changed(self, i: int) -> None:
        if not self.paths:
            self.pixels = None
            self._pixmap = None
            self.image.setText("No image")
            return
        import numpy as np

        from medreview.imaging.display import display_frame

        try:
            arr = np.ascontiguousarray(display_frame(self.paths[i], 0))
        except Exception as exc:  # a damaged file must not break grading: say what happened
            self.pixels = None
            self.image.setText(f"Cannot show {self.paths[i].name}: {exc}")
            return
        self.pixels = arr
        h, w = arr.shape[:2]
        fmt = QImage.Format.Format_Grayscale8 if arr.ndim == 2 else QImage.Format.Format_RGB888
        qimg = QImage(arr.data, w, h, arr.strides[0], fmt).copy()
        self._pixmap = QPixmap.fromImage(qimg)
        self.caption.setText(f"{self.caption.text().split('  ·  ')[0]}  ·  slice {i + 1}/"
                             f"{len(self.paths)}")
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.image.setPixmap(self._pixmap.scaled(
                self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()


class ImagePane(QWidget):
    sig_region_drawn = Signal(dict)
    """A region the rater drew on the image (forwarded from the viewer)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Images")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("paneTitle")
        lay.addWidget(self.title)
        self.picker = QComboBox()
        self.picker.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.picker.currentIndexChanged.connect(self._on_picker_index_changed)
        lay.addWidget(self.picker)
        self._viewer: Any = None
        self._strip: Any = None
        self._external = False
        self._hidden_for_max: list[QWidget] = []
        self._metadata: Mapping[str, Any] = {}
        self._regions: list[dict] = []
        self._body = QHBoxLayout()
        self._body.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._body, 1)
        self.series: tuple[SeriesView, ...] = ()
        self.current = -1

    # The viewer (pyqtgraph, numpy) is built with the first image, not with the window: the
    # window starts without loading them, and items without images never need them.
    @property
    def viewer(self) -> Any:
        self._build_viewer()
        return self._viewer

    @property
    def strip(self) -> Any:
        self._build_viewer()
        return self._strip

    @property
    def external(self) -> bool:
        self._build_viewer()
        return self._external

    def _build_viewer(self) -> None:
        if self._viewer is not None:
            return
        viewer_cls = _external("medreview.qt.imaging.slice_view", "SliceViewer")
        strip_cls = _external("medreview.qt.imaging.series_strip", "SeriesStrip")
        viewer: Any = None
        strip: Any = None
        if viewer_cls is not None:
            try:
                viewer = viewer_cls()
                strip = strip_cls() if strip_cls is not None else None
            except Exception:  # the embedded viewer failing must not take grading down
                log.exception("SliceViewer failed to start; using the built-in viewer")
                viewer = None
                strip = None
        self._external = viewer is not None
        if viewer is None:
            viewer = BuiltinSliceViewer()
        self._viewer = viewer
        self._strip = strip
        viewer.sig_region_drawn.connect(self.sig_region_drawn.emit)
        maximise = getattr(viewer, "sig_maximise", None)
        if maximise is not None:
            maximise.connect(self.toggle_maximised)
        if strip is not None:
            strip.setFixedWidth(132)
            strip.hide()  # shown for items with several series
            strip.sig_series_selected.connect(self._on_strip_series_selected)
            self._body.addWidget(strip)
            self.picker.hide()
        self._body.addWidget(viewer, 1)

    @staticmethod
    def _title(s: SeriesView) -> str:
        return " · ".join(p for p in (s.modality, s.description) if p) or "Image"

    def show_series(self, series: tuple[SeriesView, ...], regions: list[dict] | None = None,
                    metadata: Mapping[str, Any] | None = None) -> None:
        """Show the item's series; ``metadata`` is the case's (for ``key_slice``)."""
        self.series = series
        self._metadata = metadata if isinstance(metadata, Mapping) else {}
        if not series and self._hidden_for_max:
            self.toggle_maximised()  # an item without images must not leave a blank window
        self._regions = list(regions or [])
        if not series and self._viewer is None:  # nothing shown yet, nothing to show
            self.picker.clear()
            self.picker.hide()
            self.title.setText("Images")
            self.current = -1
            return
        self.picker.blockSignals(True)
        self.picker.clear()
        for s in series:
            self.picker.addItem(visible_text(f"{self._title(s)} ({len(s.attachments)})"))
        self.picker.blockSignals(False)
        self.picker.setVisible(self.strip is None and len(series) > 1)
        if self.strip is not None:
            # Short labels: the strip is narrow; the viewer shows the full title.
            self.strip.set_series([(s.modality or f"Series {n}", [a.path for a in s.attachments])
                                   for n, s in enumerate(series, start=1)])
            self.strip.setVisible(len(series) > 1)
        self.title.setText(f"Images ({len(series)} series)" if series else "Images")
        self._on_picker_index_changed(0)

    def attachments(self) -> list[AttachmentView]:
        return [a for s in self.series for a in s.attachments]

    def set_regions(self, regions: list[dict]) -> None:
        """Replace the marks shown (after one was removed from the judgment)."""
        self._regions = list(regions)
        if self._viewer is not None or self.series:
            self.viewer.set_regions(self._regions)

    def _on_strip_series_selected(self, index: int, _title: str, _paths: list) -> None:
        self._on_picker_index_changed(index)

    def _on_picker_index_changed(self, i: int) -> None:
        self.current = i if self.series and i >= 0 else -1
        if self.current < 0:
            self.viewer.set_series([], "")
            return
        s = self.series[i]
        paths = [a.path for a in s.attachments]
        start: tuple[Path, int] | int | None = _marked_start(self._regions, paths)
        if start is None:
            start = key_slice(self._metadata, s, i)
        if s.id is None and not any(a.kind == "dicom" for a in s.attachments):
            self.viewer.set_images(paths, "", start=start)
        else:
            self.viewer.set_series(paths, self._title(s), start=start)
        self.viewer.set_regions(self._regions)

    # -- maximise -----------------------------------------------------------------------------
    def is_maximised(self) -> bool:
        return bool(self._hidden_for_max)

    def toggle_maximised(self) -> None:
        """Fill the window: hide every visible sibling along the way up to the window (or to
        a main window's central widget, keeping menus and status bar); again = restore."""
        if not self._hidden_for_max and not self.isVisible():
            return  # no images on this item: nothing to enlarge
        if self._hidden_for_max:
            for w in self._hidden_for_max:
                w.show()
            self._hidden_for_max = []
            return
        child: QWidget = self
        parent = child.parentWidget()
        while parent is not None and not isinstance(parent, QMainWindow):
            direct = Qt.FindChildOption.FindDirectChildrenOnly
            for w in parent.findChildren(QWidget, options=direct):
                if (w is not child and not w.isWindow() and not w.isHidden()
                        and not isinstance(w, QSplitterHandle)):
                    w.hide()
                    self._hidden_for_max.append(w)
            if parent.isWindow():
                break
            child, parent = parent, parent.parentWidget()
        if self.isVisible():
            self.viewer.setFocus()

    def close_viewer(self) -> None:
        close = getattr(self.viewer, "close_loader", None)
        if close is not None:
            close()
