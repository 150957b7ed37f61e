"""How many frames a DICOM file really holds, checked against its pixel data.

Header values are hostile input: ``NumberOfFrames`` = 2,147,483,647 in a 64 x 64 file must not
become 2³¹ of anything. Everything downstream (import, viewer index, decoder) uses the frame
count from here, which is the header's count clamped to what the pixel data can hold:

* native pixel data: ``length // frame size`` (rows x cols x samples x bits / 8);
* encapsulated pixel data: at most one frame per fragment, and at most the entries of the Basic
  (or Extended) Offset Table when there is one. Fragments are counted by walking item headers
  with seeks, without reading or decoding the compressed data, and never beyond the declared
  count, so the work is bounded by both the header and the file size.

Geometry is capped too (``MAX_FRAME_PIXELS``): Rows and Columns may legally be 65535, but one
frame of 65535 x 65535 x 3 cannot be displayed on any reviewer's machine. A refusal is a
``DicomError`` naming the file and the reason.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from medreview.errors import DicomError

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

MAX_FRAME_PIXELS = 256 * 1024 * 1024  # rows x cols x samples of one frame (256 MP)
_PIXEL_TAGS = {0x7FE00010: "", 0x7FE00008: "float", 0x7FE00009: "double"}
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"UT", b"SQ", b"UC", b"UR"}
_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_DEFLATED = "1.2.840.10008.1.2.1.99"


def declared_frames(ds: Dataset) -> int:
    """NumberOfFrames as written (1 when absent, malformed or below 1)."""
    try:
        value = ds.get("NumberOfFrames")
        n = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        return 1
    return max(n, 1)


def frame_bits(ds: Dataset, *, kind: str = "", source: str) -> int:
    """Bits one native frame occupies; DicomError when the geometry is absurd."""
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    samples = _int(ds, "SamplesPerPixel") or 1
    bits = {"float": 32, "double": 64}.get(kind) or _int(ds, "BitsAllocated") or 0
    if rows <= 0 or cols <= 0:
        raise DicomError(f"image size {rows} x {cols} is empty", source=source)
    if samples not in (1, 3, 4):
        raise DicomError(f"Samples per Pixel {samples} is not 1 or 3", source=source)
    if bits not in (1, 8, 16, 32, 64):
        raise DicomError(f"Bits Allocated {bits} is not supported", source=source)
    if rows * cols * samples > MAX_FRAME_PIXELS:
        raise DicomError(
            f"one frame of {rows} x {cols} x {samples} samples exceeds the viewer's budget of "
            f"{MAX_FRAME_PIXELS // (1024 * 1024)} megapixels",
            source=source,
        )
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if photometric == "YBR_FULL_422" and samples == 3:  # native 4:2:2 stores 2 values a pixel
        samples = 2
    return rows * cols * samples * bits


def frames_held(ds: Dataset, path: Path | str) -> int:
    """Frames the file holds; ``ds`` may be a header-only read (``stop_before_pixels``).

    When the dataset holds its pixel data the count comes from it; otherwise the file is
    read again up to the pixel data element (prefer ``read_header``, which reads it once).
    """
    source = str(path)
    kind, element = _pixel_element(ds)
    if element is not None and element.value is not None:
        value = element.value
        if not isinstance(value, bytes | bytearray):
            raise DicomError("pixel data is not a byte string", source=source)
        encapsulated = bool(getattr(element, "is_undefined_length", False))
        return _count(ds, kind, io.BytesIO(value), len(value), encapsulated, source)
    return read_header(path).frames()


@dataclass
class Header:
    """A header-only read, kept at the pixel data so ``frames()`` needs no second parse."""

    path: Path
    ds: Dataset
    _frames: int | None = None
    _refusal: DicomError | None = None

    def frames(self) -> int:
        """Frames the pixel data holds; DicomError (naming the file) when it is refused."""
        if self._refusal is not None:
            raise self._refusal
        assert self._frames is not None
        return self._frames


def read_header(path: Path | str) -> Header:
    """Header (no pixel values) plus the frame count the pixel data supports.

    Unreadable files raise ``DicomError`` here; a header that does not fit its pixel data is
    raised by ``Header.frames()``, so a caller can first decide whether the file is an image.
    """
    from medreview.imaging.codecs import read_dataset, transfer_syntax

    p = Path(path)
    try:
        with open(p, "rb") as fh:
            ds = read_dataset(p, headers_only=True, fh=fh)
            header = Header(p, ds)
            try:
                if transfer_syntax(ds) == _DEFLATED:  # positions are inside the zlib stream
                    header._frames = frames_held(read_dataset(p), p)
                else:
                    header._frames = _frames_in_stream(ds, fh, str(p))
            except DicomError as exc:
                header._refusal = exc
            return header
    except OSError as exc:
        raise DicomError(f"cannot read file: {exc.strerror or exc}", source=str(p)) from exc


def _frames_in_stream(ds: Dataset, fh: IO[bytes], source: str) -> int:
    """Count what the pixel data element at ``fh`` (just after the header) holds."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    end = "<" if little is not False else ">"
    head = fh.read(8)
    if len(head) < 8:
        raise DicomError("the file has no pixel data", source=source)
    group, elem = struct.unpack(f"{end}HH", head[:4])
    kind = _PIXEL_TAGS.get(group << 16 | elem)
    if kind is None:
        raise DicomError("the file has no pixel data", source=source)
    if not implicit and head[4:6] in _LONG_VRS:
        rest = fh.read(4)
        if len(rest) < 4:
            raise DicomError("pixel data element is truncated", source=source)
        (length,) = struct.unpack(f"{end}L", rest)
    elif not implicit and head[4:6].isalpha():
        (length,) = struct.unpack(f"{end}H", head[6:8])
    else:
        (length,) = struct.unpack(f"{end}L", head[4:8])
    start = fh.tell()
    size = os.fstat(fh.fileno()).st_size
    if length == _UNDEFINED:
        return _count(ds, kind, fh, size - start, True, source, endianness=end)
    return _count(ds, kind, fh, min(length, size - start), False, source)


