"""Which pixel-data decoder handles which transfer syntax, pinned.

pydicom 3 picks the first *installed* plugin by default (GDCM first when present), and JPEG
decoders disagree by a few grey levels; what a physician sees must not depend on what happens
to be installed, so every compressed syntax names exactly one plugin here. A missing plugin is
a ``DicomError``, never a silent fallback to another decoder.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, BinaryIO

from medreview.errors import DicomError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from pydicom.dataset import Dataset

# Transfer Syntax UID -> pydicom decoding plugin name ("" = native, numpy only).
_JPEG = "pylibjpeg"  # the only plugin decoding all JPEG processes incl. 12-bit extended
_J2K = "pylibjpeg"  # openjpeg; also the only HTJ2K decoder
_PLUGIN_BY_SYNTAX: dict[str, str] = {
    "1.2.840.10008.1.2": "",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1": "",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99": "",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2": "",  # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50": _JPEG,  # JPEG Baseline
    "1.2.840.10008.1.2.4.51": _JPEG,  # JPEG Extended (12-bit)
    "1.2.840.10008.1.2.4.57": _JPEG,  # JPEG Lossless P14
    "1.2.840.10008.1.2.4.70": _JPEG,  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80": "pyjpegls",  # JPEG-LS Lossless (CharLS, fastest measured)
    "1.2.840.10008.1.2.4.81": "pyjpegls",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90": _J2K,  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91": _J2K,  # JPEG 2000
    "1.2.840.10008.1.2.4.201": _J2K,  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202": _J2K,  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203": _J2K,  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg",  # RLE (pylibjpeg-rle: 3.5-11x pydicom's own)
}

# JPEG 2000 decoders hold the GIL: decode these in worker processes, not threads.
_GIL_BOUND = frozenset(
    {
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    }
)

# Files without file meta (very old or hand-made) are read as implicit little endian.
_DEFAULT_SYNTAX = "1.2.840.10008.1.2"


def transfer_syntax(ds: Dataset) -> str:
    """The dataset's Transfer Syntax UID as a plain string."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else _DEFAULT_SYNTAX


def plugin_for(syntax: str, *, source: str = "") -> str:
    """The pinned plugin for ``syntax`` ("" for native); DicomError if none is pinned."""
    try:
        return _PLUGIN_BY_SYNTAX[syntax]
    except KeyError:
        from pydicom.uid import UID

        name = UID(syntax).name
        raise DicomError(
            f"transfer syntax {name} ({syntax}) is not supported by the viewer", source=source
        ) from None


def needs_process(syntax: str) -> bool:
    """True when decoding this syntax should run in a worker process (GIL-bound codec)."""
    return syntax in _GIL_BOUND


def read_dataset(
    path: Path, *, headers_only: bool = False, fh: BinaryIO | None = None
) -> Dataset:
    """Read a DICOM file; DicomError naming the file if it is not DICOM or is unreadable.

    With ``fh`` (an open handle on ``path``) the header is read from it, and a header-only read
    leaves it at the pixel data element (``medreview.imaging.bounds`` reads on from there).
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    src: Path | BinaryIO = fh if fh is not None else path
    try:
        try:
            if fh is not None:
                deflated = _read_if_deflated(path, fh, headers_only)
            else:
                with open(path, "rb") as own:
                    deflated = _read_if_deflated(path, own, headers_only)
            if deflated is not None:
                return deflated
            return dcmread(src, stop_before_pixels=headers_only)
        except InvalidDicomError:
            # Old files without preamble/meta: accept them only when they start like a
            # dataset (group 0008 or 0002 first), so random files are still refused.
            if not _starts_like_dataset(path):
                raise
            if fh is not None:
                fh.seek(0)
            return _with_syntax(dcmread(src, stop_before_pixels=headers_only, force=True))
    except InvalidDicomError as exc:
        raise DicomError("not a DICOM file", source=str(path)) from exc
    except DicomError:
        raise
    except OSError as exc:
        raise DicomError(f"cannot read file: {exc.strerror or exc}", source=str(path)) from exc
    except Exception as exc:  # pydicom raises many types on malformed headers
        raise DicomError(f"malformed DICOM header: {exc}", source=str(path)) from exc


def _read_if_deflated(path: Path, fh: BinaryIO, headers_only: bool) -> Dataset | None:
    """A Deflated Explicit VR Little Endian file read with a bounded inflate
    (``medreview.imaging.deflate``; pydicom's own inflate has no limit); None for any other
    file, with ``fh`` where it was."""
    from medreview.imaging.deflate import deflated_meta, read_deflated

    found = deflated_meta(fh)
    if found is None:
        return None
    preamble, meta = found
    try:
        size = os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not a real file: the path's size
        size = path.stat().st_size
    return read_deflated(fh, preamble, meta, name=str(path), compressed_size=size - fh.tell(),
                         headers_only=headers_only)


def _with_syntax(ds: Dataset) -> Dataset:
    """A file without file meta: record the encoding it was read with as its Transfer Syntax,
    so decoders (which look there) can read its native pixel data."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit is not False
                                  else ExplicitVRLittleEndian if little is not False
                                  else ExplicitVRBigEndian)
    return ds


def _starts_like_dataset(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return len(head) == 8 and head[:2] in (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02")


def decode_stored(ds: Dataset, frame: int, *, source: str) -> np.ndarray:
    """Stored values of one frame with the pinned plugin (YBR is converted to RGB)."""
    from pydicom.pixels.utils import pixel_array

    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DicomError("the file has no pixel data", source=source)
    try:
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise DicomError(
            f"malformed Number of Frames {ds.get('NumberOfFrames')!r}", source=source
        ) from None
    if not 0 <= frame < n_frames:
        raise DicomError(f"frame {frame} out of range (0..{n_frames - 1})", source=source)
    syntax = transfer_syntax(ds)
    plugin = plugin_for(syntax, source=source)
    if plugin:
        _require_plugin(syntax, plugin, source)
    try:
        arr = pixel_array(ds, index=frame if n_frames > 1 else None, decoding_plugin=plugin)
    except Exception as exc:  # decoders raise ValueError/RuntimeError/KeyError/...
        msg = str(exc).strip().splitlines()
        detail = msg[-1].strip() if msg else type(exc).__name__
        via = f" with {plugin}" if plugin else ""
        raise DicomError(f"cannot decode pixel data{via}: {detail}", source=source) from exc
    return arr


def _require_plugin(syntax: str, plugin: str, source: str) -> None:
    from pydicom.pixels.decoders.base import get_decoder

    decoder = get_decoder(syntax)
    if decoder is None or plugin not in decoder.available_plugins:
        from pydicom.uid import UID

        raise DicomError(
            f"decoder plugin '{plugin}' for {UID(syntax).name} is not installed",
            source=source,
        )
