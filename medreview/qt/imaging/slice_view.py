"""``SliceViewer``: scroll, window/level, zoom and mark regions on a DICOM series or images.

Raster pyqtgraph only (no OpenGL). Decoding runs in ``FrameLoader`` workers with neighbours
prefetched; the UI thread only applies the 64 K display table (sub-millisecond for a CT
slice) and paints. While the reader scrolls through a JPEG 2000 series, slices not decoded
yet are shown from reduced-resolution previews (decoded ahead of the scroll direction), and
the full decode replaces the preview once the scroll stops (``SETTLE_MS``). A preview is
drawn stretched over the full image's extent, so regions, measurements and the cursor keep
full-resolution pixel coordinates; ROI statistics are only computed on full frames.
Keys act only while the viewer has focus (no application shortcuts):
Up/Left, Down/Right = previous/next slice, PageUp/PageDown = 10 slices, Home/End,
0 = file window, 1-9 = modality presets, I = invert, F = fit, O = 1:1, H = hide patient
details, V = overlay graphics (60xx planes) on/off, W = window/level tool (left-drag),
R/E/P = rectangle/ellipse/point tool, L/A = length/angle measurement, D = ellipse ROI
statistics without a mark, X = clear measurements,
C = cine play/pause, M = maximise the pane (signal to the host), N or Esc = navigate.
While the viewer has focus these keys win over the window's shortcuts (ShortcutOverride),
except Escape, which the host may use to leave the viewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QSlider, QVBoxLayout, QWidget

from medreview.imaging.cache import prefetch_plan
from medreview.imaging.frames import DecodedFrame
from medreview.imaging.pipeline import Window
from medreview.imaging.presets import WindowPreset, presets_for
from medreview.imaging.slice_index import SliceIndex
from medreview.qt.imaging.loader import FrameKey, FrameLoader, IndexEntry, Job, warm_processes
from medreview.qt.imaging.measurements import MeasureLayer, measure_label
from medreview.qt.imaging.overlay import Overlay, format_value
from medreview.qt.imaging.regions import RegionLayer
from medreview.qt.imaging.toolbar import ViewerToolbar
from medreview.qt.imaging.view_box import TOOLS, ImageViewBox

PAGE = 10
_KEY_TOOLS = {"n": "navigate", "w": "window", "r": "rect", "e": "ellipse", "p": "point",
              "l": "length", "a": "angle", "d": "roi"}  # fmt: skip
_LETTERS = frozenset("iofhvxcm") | frozenset(_KEY_TOOLS)
_NAV_KEYS = frozenset({Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right,
                       Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home,
                       Qt.Key.Key_End})  # fmt: skip
_SLIDER_MAX = 2**31 - 1  # QSlider holds a C int
SETTLE_MS = 30  # no slice change for this long: the scroll has stopped, refine to full
PREVIEW_AHEAD = 12  # previews decoded ahead of the scroll direction while moving


class SliceViewer(QWidget):
    """A single-viewport image viewer for one series (DICOM) or a list of PNG/JPEG images."""

    sig_slice_changed = Signal(int, int)
    """(index, count): the displayed slice changed (0-based index)."""

    sig_window_changed = Signal(float, float)
    """(center, width): the window/level in force changed (modality units, e.g. HU)."""

    sig_region_drawn = Signal(dict)
    """A region was drawn: {"shape": "rect"|"ellipse"|"point", "coords": [[x, y], ...] in image
    pixels (x = column, y = row; rect/ellipse = top-left and bottom-right corners), "frame":
    frame index in the file, "series_uid", "sop_uid", "path": str}."""

    sig_frame_failed = Signal(str)
    """A slice could not be decoded; the message names the file and the reason."""

    sig_maximise = Signal()
    """The user asked (M or the Max button) for the pane to fill its window, or go back."""

    sig_measured = Signal(dict)
    """A length, angle or ROI was measured: {"kind", "points", "path", "frame", "label"}
    ("roi" points are the ellipse's box corners)."""

    def __init__(self, parent: QWidget | None = None, *, hide_patient_details: bool = False):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._loader = FrameLoader(self)
        self._loader.sig_frame_ready.connect(self._on_frame_ready)
        self._loader.sig_frame_failed.connect(self._on_frame_failed)
        self._loader.sig_index_ready.connect(self._on_index_ready)
        self._entries: list[IndexEntry] = []
        self._slices = SliceIndex()  # slice -> (entry index, frame), computed on demand
        self._index = 0
        self._direction = 1
        self._generation = 0
        self._title = ""
        self._window: Window | None = None  # None: the file's own VOI per slice
        self._invert = False
        self._show_overlays = False  # the file's 60xx graphics, off until asked for
        self._current: DecodedFrame | None = None
        self._shown_key: FrameKey | None = None
        self._shown_index = -1  # the slice number of the image on screen
        self._needs_fit = True
        self._drag_start: Window | None = None
        self._presets: tuple[WindowPreset, ...] = ()
        self._start_at: tuple[Path, int] | int | None = None  # key slice to open at
        self._cine = QTimer(self)
        self._cine.timeout.connect(self._cine_tick)
        self._fps = 10
        self._progressive = True  # previews while scrolling (JPEG 2000); off: full only
        self._moving = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._on_settled)

        self._view = pg.GraphicsView(background="k")
        self._view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._vb = ImageViewBox()
        self._view.setCentralItem(self._vb)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._vb.addItem(self._image)
        self._vb.on_scroll = self.step
        self._vb.on_window_drag = self._on_window_drag
        self._vb.on_shape = self._on_shape
        self._vb.on_press = self.setFocus
        self._vb.on_measure = self._on_measure
        self._regions = RegionLayer(self._vb)
        self._measures = MeasureLayer(self._vb)
        self._overlay = Overlay(self._view, hide_patient=hide_patient_details)
        self._vb.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self._toolbar = ViewerToolbar(self)
        self._toolbar.sig_tool.connect(self.set_tool)
        self._toolbar.sig_preset.connect(self._apply_preset_index)
        self._toolbar.sig_invert.connect(self.set_inverted)
        self._toolbar.sig_fit.connect(self.fit)
        self._toolbar.sig_one_to_one.connect(self.one_to_one)
        self._toolbar.sig_hide_patient.connect(self.set_patient_details_hidden)
        self._toolbar.sig_overlays.connect(self.set_overlays_shown)
        self._toolbar.sig_cine.connect(self.set_playing)
        self._toolbar.sig_fps.connect(self.set_fps)
        self._toolbar.sig_maximise.connect(self.sig_maximise.emit)
        self._toolbar.set_hide_patient(hide_patient_details)

        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._slider.setMinimum(0)
        self._slider.valueChanged.connect(self.set_slice)
        bottom = QHBoxLayout()
        bottom.addWidget(self._slider, 1)
        bottom.addWidget(self._toolbar.counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._toolbar)
        layout.addWidget(self._view, 1)
        layout.addLayout(bottom)
        self._refresh_overlay()

    # -- content ------------------------------------------------------------------------------
    def set_series(self, paths: Sequence[Path | str], title: str = "",
                   start: tuple[Path | str, int] | int | None = None) -> None:
        """Show a series (files in display order); frames of multi-frame files become slices.

        ``start`` is the key slice to open at: a 0-based slice number, or (file, frame) of a
        file in ``paths``; out of range or unknown means the first slice."""
        self._reset([Path(p) for p in paths], title)
        self._start_at = (Path(start[0]), int(start[1])) if isinstance(start, tuple) else start
        self._loader.index(self._generation, [e.path for e in self._entries])

    def set_images(self, paths: Sequence[Path | str], title: str = "",
                   start: tuple[Path | str, int] | int | None = None) -> None:
        """Show PNG/JPEG (or DICOM) files as a stack, one slice per file."""
        self._reset([Path(p) for p in paths], title)
        self._start_at = (Path(start[0]), int(start[1])) if isinstance(start, tuple) else start
        self._build_slices()

    def set_regions(self, regions: Sequence[dict]) -> None:
        """Show saved regions (dicts as emitted by ``sig_region_drawn``) on their slices."""
        self._regions.set_regions(regions)
        self._show_marks()

    def regions(self) -> list[dict]:
        return self._regions.regions()

    def measurements(self) -> list[dict]:
        """Lengths and angles measured on this series (viewer tools, not saved)."""
        return self._measures.measurements()

    def measurement_labels(self) -> list[str]:
        """Texts drawn on the current slice: measurements, then ellipse ROI statistics."""
        return self._measures.visible_labels()

    def roi_texts(self) -> list[str]:
        return list(self._measures.roi_texts)

    def clear_measurements(self) -> None:
        self._measures.clear()
        self._show_marks()

    # -- cine ---------------------------------------------------------------------------------
    def set_playing(self, on: bool) -> None:
        """Cine: step through the slices at ``fps`` (looping) on a UI timer; decoding stays
        in the loader's workers, and a tick waits while the slice on screen is not decoded."""
        on = bool(on) and len(self._slices) > 1
        if on:
            self._cine.start(max(1, round(1000 / self._fps)))
        else:
            self._cine.stop()
        self._toolbar.set_playing(on)

    def is_playing(self) -> bool:
        return self._cine.isActive()

    def set_fps(self, fps: int) -> None:
        self._fps = max(1, min(int(fps), 60))
        if self._toolbar.fps.value() != self._fps:
            self._toolbar.fps.setValue(self._fps)
        if self._cine.isActive():
            self._cine.setInterval(max(1, round(1000 / self._fps)))

    def fps(self) -> int:
        return self._fps

    # -- navigation ---------------------------------------------------------------------------
    def slice_count(self) -> int:
        return len(self._slices)

    def current_index(self) -> int:
        return self._index

    def current_frame(self) -> DecodedFrame | None:
        """The decoded frame on screen (None while loading)."""
        return self._current

    def set_slice(self, index: int) -> None:
        if not self._slices:
            return
        index = max(0, min(int(index), len(self._slices) - 1))
        if index != self._index:
            if self._index >= 0:  # a move by the reader (not the opening slice)
                self._moving = True
                self._settle.start()
            self._direction = 1 if index > self._index else -1
            self._vb.reset_gesture()  # a half-drawn angle belongs to the slice it began on
        self._index = index
        if self._slider.value() != index:
            self._slider.blockSignals(True)
            self._slider.setValue(index)
            self._slider.blockSignals(False)
        self._show_current()
        self.sig_slice_changed.emit(index, len(self._slices))

    def step(self, delta: int) -> None:
        self.set_slice(self._index + delta)

    def set_progressive(self, on: bool) -> None:
        """Reduced-resolution previews while scrolling (default on); off: full decodes only."""
        self._progressive = bool(on)

    def showing_preview(self) -> bool:
        """True while the slice on screen is a reduced-resolution preview."""
        return self._current is not None and self._current.is_reduced

    # -- display state ------------------------------------------------------------------------
    def display_window(self) -> Window | None:
        """The window on screen (explicit, or the current slice's default)."""
        if self._window is not None:
            return self._window
        return self._current.effective_window(None) if self._current is not None else None

    def set_window(self, center: float, width: float) -> None:
        self._window = Window(float(center), max(float(width), 1.0))
        self._redisplay()
        self.sig_window_changed.emit(self._window.center, self._window.width)

    def reset_window(self) -> None:
        """Back to the file's own window (preset 0)."""
        self._window = None
        self._redisplay()
        w = self.display_window()
        if w is not None:
            self.sig_window_changed.emit(w.center, w.width)

    def presets(self) -> tuple[WindowPreset, ...]:
        return self._presets

    def set_inverted(self, inverted: bool) -> None:
        self._invert = bool(inverted)
        self._toolbar.set_inverted(self._invert)
        self._redisplay()

    def is_inverted(self) -> bool:
        return self._invert

    def set_overlays_shown(self, shown: bool) -> None:
        """Draw the file's overlay planes (when the current frame has any)."""
        self._show_overlays = bool(shown)
        self._redisplay()

    def overlays_shown(self) -> bool:
        return self._show_overlays

    def has_overlays(self) -> bool:
        return self._current is not None and self._current.overlay is not None

    def set_patient_details_hidden(self, hidden: bool) -> None:
        self._overlay.hide_patient = bool(hidden)
        self._toolbar.set_hide_patient(bool(hidden))
        self._refresh_overlay()

    def patient_details_hidden(self) -> bool:
        return self._overlay.hide_patient

    def overlay_text(self) -> str:
        """All overlay corners as plain text (for tests and screen readers)."""
        return self._overlay.text()

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {TOOLS}")
        self._vb.reset_gesture()
        self._vb.tool = tool
        self._toolbar.set_tool(tool)

    def tool(self) -> str:
        return self._vb.tool

    def fit(self) -> None:
        if self._current is not None:
            rows, cols = self._current.full_shape
            self._vb.setRange(xRange=(0, cols), yRange=(0, rows), padding=0.0)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred on the current view."""
        if self._current is None:
            return
        centre = self._vb.viewRect().center()
        w, h = self._vb.width() or 1.0, self._vb.height() or 1.0
        self._vb.setRange(
            xRange=(centre.x() - w / 2, centre.x() + w / 2),
            yRange=(centre.y() - h / 2, centre.y() + h / 2),
            padding=0.0,
        )

    def close_loader(self) -> None:
        """Cancel queued decodes (called automatically when the widget closes)."""
        self._loader.close()

    # -- Qt events ----------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # The grading window binds some of the same letters (I, N, F, digits...): while the
        # viewer has focus its own keys win. Escape stays with the window.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            plain = mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
            text = event.text().lower()
            if plain and (Qt.Key(event.key()) in _NAV_KEYS or text in _LETTERS
                          or (len(text) == 1 and text.isdigit())):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, text = Qt.Key(event.key()), event.text().lower()
        k = Qt.Key
        nav = {k.Key_Up: -1, k.Key_Left: -1, k.Key_Down: 1, k.Key_Right: 1,
               k.Key_PageUp: -PAGE, k.Key_PageDown: PAGE}  # fmt: skip
        if key in nav:
            self.step(nav[key])
        elif key == k.Key_Home:
            self.set_slice(0)
        elif key == k.Key_End:
            self.set_slice(len(self._slices) - 1)
        elif key == k.Key_Escape:
            self.set_tool("navigate")
        elif text in _KEY_TOOLS:
            self.set_tool(_KEY_TOOLS[text])
        elif text == "c":
            self.set_playing(not self.is_playing())
        elif text == "m":
            self.sig_maximise.emit()
        elif text == "x":
            self.clear_measurements()
        elif text == "i":
            self.set_inverted(not self._invert)
        elif text == "f":
            self.fit()
        elif text == "o":
            self.one_to_one()
        elif text == "h":
            self.set_patient_details_hidden(not self._overlay.hide_patient)
        elif text == "v":
            self.set_overlays_shown(not self._show_overlays)
        elif text.isdigit():
            self._apply_preset_index(int(text))
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._overlay.place()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._cine.stop()
        self._settle.stop()
        self.close_loader()
        super().closeEvent(event)

    # -- internals: series state ----------------------------------------------------------------
    def _reset(self, paths: list[Path], title: str) -> None:
        self._generation += 1
        self.set_playing(False)
        self._vb.reset_gesture()
        self._measures.clear()
        self._start_at = None
        self._loader.cancel_except(set())
        self._moving = False
        self._settle.stop()
        self._entries = [IndexEntry(p, 1) for p in paths]
        self._slices = SliceIndex()
        self._index = 0
        self._title = title
        self._window = None
        self._current = None
        self._shown_key = None
        self._shown_index = -1
        self._needs_fit = True
        self._image.clear()
        self._regions.show_for(None, -1)
        self._refresh_overlay()

    def _on_index_ready(self, generation: int, entries: list[IndexEntry]) -> None:
        if generation != self._generation:
            return  # a newer series replaced this one
        self._entries = entries
        if any(e.needs_process for e in entries):
            warm_processes()  # start the JPEG 2000 decoders while the first slice is read
        self._build_slices()

    def _build_slices(self) -> None:
        # O(files), never O(frames): frame counts come from headers (clamped to the pixel
        # data by the index pass, but a long series of honest multi-frame files is still big)
        self._slices = SliceIndex(e.n_frames for e in self._entries)
        self._slider.blockSignals(True)
        self._slider.setMaximum(min(max(len(self._slices) - 1, 0), _SLIDER_MAX))
        self._slider.setValue(0)
        self._slider.blockSignals(False)
        self._index = -1  # so set_slice always shows (and reports) the opening slice
        self.set_slice(self._opening_slice())

    def _opening_slice(self) -> int:
        start, self._start_at = self._start_at, None
        n = len(self._slices)
        if isinstance(start, int) and 0 <= start < n:
            return start
        if isinstance(start, tuple):
            path, frame = start
            for i, e in enumerate(self._entries):
                if e.path == path:
                    return self._slices.position(i, max(0, frame))
        return 0

    def _key(self, index: int) -> FrameKey:
        entry, frame = self._slices[index]
        return (self._entries[entry].path, frame)

    def _current_identity(self) -> tuple[Path | None, int]:
        if not self._slices:
            return None, -1
        return self._key(self._index)

    def _show_current(self) -> None:
        key = self._key(self._index)
        frame = self._loader.cache.get(key)
        if frame is None and self._moving:
            frame = self._loader.previews.get(key)
        if frame is not None:
            if key != self._shown_key or frame is not self._current:
                self._display(key, frame)
        else:
            self._refresh_overlay(loading=True)
        self._loader.set_plan(self._plan())

    def _plan(self) -> list[Job]:
        """Decode jobs, most wanted first: the slice on screen and its neighbours in full;
        while the reader is scrolling through a series with previews, only previews of the
        slice on screen and those ahead: a full decode costs three previews and would be
        thrown away as the reader moves on (measured: with the slice on screen refined
        while moving, the viewer kept up with 16 slices/s instead of 35). When the scroll
        stops, ``_on_settled`` asks for the full slice first."""
        n = len(self._slices)
        full: list[Job] = [(self._key(i), False)
                           for i in prefetch_plan(self._index, n, direction=self._direction)]
        if not (self._moving and self._progressive):
            if self._refining():
                return full[:1]  # alone, so it has a core to itself; neighbours follow
            return full
        step = self._direction
        ahead = [self._index + k * step for k in range(PREVIEW_AHEAD + 1)]
        previews: list[Job] = []
        for i in ahead:
            if 0 <= i < n:
                entry = self._entries[self._slices[i][0]]
                if entry.preview:
                    previews.append((self._key(i), True))
        return previews or full

    def _refining(self) -> bool:
        """True while a preview is on screen for the current slice after the scroll stopped."""
        return self.showing_preview() and self._shown_key == self._key(self._index)

    def _on_settled(self) -> None:
        if not self._slices:
            return
        if self._shown_key != self._key(self._index) and self._moving:
            return  # its preview is still on the way; its arrival restarts the timer
        self._moving = False
        self._show_current()

    def _on_frame_ready(self, key: FrameKey, frame: DecodedFrame) -> None:
        if not self._slices or key != self._key(self._index):
            return  # never show a slice under another slice's number
        if key != self._shown_key or (self.showing_preview() and not frame.is_reduced):
            refined = self.showing_preview() and not frame.is_reduced
            self._display(key, frame)
            if frame.is_reduced and self._moving:
                self._settle.start()  # settled = SETTLE_MS with this preview on screen
            elif refined and not self._moving:
                self._loader.set_plan(self._plan())  # now the neighbours

    def _on_frame_failed(self, key: FrameKey, reason: str) -> None:
        if self._slices and key == self._key(self._index):
            self._current = None
            self._shown_key = key  # shown as an error: cine moves on instead of waiting
            self._image.clear()
            self._overlay.set_error(reason)
        self.sig_frame_failed.emit(reason)

    # -- internals: drawing ---------------------------------------------------------------------
    def _display(self, key: FrameKey, frame: DecodedFrame) -> None:
        first = self._current is None or self._needs_fit
        modality_changed = self._current is None or (
            self._current.info.modality != frame.info.modality
        )
        self._current = frame
        self._shown_key = key
        self._shown_index = self._index
        if modality_changed:
            self._presets = presets_for(frame.info.modality)
            self._toolbar.set_presets(self._presets)
        self._paint()
        spacing = frame.info.pixel_spacing
        self._vb.setAspectLocked(True, ratio=(spacing[0] / spacing[1]) if spacing else 1.0)
        if first:
            self._needs_fit = False
            self.fit()
        self._show_marks()
        self._refresh_overlay()

    def _paint(self) -> None:
        if self._current is None:
            return
        img = self._current.render(self._window, self._invert, overlays=self._show_overlays)
        self._image.setImage(img, autoLevels=False, levels=(0, 255))
        rows, cols = self._current.full_shape  # a preview is stretched over the full extent
        self._image.setRect(0.0, 0.0, float(cols), float(rows))
        self._toolbar.set_overlays(self._show_overlays, self.has_overlays())

    def _redisplay(self) -> None:
        self._paint()
        self._refresh_overlay()

    def _refresh_overlay(self, loading: bool = False) -> None:
        shown = self._index
        if self._current is not None and self._shown_key != self._current_identity():
            shown = self._shown_index  # still the previous slice's image: its own number
        self._overlay.update_from(
            self._current, title=self._title, index=shown, count=len(self._slices),
            window=self.display_window(), loading=loading, inverted=self._invert,
            target=self._index,
        )  # fmt: skip
        self._toolbar.counter.setText(
            f"{self._index + 1} / {len(self._slices)}" if self._slices else "0 / 0"
        )

    # -- internals: interaction -----------------------------------------------------------------
    def _apply_preset_index(self, number: int) -> None:
        if number == 0:
            self.reset_window()
        elif 1 <= number <= len(self._presets):
            p = self._presets[number - 1]
            self.set_window(p.center, p.width)

    def _on_window_drag(self, phase: str, dx: float, dy: float, fine: bool) -> None:
        if self._current is None or self._current.is_colour:
            return
        if phase == "start" or self._drag_start is None:
            self._drag_start = self.display_window() or Window(0.0, 1.0)
        start = self._drag_start
        # proportional sensitivity: a 256-pixel drag changes the window by its own width
        per_px = max(start.width, 1.0) / 256.0 * (0.1 if fine else 1.0)
        self.set_window(start.center + dy * per_px, max(start.width + dx * per_px, 1.0))
        if phase == "finish":
            self._drag_start = None

    def _on_shape(self, shape: str, a: QPointF, b: QPointF) -> None:
        if self._current is None:
            return
        rows, cols = self._current.full_shape

        def clamp(p: QPointF) -> list[float]:
            return [round(min(max(p.x(), 0.0), float(cols)), 2),
                    round(min(max(p.y(), 0.0), float(rows)), 2)]  # fmt: skip

        if shape == "point":
            coords = [clamp(a)]
        else:
            (x0, y0), (x1, y1) = clamp(a), clamp(b)
            if x0 == x1 or y0 == y1:
                return  # a click, not a shape
            coords = [[min(x0, x1), min(y0, y1)], [max(x0, x1), max(y0, y1)]]
        path, frame = self._shown_key if self._shown_key else (self._current.info.path, 0)
        region = {
            "shape": shape,
            "coords": coords,
            "frame": frame,
            "series_uid": self._current.info.series_uid,
            "sop_uid": self._current.info.sop_uid,
            "path": str(path),
        }
        self._regions.add(region)
        self._show_marks()
        self.sig_region_drawn.emit(region)

    def _show_marks(self) -> None:
        path, frame = self._current_identity()
        self._regions.show_for(path, frame)
        shown = self._current if self._shown_key == (path, frame) else None
        self._measures.show_for(path, frame, shown, self._regions.regions())

    def _on_measure(self, kind: str, points: list[QPointF]) -> None:
        if self._current is None or self._shown_key is None:
            return
        rows, cols = self._current.full_shape
        pts = [[min(max(p.x(), 0.0), float(cols)), min(max(p.y(), 0.0), float(rows))]
               for p in points]  # fmt: skip
        if kind == "roi" and (pts[0][0] == pts[1][0] or pts[0][1] == pts[1][1]):
            return  # a click, not an ellipse
        path, frame = self._shown_key
        m = {"kind": kind, "points": pts, "path": str(path), "frame": frame,
             "label": measure_label(kind, pts, self._full_frame() if kind == "roi"
                                    else self._current)}  # fmt: skip  (mm: same header)
        self._measures.add(m)
        self._show_marks()
        self.sig_measured.emit(m)

    def _full_frame(self) -> DecodedFrame:
        """The full-resolution frame on screen (ROI statistics need every pixel): the
        current frame, else the cached full decode, else decoded here (a preview is on
        screen only for the few ms before its refinement lands)."""
        assert self._current is not None and self._shown_key is not None
        if not self._current.is_reduced:
            return self._current
        full = self._loader.cache.get(self._shown_key)
        if full is None:
            from medreview.errors import DicomError
            from medreview.imaging.display import decode_frame

            try:
                full = decode_frame(*self._shown_key)
            except DicomError:
                return self._current  # no statistics on a preview (roi_label says so)
        return full

    def _cine_tick(self) -> None:
        if not self._slices or self._shown_key != self._key(self._index):
            return  # the slice on screen is still decoding: wait rather than skip
        self.set_slice((self._index + 1) % len(self._slices))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._current is None:
            return
        p = self._vb.mapSceneToView(scene_pos)
        col, row = math.floor(p.x()), math.floor(p.y())
        value = self._current.value_at(row, col)
        rows, cols = self._current.full_shape
        inside = 0 <= row < rows and 0 <= col < cols
        self._overlay.set_cursor(format_value(self._current, row, col, value) if inside else "")


def as_uint8_preview(frame: DecodedFrame, size: int = 96) -> np.ndarray:
    """A small rendered copy of a frame (nearest-neighbour), for thumbnails."""
    img = frame.render()
    step = max(1, math.ceil(max(img.shape[:2]) / size))
    return np.ascontiguousarray(img[::step, ::step])
