"""Medical images for review: DICOM/PNG/JPEG decoding, display pipeline, series scanning.

Qt-free. Submodules import pydicom/numpy/Pillow themselves; importing this package is cheap.

- ``display``: ``display_frame`` / ``modality_frame`` / ``frame_info`` / ``decode_frame``.
- ``pipeline``: the grey-scale display transform (modality LUT → VOI → polarity → padding).
- ``codecs``: the decoder plugin pinned per transfer syntax.
- ``presets``: window presets per modality.
- ``dicom_series``: header-only folder scan grouped into geometrically ordered series.
- ``cache``: bounded LRU of decoded frames and the neighbour prefetch plan.
- ``demo_series``: deterministic demo CT/MR/CR material built from pydicom's bundled files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medreview.imaging.display import decode_frame, display_frame, frame_info, modality_frame

__all__ = ["decode_frame", "display_frame", "frame_info", "modality_frame"]


def __getattr__(name: str) -> Any:
    # ``medreview.imaging.display_frame`` is the public entry point; load numpy and pydicom
    # only when it is first used, so importing the package stays cheap.
    if name in __all__:
        from medreview.imaging import display

        return getattr(display, name)
    raise AttributeError(f"module 'medreview.imaging' has no attribute {name!r}")
