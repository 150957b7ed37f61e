"""PNG/JPEG (and other Pillow-readable) images as ``DecodedFrame``s.

Photographs and screenshots are shown as stored: 8-bit grey maps 0..255 one-to-one, 16-bit
grey spans its full range, palette/alpha/CMYK images become RGB; EXIF orientation is honoured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medreview.errors import DicomError
from medreview.imaging.frames import DecodedFrame, FrameInfo
from medreview.imaging.pipeline import GreyPipeline, Window

RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"})
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")

# Identity windows (LINEAR: c-0.5 and w-1 make x/255 resp. x/65535 exactly).
_IDENTITY_8 = Window(128.0, 256.0)
_IDENTITY_16 = Window(32768.0, 65536.0)


def is_raster(path: Path) -> bool:
    """True for PNG/JPEG/... by magic bytes (DICOM has 'DICM' at offset 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return path.suffix.lower() in RASTER_SUFFIXES
    if head[128:132] == b"DICM":
        return False
    if head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return True
    return path.suffix.lower() in RASTER_SUFFIXES


def _open(path: Path):  # type: ignore[no-untyped-def]
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as exc:
        raise DicomError(f"cannot read image: {exc}", source=str(path)) from exc


def raster_info(path: Path) -> FrameInfo:
    img = _open(path)
    with img:
        colour = img.mode not in ("1", "L", "I;16", "I;16B", "I;16L", "I", "F", "LA")
        w, h = img.size
        n = int(getattr(img, "n_frames", 1) or 1)
        exif = img.getexif()
    # EXIF orientations 5-8 swap width and height
    if exif.get(0x0112, 1) in (5, 6, 7, 8):
        w, h = h, w
    return FrameInfo(
        path=path,
        rows=h,
        cols=w,
        n_frames=n,
        modality="",
        series_description=path.name,
        photometric="RGB" if colour else "MONOCHROME2",
        is_colour=colour,
        kind="image",
    )


def decode_raster(path: Path, frame: int = 0) -> DecodedFrame:
    from PIL import ImageOps

    info = raster_info(path)
    if not 0 <= frame < info.n_frames:
        raise DicomError(f"frame {frame} out of range (0..{info.n_frames - 1})", source=str(path))
    img = _open(path)
    try:
        with img:
            if frame:
                img.seek(frame)
            img.load()
            oriented = ImageOps.exif_transpose(img) or img
            arr, grey = _to_array(oriented)
    except DicomError:
        raise
    except Exception as exc:  # truncated files, decoder errors
        raise DicomError(f"cannot decode image: {exc}", source=str(path)) from exc
    value_range = (float(arr.min()), float(arr.max())) if grey is not None else None
    return DecodedFrame(info=info, frame=frame, pixels=arr, grey=grey, value_range=value_range)


def _to_array(img) -> tuple[np.ndarray, GreyPipeline | None]:  # type: ignore[no-untyped-def]
    mode = img.mode
    if mode in ("1", "L", "LA") or (mode == "P" and _is_grey_palette(img)):
        return np.asarray(img.convert("L")), GreyPipeline(window=_IDENTITY_8)
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16), GreyPipeline(window=_IDENTITY_16)
    if mode in ("I", "F"):
        return np.asarray(img), GreyPipeline()  # full-range auto window
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))), None


def _is_grey_palette(img) -> bool:  # type: ignore[no-untyped-def]
    pal = img.getpalette()
    if not pal:
        return False
    rgb = np.asarray(pal, dtype=np.int64).reshape(-1, 3)
    return bool(np.all(rgb[:, 0] == rgb[:, 1]) and np.all(rgb[:, 1] == rgb[:, 2]))
