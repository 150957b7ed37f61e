"""Overlay planes (60xx groups): the 1-bit graphics some scanners store beside the image
(region outlines, annotations, CAD marks), as one boolean mask per displayed frame.

Every overlay group whose frames include the displayed one is read with pydicom's
``overlay_array`` and placed at its Overlay Origin (1-based row/column, may be negative or run
past the image), clipped to the image. Header values are hostile: an overlay larger than the
viewer's frame budget, or one whose data is shorter than its header says, is ignored (the
image itself is still shown); a malformed overlay never blocks the image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from medreview.imaging.bounds import MAX_FRAME_PIXELS

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def overlay_groups(ds: Dataset) -> list[int]:
    """The overlay groups (0x6000, 0x6002, ... 0x601E) holding Overlay Data."""
    return [g for g in range(0x6000, 0x6020, 2) if (g << 16 | 0x3000) in ds]


def overlay_mask(ds: Dataset, frame: int, shape: tuple[int, int]) -> np.ndarray | None:
    """Union of the overlay planes shown on ``frame`` (0-based), as a bool array of the image
    ``shape``; None when no plane applies (or every plane is unusable)."""
    mask: np.ndarray | None = None
    for group in overlay_groups(ds):
        plane = _plane(ds, group, frame)
        if plane is None:
            continue
        try:
            r0, c0 = (int(v) - 1 for v in ds[group << 16 | 0x0050].value)
        except (KeyError, TypeError, ValueError):
            r0 = c0 = 0
        rows, cols = shape
        src = plane[max(0, -r0):max(0, rows - r0), max(0, -c0):max(0, cols - c0)]
        if src.size == 0:
            continue
        if mask is None:
            mask = np.zeros(shape, dtype=bool)
        rr, cc = max(r0, 0), max(c0, 0)
        mask[rr:rr + src.shape[0], cc:cc + src.shape[1]] |= src.astype(bool)
    return mask


def _plane(ds: Dataset, group: int, frame: int) -> np.ndarray | None:
    try:
        rows = int(ds[group << 16 | 0x0010].value)
        cols = int(ds[group << 16 | 0x0011].value)
        n = int(ds.get(group << 16 | 0x0015).value or 1) if (group << 16 | 0x0015) in ds else 1
        origin = int(ds.get(group << 16 | 0x0051).value or 1) if (
            group << 16 | 0x0051) in ds else 1
    except (KeyError, TypeError, ValueError):
        return None
    if rows <= 0 or cols <= 0 or n <= 0 or rows * cols > MAX_FRAME_PIXELS:
        return None
    index = frame - (origin - 1)
    if not 0 <= index < n:
        return None  # this plane does not cover the displayed frame
    element = ds[group << 16 | 0x3000]
    data = element.value
    little = getattr(ds, "original_encoding", (None, True))[1] is not False
    if not little and element.VR == "OW" and isinstance(data, bytes) and len(data) % 2 == 0:
        data = np.frombuffer(data, dtype=">u2").astype("<u2").tobytes()  # words, not bytes
    if not isinstance(data, bytes | bytearray) or len(data) * 8 < rows * cols * (index + 1):
        return None  # shorter than its header says
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    start = rows * cols * index
    plane: np.ndarray = bits[start:start + rows * cols].reshape(rows, cols)
    return plane
