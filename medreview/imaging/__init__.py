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
