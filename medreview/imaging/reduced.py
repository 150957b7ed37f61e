"""Reduced-resolution JPEG 2000 decoding: the preview the viewer shows while scrolling fast.

A JPEG 2000 codestream holds its image as resolution levels (wavelet decomposition), so a
decoder can stop ``N`` levels early and return an image 2^N times smaller for a fraction of
the work (a 512x512 CT slice at N=1: ~35 % of a full decode; a 1024x1024 MR at N=2: ~8 %).
pylibjpeg-openjpeg (the pinned J2K plugin) has no such option; Pillow's J2K plugin, built on
the same OpenJPEG, has (``Image.reduce``). Its output is mapped back to stored values exactly
as the codestream defines them (Pillow widens N-bit data to 16 bits and level-shifts signed
data), and the sign is corrected to Pixel Representation as pydicom does, so a preview pixel
is the same kind of number as a full-resolution one and shares its display pipeline.

A preview is only ever a stand-in: the viewer replaces it with the full decode when the
scroll stops. Anything this module does not handle (colour, > 16 bits, a codestream whose
size disagrees with Rows/Columns, fewer levels than wanted, other codecs) gets the full
decode instead, so asking for a preview never fails where a full decode would succeed.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medreview.imaging.codecs import needs_process, transfer_syntax
from medreview.imaging.dataset_cache import read_cached

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from medreview.imaging.frames import DecodedFrame

PREVIEW_TARGET = 256  # a preview keeps at least this many pixels on its longer side
MAX_LEVEL = 3  # 8x smaller at most: beyond that a preview is too coarse to orient by
_MAIN_HEADER_MARKERS = 64  # markers read before giving up on finding COD (hostile input)


def preview_level(rows: int, cols: int, *, target: int = PREVIEW_TARGET) -> int:
    """Resolution levels to drop so the longer side stays >= ``target`` (0: not worth it)."""
    level, side = 0, max(rows, cols)
    while level < MAX_LEVEL and side >> (level + 1) >= target:
        level += 1
    return level


def reduced_supported(syntax: str, rows: int, cols: int, samples: int = 1) -> bool:
    """Whether a preview of such a frame is cheaper than its full decode."""
    return needs_process(syntax) and samples == 1 and preview_level(rows, cols) > 0


def decode_preview(path: Path | str, frame: int = 0, *, target: int = PREVIEW_TARGET
                   ) -> DecodedFrame:  # fmt: skip
    """A reduced-resolution ``DecodedFrame`` (``scale`` > 1) of a grey JPEG 2000 frame, or
    the full decode (``scale`` 1) when no cheaper preview exists. DicomError as
    ``decode_frame``."""
    from medreview.imaging.display import decode_dataset_frame
    from medreview.imaging.raster import decode_raster, is_raster

    p = Path(path)
    if is_raster(p):
        return decode_raster(p, frame)
    ds = read_cached(p)
    reduced = _try_reduced(p, ds, frame, target)
    return reduced if reduced is not None else decode_dataset_frame(p, ds, frame)


def _try_reduced(p: Path, ds: Dataset, frame: int, target: int) -> DecodedFrame | None:
    from medreview.imaging.bounds import frames_held
    from medreview.imaging.display import info_from_dataset, value_range
    from medreview.imaging.frames import DecodedFrame
    from medreview.imaging.pipeline import pipeline_from_dataset

    syntax = transfer_syntax(ds)
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if not reduced_supported(syntax, rows, cols, _int(ds, "SamplesPerPixel") or 1):
        return None
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() not in (
        "MONOCHROME1", "MONOCHROME2"
    ):  # fmt: skip
        return None
    held = frames_held(ds, p)
    if not 0 <= frame < held or "PixelData" not in ds:
        return None  # the full decode reports the reason
    try:
        codestream = _frame_codestream(ds, frame, held)
        found = _decode_reduced(codestream, ds, rows, cols, target)
    except Exception:
        return None
    if found is None:
        return None
    arr, level = found
    info = info_from_dataset(p, ds, n_frames=held)
    grey = pipeline_from_dataset(ds, frame)
    return DecodedFrame(info=info, frame=frame, pixels=arr, grey=grey,
                        value_range=value_range(arr, grey), overlay=None,
                        scale=1 << level)  # fmt: skip


def _frame_codestream(ds: Dataset, frame: int, n_frames: int) -> bytes:
    from pydicom.encaps import get_frame

    eot = None
    if "ExtendedOffsetTable" in ds:
        eot = (ds.ExtendedOffsetTable, ds.get("ExtendedOffsetTableLengths"))
    data: bytes = get_frame(ds.PixelData, frame, extended_offsets=eot,
                            number_of_frames=n_frames)  # fmt: skip
    return data


def _decode_reduced(codestream: bytes, ds: Dataset, rows: int, cols: int, target: int
                    ) -> tuple[np.ndarray, int] | None:  # fmt: skip
    """(stored values 2^level smaller, level), or None when this codestream gets a full
    decode."""
    from openjpeg.utils import get_parameters
    from PIL import Image

    params = get_parameters(codestream)
    prec, signed = int(params["precision"]), bool(params["is_signed"])
    if (int(params["rows"]), int(params["columns"])) != (rows, cols):
        return None  # the header lies about the size: let the full decode refuse it
    if int(params["samples_per_pixel"]) != 1 or not 1 <= prec <= 16:
        return None
    levels = decomposition_levels(codestream)
    level = min(preview_level(rows, cols, target=target), levels or 0)
    if level <= 0:
        return None
    with Image.open(io.BytesIO(codestream), formats=["JPEG2000"]) as im:
        im.reduce = level  # type: ignore[assignment,method-assign]  # J2K: levels to drop
        im.load()
        container = 8 if im.mode == "L" else 16
        wide = np.asarray(im).astype(np.int32)
    if wide.ndim != 2 or container < prec:
        return None
    # Pillow: value' = (value + 2^(prec-1) if signed) << (container - prec); undo it
    values = wide >> (container - prec)
    if signed:
        values = values - (1 << (prec - 1))
    return _as_stored(values, ds, prec, signed), level


def _as_stored(values: np.ndarray, ds: Dataset, prec: int, j2k_signed: bool) -> np.ndarray:
    """The stored-value dtype pydicom gives the full decode, sign corrected the same way."""
    allocated = _int(ds, "BitsAllocated") or (8 if prec <= 8 else 16)
    pixel_rep = _int(ds, "PixelRepresentation")
    itemsize = 1 if allocated <= 8 else 2
    dtype = np.dtype(f"{'i' if pixel_rep == 1 else 'u'}{itemsize}")
    out = values.astype(dtype)  # wraps like the decoder's container
    shift = 8 * itemsize - prec
    if shift and j2k_signed != (pixel_rep == 1):  # pydicom's _apply_sign_correction
        np.left_shift(out, shift, out=out)
        np.right_shift(out, shift, out=out)
    return np.ascontiguousarray(out)


def decomposition_levels(codestream: bytes) -> int | None:
    """Wavelet decomposition levels from the main header's COD marker; None if not found.

    Reads at most ``_MAIN_HEADER_MARKERS`` marker segments, each bounded by the buffer."""
    if codestream[:2] != b"\xff\x4f":  # SOC; a JP2 file (boxes) gets the full decode
        return None
    pos = 2
    for _ in range(_MAIN_HEADER_MARKERS):
        if pos + 4 > len(codestream):
            return None
        marker, length = struct.unpack_from(">HH", codestream, pos)
        if marker == 0xFF90:  # SOT: end of the main header
            return None
        if marker == 0xFF52:  # COD: Scod, progression, layers(2), MCT, then levels
            if length < 10 or pos + 2 + length > len(codestream):
                return None
            return int(codestream[pos + 9])
        if length < 2:
            return None
        pos += 2 + length
    return None


def _int(ds: Dataset, keyword: str) -> int:
    try:
        return int(ds.get(keyword) or 0)
    except (TypeError, ValueError):
        return 0
