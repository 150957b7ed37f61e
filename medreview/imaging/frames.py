"""Value types shared by the decoders and the viewer: ``FrameInfo`` and ``DecodedFrame``.

A ``DecodedFrame`` keeps the *stored* values plus the pipeline that displays them, so the
viewer can re-window (a new 64 K table, no re-decode) and read modality values under the
cursor. It is plain data (numpy arrays and frozen dataclasses) so worker processes can
return it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medreview.imaging.pipeline import GreyPipeline, Window, unsigned_view


@dataclass(frozen=True)
class FrameInfo:
    """Header facts about one image file (DICOM or PNG/JPEG)."""

    path: Path
    rows: int
    cols: int
    n_frames: int = 1
    modality: str = ""
    series_description: str = ""
    photometric: str = ""
    default_window: Window | None = None
    pixel_spacing: tuple[float, float] | None = None  # (row, column) spacing in mm
    spacing_source: str = ""  # "PixelSpacing", "ImagerPixelSpacing" (detector plane) or ""
    is_colour: bool = False
    kind: str = "dicom"  # "dicom" or "image" (PNG/JPEG)
    units: str = ""  # "HU" for CT, else RescaleType if given
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""
    instance_number: int | None = None
    transfer_syntax: str = ""


@dataclass(frozen=True, eq=False)
class DecodedFrame:
    """One decoded frame: stored values (grey) or RGB uint8 (colour), ready to display."""

    info: FrameInfo
    frame: int
    pixels: np.ndarray
    grey: GreyPipeline | None  # None for colour images
    value_range: tuple[float, float] | None = None  # automatic window, padding excluded
    overlay: np.ndarray | None = None  # bool rows x cols: the 60xx overlay planes shown here
    scale: int = 1  # >1: a reduced-resolution preview, one pixel per scale x scale of the image

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    @property
    def is_reduced(self) -> bool:
        return self.scale > 1

    @property
    def full_shape(self) -> tuple[int, int]:
        """(rows, columns) of the full-resolution image: the coordinate space of regions and
        measurements, whatever resolution ``pixels`` has."""
        if self.scale > 1 and self.info.rows > 0 and self.info.cols > 0:
            return self.info.rows, self.info.cols
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    @property
    def is_colour(self) -> bool:
        return self.grey is None

    def effective_window(self, window: Window | None = None) -> Window | None:
        """The window a ``render(window)`` uses, expressed as (center, width)."""
        if self.grey is None:
            return None
        return self.grey.effective_window(window, self.value_range)

    def lut(self, window: Window | None = None, invert: bool = False) -> np.ndarray | None:
        """uint8 table indexed by ``lut_index``; None for colour or >16-bit data."""
        if self.grey is None:
            return None
        return self.grey.lookup_table(
            self.pixels.dtype, window=window, auto=self.value_range, invert=invert
        )

    @property
    def lut_index(self) -> np.ndarray:
        return unsigned_view(self.pixels)

    def render(
        self, window: Window | None = None, invert: bool = False, overlays: bool = False
    ) -> np.ndarray:
        """uint8 display image: rows x cols (grey) or rows x cols x 3 (colour); with
        ``overlays`` the frame's overlay planes are drawn on top (white, yellow on colour)."""
        img = self._render(window, invert)
        if overlays and self.overlay is not None and self.overlay.shape == img.shape[:2]:
            img = img.copy()
            img[self.overlay] = (255, 255, 0) if img.ndim == 3 else 255
        return img

    def _render(self, window: Window | None, invert: bool) -> np.ndarray:
        if self.grey is None:
            return np.subtract(255, self.pixels, dtype=np.uint8) if invert else self.pixels
        table = self.lut(window, invert)
        if table is not None:
            return np.take(table, self.lut_index)
        return self.grey.to_display(
            self.pixels, window=window, auto=self.value_range, invert=invert
        )

    def modality_values(self) -> np.ndarray:
        """float64 modality values (HU for CT), NaN where the pixel is padding.

        Colour frames return their RGB values as float64.
        """
        if self.grey is None:
            return self.pixels.astype(np.float64)
        x = self.grey.modality(self.pixels)
        mask = self.grey.padding_mask(self.pixels)
        if mask is not None:
            x[mask] = np.nan
        return x

    def value_at(self, row: int, col: int) -> float | tuple[int, ...] | None:
        """Modality value (or RGB triple) of one pixel; None outside the image or on padding.

        ``row``/``col`` are full-resolution coordinates; a preview answers from the pixel that
        covers them."""
        rows, cols = self.full_shape
        if not (0 <= row < rows and 0 <= col < cols):
            return None
        row, col = row // self.scale, col // self.scale
        if not (0 <= row < self.pixels.shape[0] and 0 <= col < self.pixels.shape[1]):
            return None
        v = self.pixels[row, col]
        if self.grey is None:
            return tuple(int(c) for c in np.atleast_1d(v))
        one = np.asarray([v])
        mask = self.grey.padding_mask(one)
        if mask is not None and bool(mask[0]):
            return None
        return float(self.grey.modality(one)[0])
