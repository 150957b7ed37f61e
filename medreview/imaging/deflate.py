"""Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99) read with a bounded inflate.

pydicom inflates the whole dataset with ``zlib.decompress`` before reading it: a 1 MB file of
deflated zeros becomes a 1 GB allocation (deflate reaches about 1000:1), so one hostile file
could take the importer or the viewer down. Here the dataset is inflated in chunks with a
byte cap and refused with one line when it would exceed it; only then is it handed to
pydicom's public ``read_dataset``, exactly as ``dcmread`` would (PS3.5 A.5: everything after
the file meta is one raw deflate stream).

The cap (``inflate_cap``) is proportional to the compressed size, with a floor and a ceiling:
any file may inflate to ``INFLATE_FLOOR`` (small images with a black background compress
extremely well: pynetdicom's deflated 512 x 512 secondary capture is 57:1), a larger one to
``INFLATE_RATIO`` times its compressed size, and nothing beyond ``INFLATE_MAX``. A 1 MB bomb is
thus refused after 64 MB of output, not 1 GB; memory stays bounded by the cap because the
output is only copied once it has passed.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, BinaryIO, cast

from medreview.errors import DicomError

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset, FileMetaDataset

DEFLATED = "1.2.840.10008.1.2.1.99"
INFLATE_FLOOR = 64 * 1024 * 1024
INFLATE_RATIO = 64
INFLATE_MAX = 1024 * 1024 * 1024
_CHUNK = 256 * 1024  # compressed bytes read at a time
_STEP = 4 * 1024 * 1024  # inflated bytes produced at a time
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})  # as dcmread's stop_before_pixels


def inflate_cap(compressed_size: int) -> int:
    """The most bytes a deflated dataset of ``compressed_size`` bytes may inflate to."""
    return min(INFLATE_MAX, max(INFLATE_FLOOR, INFLATE_RATIO * compressed_size))


def inflate_bounded(fh: BinaryIO, cap: int, *, source: str) -> bytes:
    """Inflate the raw deflate stream from ``fh`` to its end; DicomError past ``cap`` bytes,
    on corrupt data, or when the stream stops before its end (a truncated file)."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    try:
        while not inflater.eof:
            chunk = inflater.unconsumed_tail or fh.read(_CHUNK)
            if not chunk:
                raise DicomError("deflated dataset is truncated (the stream stops early)",
                                 source=source)
            # max_length keeps each step small: what does not fit stays in unconsumed_tail.
            out += inflater.decompress(chunk, min(_STEP, cap + 1 - len(out)))
            if len(out) > cap:
                raise DicomError(
                    f"deflated dataset inflates to more than {cap // (1024 * 1024)} MB "
                    "(refused as a decompression bomb)", source=source)
    except zlib.error as exc:
        raise DicomError(f"deflated dataset is corrupt ({exc})", source=source) from None
    return bytes(out)


def deflated_meta(fh: BinaryIO) -> tuple[bytes, FileMetaDataset] | None:
    """Preamble and file meta when the file at ``fh`` is Deflated Explicit VR Little Endian
    (``fh`` left at the deflated stream); otherwise None with ``fh`` back where it was."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filereader import read_dataset

    start = fh.tell()
    preamble = fh.read(128)
    if fh.read(4) != b"DICM":
        fh.seek(start)
        return None
    try:
        meta = FileMetaDataset(read_dataset(
            fh, is_implicit_VR=False, is_little_endian=True,
            stop_when=lambda tag, _vr, _length: tag >> 16 != 2))
        syntax = str(meta.get("TransferSyntaxUID", "") or "")
    except Exception:  # a malformed meta: let the ordinary reader say what is wrong
        syntax = ""
    if syntax != DEFLATED:
        fh.seek(start)
        return None
    return preamble, meta


def read_deflated(fh: BinaryIO, preamble: bytes, meta: FileMetaDataset, *, name: str,
                  compressed_size: int, headers_only: bool) -> FileDataset:
    """The dataset of a deflated file, ``fh`` at its deflate stream (see ``deflated_meta``)."""
    from pydicom.dataset import FileDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    data = inflate_bounded(fh, inflate_cap(compressed_size), source=name)
    buffer = DicomBytesIO(data)
    buffer.name = name
    stop = (lambda tag, _vr, _length: tag in _PIXEL_TAGS) if headers_only else None
    dataset = read_dataset(cast("BinaryIO", buffer), is_implicit_VR=False,
                           is_little_endian=True, stop_when=stop)
    ds = FileDataset(buffer, dataset, preamble=preamble, file_meta=meta, is_implicit_VR=False,
                     is_little_endian=True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds
