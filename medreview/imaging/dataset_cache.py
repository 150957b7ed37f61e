"""Whole-file datasets kept between decodes of the same file, in decode worker processes.

A multi-frame file (an enhanced CT/MR, an ultrasound cine) is decoded one frame per request;
without this every frame re-read and re-parsed the whole file, so scrolling through N frames
read the file N times. Worker processes (single-threaded) switch the cache on at start-up
(``enable``); elsewhere ``read_cached`` is a plain ``read_dataset``. Bounded by entries and by
file size; an entry is keyed by path, size and modification time, so a changed file is read
again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from medreview.imaging.codecs import read_dataset

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

MAX_ENTRIES = 2
MAX_FILE_BYTES = 256 * 1024 * 1024  # larger files are read per decode, never kept

_enabled = False
_cache: OrderedDict[tuple[str, int, int], Dataset] = OrderedDict()


def enable() -> None:
    """Keep datasets in this process (call only in a single-threaded decode process)."""
    global _enabled
    _enabled = True


def read_cached(path: Path) -> Dataset:
    """``read_dataset(path)``, from the cache when this process keeps one."""
    if not _enabled:
        return read_dataset(path)
    try:
        st = os.stat(path)
    except OSError:
        return read_dataset(path)  # reports the reason
    key = (str(path), st.st_size, st.st_mtime_ns)
    ds = _cache.get(key)
    if ds is not None:
        _cache.move_to_end(key)
        return ds
    ds = read_dataset(path)
    if st.st_size <= MAX_FILE_BYTES:
        _cache[key] = ds
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return ds


def clear() -> None:
    _cache.clear()