def _count(
    ds: Dataset,
    kind: str,
    buf: IO[bytes],
    available: int,
    encapsulated: bool,
    source: str,
    *,
    endianness: str = "<",
) -> int:
    declared = declared_frames(ds)
    if not encapsulated:
        per_frame = frame_bits(ds, kind=kind, source=source)
        held = (available * 8) // per_frame
        if held < 1:
            raise DicomError(
                f"pixel data holds {available} bytes, less than one frame "
                f"({(per_frame + 7) // 8} bytes)",
                source=source,
            )
        return min(declared, held)
    frame_bits(ds, kind=kind, source=source)  # geometry caps apply to compressed data too
    try:
        from pydicom.encaps import parse_basic_offsets

        offsets = parse_basic_offsets(buf, endianness=endianness)
    except Exception as exc:
        raise DicomError(f"malformed encapsulated pixel data: {exc}", source=source) from exc
    fragments = _count_fragments(buf, declared, endianness)
    if fragments < 1:
        raise DicomError("encapsulated pixel data holds no fragment", source=source)
    held = fragments
    if declared > 1 and offsets:
        held = min(held, len(offsets))
    table = ds.get("ExtendedOffsetTable")
    if declared > 1 and isinstance(table, bytes | bytearray) and len(table) >= 8:
        held = min(held, len(table) // 8)
    return min(declared, held)


def _count_fragments(buf: IO[bytes], limit: int, endianness: str) -> int:
    """Fragment items after the offset table, counting no further than ``limit``."""
    here = buf.tell()
    end = buf.seek(0, os.SEEK_END)
    buf.seek(here)
    n = 0
    while n < limit:
        head = buf.read(8)
        if len(head) < 8:
            break
        tag_g, tag_e, length = struct.unpack(f"{endianness}HHL", head)
        if (tag_g << 16 | tag_e) != _ITEM or length == _UNDEFINED:
            break  # sequence delimiter, or something that is not a fragment
        n += 1  # a truncated last fragment still counts: the decoder says what is wrong
        here += 8 + length
        if here >= end:
            break
        buf.seek(here)
    return n


def _pixel_element(ds: Dataset) -> tuple[str, DataElement | None]:
    for tag, kind in _PIXEL_TAGS.items():
        if tag in ds:
            return kind, ds[tag]
    return "", None


def _int(ds: Dataset, keyword: str) -> int:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else 0
    except (TypeError, ValueError):
        return 0
