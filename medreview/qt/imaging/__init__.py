"""Qt widgets for medical images: ``SliceViewer`` (one series) and ``SeriesStrip`` (thumbnails).

Only this package (and the rest of ``medreview.qt``) imports PySide6/pyqtgraph; the decoding and
display pipeline lives in the Qt-free ``medreview.imaging``.
"""

from __future__ import annotations
