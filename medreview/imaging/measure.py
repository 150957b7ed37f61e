"""Viewer measurements in patient units: length, angle and ellipse ROI statistics.

Points are image coordinates (x = column, y = row, pixel centres at +0.5). Spacing is the
frame's (row, column) mm per pixel — PixelSpacing, else ImagerPixelSpacing (detector plane,
for CR/DX) — or None, in which case lengths and areas are in pixels ("px"). Statistics use
modality values (HU for CT, after the modality LUT / rescale); padding (NaN) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medreview.imaging.frames import DecodedFrame

Point = Sequence[float]
Spacing = tuple[float, float] | None


@dataclass(frozen=True)
class RoiStats:
    n: int  # pixels inside the ellipse (padding excluded)
    mean: float
    sd: float  # population standard deviation (ddof=0), as most viewers report
    minimum: float
    maximum: float
    area: float
    area_unit: str  # "mm²" or "px²"


def _scale(spacing: Spacing) -> tuple[float, float]:
    return (1.0, 1.0) if spacing is None else (float(spacing[0]), float(spacing[1]))


def length(a: Point, b: Point, spacing: Spacing) -> tuple[float, str]:
    """Distance a–b in mm (or px without spacing)."""
    row_mm, col_mm = _scale(spacing)
    dx = (float(b[0]) - float(a[0])) * col_mm
    dy = (float(b[1]) - float(a[1])) * row_mm
    return math.hypot(dx, dy), ("mm" if spacing is not None else "px")


def angle(a: Point, vertex: Point, c: Point, spacing: Spacing) -> float:
    """Angle a-vertex-c in degrees (0..180), measured in patient space (anisotropic pixels)."""
    row_mm, col_mm = _scale(spacing)
    ux, uy = (float(a[0]) - float(vertex[0])) * col_mm, (float(a[1]) - float(vertex[1])) * row_mm
    vx, vy = (float(c[0]) - float(vertex[0])) * col_mm, (float(c[1]) - float(vertex[1])) * row_mm
    nu, nv = math.hypot(ux, uy), math.hypot(vx, vy)
    if nu == 0.0 or nv == 0.0:
        return 0.0
    cos = max(-1.0, min(1.0, (ux * vx + uy * vy) / (nu * nv)))
    return math.degrees(math.acos(cos))


def ellipse_mask(shape: tuple[int, int], a: Point, b: Point) -> tuple[np.ndarray, slice, slice]:
    """Boolean mask of the pixels whose centres lie inside the ellipse inscribed in the box
    a–b, restricted to the box (clamped to the image) so cost is bounded by the image size."""
    rows, cols = shape
    if not all(math.isfinite(float(v)) for v in (*a[:2], *b[:2])):
        # saved marks come from rater packages: NaN/inf must not reach floor() or a slice
        return np.zeros((0, 0), bool), slice(0, 0), slice(0, 0)
    x0, x1 = sorted((float(a[0]), float(b[0])))
    y0, y1 = sorted((float(a[1]), float(b[1])))
    c0, c1 = max(0, math.floor(x0)), min(cols, math.ceil(x1))
    r0, r1 = max(0, math.floor(y0)), min(rows, math.ceil(y1))
    rs, cs = slice(r0, max(r0, r1)), slice(c0, max(c0, c1))
    rx, ry = (x1 - x0) / 2.0, (y1 - y0) / 2.0
    if rx <= 0 or ry <= 0 or r1 <= r0 or c1 <= c0:
        return np.zeros((max(r1 - r0, 0), max(c1 - c0, 0)), bool), rs, cs
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    yy = (np.arange(r0, r1, dtype=np.float64) + 0.5 - cy) / ry
    xx = (np.arange(c0, c1, dtype=np.float64) + 0.5 - cx) / rx
    return (yy[:, None] ** 2 + xx[None, :] ** 2) <= 1.0, rs, cs


def ellipse_stats(values: np.ndarray, a: Point, b: Point, spacing: Spacing) -> RoiStats | None:
    """Statistics of modality ``values`` (2-D float, NaN = padding) inside the ellipse a–b;
    None when it holds no (non-padding) pixel."""
    if values.ndim != 2:
        return None
    mask, rs, cs = ellipse_mask((values.shape[0], values.shape[1]), a, b)
    inside = values[rs, cs][mask]
    inside = inside[~np.isnan(inside)]
    if inside.size == 0:
        return None
    row_mm, col_mm = _scale(spacing)
    return RoiStats(
        n=int(inside.size),
        mean=float(inside.mean()),
        sd=float(inside.std()),
        minimum=float(inside.min()),
        maximum=float(inside.max()),
        area=float(inside.size) * row_mm * col_mm,
        area_unit="mm²" if spacing is not None else "px²",
    )


def frame_roi_stats(frame: DecodedFrame, a: Point, b: Point) -> RoiStats | None:
    """``ellipse_stats`` on a decoded grey frame, converting only the ellipse's bounding box to
    modality values (a whole large radiograph would cost ~8 bytes per pixel per redraw)."""
    if frame.grey is None or frame.pixels.ndim != 2:
        return None
    _mask, rs, cs = ellipse_mask((frame.pixels.shape[0], frame.pixels.shape[1]), a, b)
    stored = frame.pixels[rs, cs]
    values = frame.grey.modality(stored)
    padding = frame.grey.padding_mask(stored)
    if padding is not None:
        values[padding] = np.nan
    shift_x, shift_y = float(cs.start), float(rs.start)
    return ellipse_stats(values, (float(a[0]) - shift_x, float(a[1]) - shift_y),
                         (float(b[0]) - shift_x, float(b[1]) - shift_y),
                         frame.info.pixel_spacing)  # fmt: skip


def format_length(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}"


def format_stats(s: RoiStats, units: str = "") -> str:
    u = f" {units}" if units else ""
    return (f"mean {s.mean:.1f}{u}  SD {s.sd:.1f}\nmin {s.minimum:.0f}  max {s.maximum:.0f}"
            f"\narea {s.area:.1f} {s.area_unit}")
