"""The one entry point for showing an image file: DICOM (any supported syntax) or PNG/JPEG.

- ``decode_frame(path, frame)`` → ``DecodedFrame`` (stored values + display pipeline); this is
  what viewer workers call, in threads or processes.
- ``display_frame(path, frame, window)`` → uint8 rows x cols (grey) or rows x cols x 3 (colour).
- ``modality_frame(path, frame)`` → float64 modality values (HU), NaN on padding.
- ``frame_info(path)`` → ``FrameInfo`` from the header only.

Every failure is a ``DicomError`` naming the file and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medreview.errors import DicomError
from medreview.imaging.bounds import declared_frames, frames_held, read_header
from medreview.imaging.codecs import decode_stored, transfer_syntax
from medreview.imaging.dataset_cache import read_cached
from medreview.imaging.frames import DecodedFrame, FrameInfo
from medreview.imaging.pipeline import GreyPipeline, Window, pipeline_from_dataset
from medreview.imaging.raster import decode_raster, is_raster, raster_info

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = [
    "DecodedFrame",
    "FrameInfo",
    "Window",
    "decode_frame",
    "display_frame",
    "frame_info",
    "modality_frame",
]

_COLOUR = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420", "YBR_PARTIAL_422", "YBR_ICT", "YBR_RCT"}
)


def display_frame(
    path: Path | str, frame: int = 0, window: tuple[float, float] | None = None
) -> np.ndarray:
    """uint8 display image of one frame; ``window=(center, width)`` overrides the file's VOI."""
    win = Window(float(window[0]), float(window[1])) if window is not None else None
    return decode_frame(path, frame).render(win)


def modality_frame(path: Path | str, frame: int = 0) -> np.ndarray:
    """Modality values (HU for CT) as float64, NaN on padding; RGB values for colour images."""
    return decode_frame(path, frame).modality_values()


def frame_info(path: Path | str) -> FrameInfo:
    """Header facts (no pixel decoding)."""
    p = Path(path)
    if is_raster(p):
        return raster_info(p)
    header = read_header(p)
    return info_from_dataset(p, header.ds, n_frames=header.frames())


def decode_frame(path: Path | str, frame: int = 0) -> DecodedFrame:
    """Decode one frame with the pinned plugin; DicomError on any failure."""
    p = Path(path)
    if is_raster(p):
        return decode_raster(p, frame)
    return decode_dataset_frame(p, read_cached(p), frame)


def decode_dataset_frame(p: Path, ds: Dataset, frame: int = 0) -> DecodedFrame:
    """``decode_frame`` of an already-read dataset (with its pixel data)."""
    held = frames_held(ds, p)  # the header's frame count may lie: trust the pixel data
    if not 0 <= frame < held:
        raise DicomError(f"frame {frame} out of range (the file holds {held})", source=str(p))
    if declared_frames(ds) != held:
        ds.NumberOfFrames = held  # so the decoder never walks frames that are not there
    info = info_from_dataset(p, ds, n_frames=held)
    arr = decode_stored(ds, frame, source=str(p))
    if not arr.dtype.isnative:  # big-endian syntaxes: the LUT indexes native bit patterns
        arr = arr.astype(arr.dtype.newbyteorder("="))
    try:
        if info.is_colour:
            rgb = _to_rgb8(arr, ds)
            return DecodedFrame(info=info, frame=frame, pixels=rgb, grey=None,
                                overlay=_overlay(ds, frame, rgb.shape[:2]))
        if arr.ndim != 2:
            raise DicomError(
                f"unexpected decoded shape {arr.shape} for a grey image", source=str(p)
            )
        grey = pipeline_from_dataset(ds, frame)
        return DecodedFrame(
            info=info, frame=frame, pixels=arr, grey=grey, value_range=value_range(arr, grey),
            overlay=_overlay(ds, frame, arr.shape),
        )
    except DicomError:
        raise
    except Exception as exc:  # malformed LUT/palette modules
        raise DicomError(f"cannot apply display pipeline: {exc}", source=str(p)) from exc


