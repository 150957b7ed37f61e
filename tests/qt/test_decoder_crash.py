"""A JPEG 2000 decoder that dies takes one frame with it, not every later image.

The worker processes of the viewer's decode pool can be killed outright by a damaged
codestream (a crash in the C decoder); concurrent.futures then marks the whole pool broken.
Here a pool whose workers exit at start stands in for that crash.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from medreview.errors import DicomError
from medreview.qt.imaging import loader


def test_a_crashed_decode_pool_fails_one_frame_in_one_line_and_is_replaced() -> None:
    path = Path(str(get_testdata_file("693_J2KR.dcm")))
    assert loader._needs_process(path)  # decoded in worker processes
    dying = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                initializer=os._exit, initargs=(3,))
    with loader._lock:
        before, loader._processes = loader._processes, dying
    try:
        with pytest.raises(DicomError) as caught:
            loader.decode_routed(path, 0)
        message = str(caught.value)
        assert "693_J2KR.dcm" in message and "decoder stopped" in message
        assert "\n" not in message and "Traceback" not in message
        assert loader._processes is None  # the broken pool is gone
        frame = loader.decode_routed(path, 0)  # a fresh pool decodes the same file
        assert frame.pixels.size > 0
    finally:
        with loader._lock:
            fresh, loader._processes = loader._processes, before
        if fresh is not None and fresh is not before:
            fresh.shutdown(wait=True)
