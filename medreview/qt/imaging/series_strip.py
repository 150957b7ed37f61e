"""``SeriesStrip``: a vertical strip of series thumbnails; picking one shows it in a viewer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from medreview.imaging.frames import DecodedFrame
from medreview.qt.imaging.loader import FrameKey, FrameLoader
from medreview.qt.imaging.slice_view import SliceViewer, as_uint8_preview

THUMB = 96


def to_qimage(img) -> QImage:  # type: ignore[no-untyped-def]
    """uint8 grey (h, w) or RGB (h, w, 3) numpy array → an owning QImage copy."""
    h, w = img.shape[:2]
    if img.ndim == 2:
        q = QImage(img.data, w, h, img.strides[0], QImage.Format.Format_Grayscale8)
    else:
        q = QImage(img.data, w, h, img.strides[0], QImage.Format.Format_RGB888)
    return q.copy()  # detach from the numpy buffer


class SeriesStrip(QWidget):
    """Thumbnails (middle slice of each series) decoded off the UI thread."""

    sig_series_selected = Signal(int, str, list)
    """(index, title, paths): the user picked a series."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._list = QListWidget()
        self._list.setViewMode(QListWidget.ViewMode.IconMode)
        self._list.setFlow(QListWidget.Flow.TopToBottom)
        self._list.setWrapping(False)
        self._list.setIconSize(QSize(THUMB, THUMB))
        self._list.setMovement(QListWidget.Movement.Static)
        self._list.currentRowChanged.connect(self._on_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._list)
        self._loader = FrameLoader(self, max_bytes=64 * 1024**2)
        self._loader.sig_frame_ready.connect(self._on_thumb)
        self._series: list[tuple[str, list[Path]]] = []
        self._thumb_keys: dict[FrameKey, int] = {}

    def set_series(self, series: Sequence[tuple[str, Sequence[Path | str]]]) -> None:
        """Replace the strip's content with (title, paths) pairs, in display order."""
        self._list.blockSignals(True)
        self._list.clear()
        self._list.blockSignals(False)
        self._series = [(t, [Path(p) for p in ps]) for t, ps in series]
        self._thumb_keys = {}
        for row, (title, paths) in enumerate(self._series):
            item = QListWidgetItem(f"{title}\n{len(paths)} image(s)")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self._list.addItem(item)
            if paths:
                key = (paths[len(paths) // 2], 0)
                self._thumb_keys[key] = row
                self._loader.request(key)

    def count(self) -> int:
        return len(self._series)

    def has_thumbnail(self, row: int) -> bool:
        item = self._list.item(row)
        return item is not None and not item.icon().isNull()

    def select(self, row: int) -> None:
        self._list.setCurrentRow(row)

    def attach(self, viewer: SliceViewer) -> None:
        """Show picked series in ``viewer``."""
        self.sig_series_selected.connect(lambda _i, title, paths: viewer.set_series(paths, title))

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self._series):
            title, paths = self._series[row]
            self.sig_series_selected.emit(row, title, list(paths))

    def _on_thumb(self, key: FrameKey, frame: DecodedFrame) -> None:
        row = self._thumb_keys.get(key)
        item = self._list.item(row) if row is not None else None
        if item is None:
            return
        pix = QPixmap.fromImage(to_qimage(as_uint8_preview(frame, THUMB)))
        item.setIcon(QIcon(pix.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)))