def info_from_dataset(path: Path, ds: Dataset, *, n_frames: int) -> FrameInfo:
    """``FrameInfo`` from an already-read dataset; ``n_frames`` as checked by ``bounds``."""
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    samples = _int(ds, "SamplesPerPixel") or 1
    modality = str(ds.get("Modality", "") or "")
    grey = pipeline_from_dataset(ds, 0)
    spacing, source = _spacing(ds)
    units = str(ds.get("RescaleType", "") or "")
    if not units and modality == "CT":
        units = "HU"
    return FrameInfo(
        path=path,
        rows=_int(ds, "Rows") or 0,
        cols=_int(ds, "Columns") or 0,
        n_frames=max(n_frames, 1),
        modality=modality,
        series_description=str(ds.get("SeriesDescription", "") or ""),
        photometric=photometric,
        default_window=grey.window,
        pixel_spacing=spacing,
        spacing_source=source,
        is_colour=photometric in _COLOUR or photometric == "PALETTE COLOR" or samples == 3,
        kind="dicom",
        units=units,
        patient_name=str(ds.get("PatientName", "") or ""),
        patient_id=str(ds.get("PatientID", "") or ""),
        study_date=str(ds.get("StudyDate", "") or ""),
        study_description=str(ds.get("StudyDescription", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        sop_uid=str(ds.get("SOPInstanceUID", "") or ""),
        instance_number=_int(ds, "InstanceNumber"),
        transfer_syntax=transfer_syntax(ds),
    )


def _int(ds: Dataset, keyword: str) -> int | None:
    """An integer attribute, None when absent or malformed (e.g. NumberOfFrames '1A')."""
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str]:
    # ImagerPixelSpacing is at the detector, not the patient: keep the source visible.
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None:
            try:
                r, c = (float(v) for v in value)
            except (TypeError, ValueError):
                continue
            if r > 0 and c > 0:
                return (r, c), keyword
    return None, ""


def _overlay(ds: Dataset, frame: int, shape: tuple[int, ...]) -> np.ndarray | None:
    """The frame's overlay mask; a malformed overlay is dropped, never fatal to the image."""
    from medreview.imaging.overlays import overlay_mask

    try:
        return overlay_mask(ds, frame, (int(shape[0]), int(shape[1])))
    except Exception:  # hostile 60xx values: show the image without them
        return None


AUTO_PERCENTILES = (2.0, 98.0)
_AUTO_SAMPLE = 4_000_000  # pixels; larger frames are sampled with a fixed stride


def value_range(arr: np.ndarray, grey: GreyPipeline) -> tuple[float, float] | None:
    """The automatic window of a frame without one (RT images, secondary captures...): the
    2nd to 98th percentile of its modality values, padding excluded, so extreme pixels (a
    65535 marker, a dark collimator edge, a small dense object) do not wash the image out
    (0.5-99.5 still left the pynetdicom RT image almost white); the full range when the
    percentiles coincide (binary or nearly uniform frames)."""
    mask = grey.padding_mask(arr)
    values = arr[~mask] if mask is not None else arr.ravel()
    if values.size == 0:
        return None
    if values.size > _AUTO_SAMPLE:
        values = values[:: -(-values.size // _AUTO_SAMPLE)]
    mod = grey.modality(values)
    finite = mod[np.isfinite(mod)]
    if finite.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(finite, AUTO_PERCENTILES))
    if not hi > lo:
        lo, hi = float(finite.min()), float(finite.max())
    return lo, hi


def _to_rgb8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Colour frame → uint8 RGB: palettes applied, YBR already converted by the decoder."""
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "PALETTE COLOR":
        from pydicom.pixels.processing import apply_color_lut

        rgb = apply_color_lut(arr, _native_palette(ds))
        if rgb.dtype.itemsize > 1:  # 16-bit LUT entries: keep the top byte
            rgb = np.right_shift(rgb, 8)
        return np.ascontiguousarray(rgb.astype(np.uint8))
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise DicomError(f"unexpected colour shape {arr.shape}", source=str(ds.filename))
    if arr.dtype == np.uint8:
        return arr
    bits = int(ds.get("BitsStored", 8 * arr.dtype.itemsize) or 8)
    shift = max(bits - 8, 0)
    return np.right_shift(arr.astype(np.uint64), shift).clip(0, 255).astype(np.uint8)


_PALETTE_DATA = ("RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
                 "BluePaletteColorLookupTableData", "AlphaPaletteColorLookupTableData")


def _native_palette(ds: Dataset) -> Dataset:
    """The dataset, or for big-endian files a shallow copy whose 16-bit palette LUT data is
    in native (little-endian) byte order: pydicom reads non-segmented LUT bytes as native
    whatever the transfer syntax, so big-endian palettes came out byte-swapped (all black).
    Segmented LUTs are decoded with the right byte order by pydicom already."""
    little = getattr(ds, "original_encoding", (None, True))[1]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("TransferSyntaxUID", "")) == "1.2.840.10008.1.2.2":
        little = False
    if little is not False or "RedPaletteColorLookupTableData" not in ds:
        return ds
    try:
        n = int(ds.RedPaletteColorLookupTableDescriptor[0]) or 65536
    except (AttributeError, TypeError, ValueError, IndexError):
        return ds
    from pydicom.dataset import Dataset as DicomDataset

    copy = DicomDataset()
    copy.file_meta = ds.file_meta
    for el in ds:
        if el.tag.group == 0x0028:
            copy.add(el)
    for keyword in _PALETTE_DATA:
        raw = ds.get(keyword)
        if isinstance(raw, bytes | bytearray) and len(raw) == 2 * n:  # 16-bit entries
            swapped = np.frombuffer(raw, dtype=">u2").astype("<u2").tobytes()
            setattr(copy, keyword, swapped)
    return copy
