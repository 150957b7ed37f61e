"""Convert between the image viewer's region dicts and ``domain.judgment.ImageRegion``.

The viewer speaks file paths and corner points (``[[x0, y0], [x1, y1]]``); a judgment stores
the attachment id and ``(x, y, width, height)`` in image pixels (``(x, y)`` for a point), so the
export can name the SOP Instance UID. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medreview.domain.judgment import Annotation, ImageRegion
from medreview.domain.rubric import Question
from medreview.services.views import AttachmentView, SeriesView

# What a mark on an image says, stored in the annotation's note (key → label shown).
REGION_MEANINGS: tuple[tuple[str, str], ...] = (
    ("mark", "Marked"),
    ("finding_here", "The finding the answer names is here"),
    ("finding_absent", "The finding the answer names is not here"),
    ("missed_finding", "A finding the answer misses"),
    ("error_site", "Where the answer is wrong"),
)
SHAPE_NAMES = {"rect": "Rectangle", "ellipse": "Ellipse", "point": "Point"}


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


def region_indices(annotations: Sequence[Annotation]) -> list[int]:
    """Positions of the image marks among a draft's annotations."""
    return [i for i, a in enumerate(annotations) if a.region is not None]


def region_caption(a: Annotation, series: Sequence[SeriesView],
                   questions: Sequence[Question]) -> str:
    """"Rectangle · CT head, slice 15/24 · 2. States an acute …" for the list of marks."""
    r = a.region
    if r is None:
        return ""
    where = "image"
    for s in series:
        ids = [att.id for att in s.attachments]
        if r.attachment_id in ids:
            name = " ".join(p for p in (s.modality, s.description) if p) or "image"
            where = (f"{name}, slice {ids.index(r.attachment_id) + 1}/{len(ids)}"
                     if len(ids) > 1 else name)
            break
    parts = [SHAPE_NAMES.get(r.shape, r.shape), where]
    for n, q in enumerate(questions, start=1):
        if q.id == a.question_id:
            prompt = q.prompt if len(q.prompt) <= 60 else q.prompt[:59] + "…"
            parts.append(f"{n}. {prompt}")
            break
    return " · ".join(parts)
