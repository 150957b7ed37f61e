"""Convert between the image viewer's region dicts and ``domain.judgment.ImageRegion``.

The viewer speaks file paths and corner points (``[[x0, y0], [x1, y1]]``); a judgment stores
the attachment id and ``(x, y, width, height)`` in image pixels (``(x, y)`` for a point), so the
export can name the SOP Instance UID. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medreview.domain.judgment import ImageRegion
from medreview.services.views import AttachmentView


def region_from_viewer(d: Mapping[str, Any], attachments: Sequence[AttachmentView]
                       ) -> ImageRegion | None:
    path = Path(str(d.get("path", "")))
    att = next((a for a in attachments if Path(a.path) == path), None)
    coords = [list(map(float, p)) for p in d.get("coords", [])]
    shape = str(d.get("shape", ""))
    if att is None or not coords or shape not in ("rect", "ellipse", "point"):
        return None
    if shape == "point":
        box: tuple[float, ...] = (coords[0][0], coords[0][1])
    else:
        if len(coords) < 2:
            return None
        (x0, y0), (x1, y1) = coords[0], coords[1]
        box = (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
    return ImageRegion(attachment_id=att.id, shape=shape, coords=box,
                       frame=int(d.get("frame", 0)), series_uid=d.get("series_uid"))


def region_to_viewer(r: ImageRegion, attachments: Sequence[AttachmentView]
                     ) -> dict[str, Any] | None:
    att = next((a for a in attachments if a.id == r.attachment_id), None)
    if att is None:
        return None
    if r.shape == "point":
        coords = [[r.coords[0], r.coords[1]]]
    else:
        x, y, w, h = r.coords
        coords = [[x, y], [x + w, y + h]]
    return {"shape": r.shape, "coords": coords, "frame": r.frame, "series_uid": r.series_uid,
            "path": str(att.path)}
