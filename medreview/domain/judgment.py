"""What a rater edits and saves: a judgment draft, and the revisions it becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextSpan:
    """Characters [start, end) of the answer text (the model output)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ImageRegion:
    """A marked region on an attachment: ``shape`` is rect, ellipse or point.

    ``coords`` are image pixel coordinates: (x, y, width, height) for rect and ellipse,
    (x, y) for point. ``frame`` is the slice index within the series.
    """

    attachment_id: int
    shape: str
    coords: tuple[float, ...]
    frame: int = 0
    series_uid: str | None = None


@dataclass(frozen=True)
class Annotation:
    """An error (category + severity) or a plain mark, optionally on a span or a region."""

    question_id: str | None = None
    category: str | None = None
    severity: str | int | None = None
    span: TextSpan | None = None
    region: ImageRegion | None = None
    note: str = ""
    # For a pairwise answer: the other output shown side by side ("B"), so a preference is
    # never ambiguous when a case has more than two answers.
    compared_output_id: int | None = None


@dataclass(frozen=True)
class JudgmentDraft:
    """The full state of one rater's judgment of one output, as the grading panel holds it."""

    answers: dict[str, Any] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    rationale: str = ""
    confidence: float | None = None
    flagged: bool = False
    skipped: bool = False
    time_on_task_s: float = 0.0
    overall_score: float | None = None


def annotation_to_dict(a: Annotation) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if a.question_id is not None:
        d["question_id"] = a.question_id
    if a.category is not None:
        d["category"] = a.category
    if a.severity is not None:
        d["severity"] = a.severity
    if a.span is not None:
        d["span"] = {"start": a.span.start, "end": a.span.end, "text": a.span.text}
    if a.region is not None:
        d["region"] = {
            "attachment_id": a.region.attachment_id,
            "shape": a.region.shape,
            "coords": list(a.region.coords),
            "frame": a.region.frame,
            "series_uid": a.region.series_uid,
        }
    if a.note:
        d["note"] = a.note
    if a.compared_output_id is not None:
        d["compared_output_id"] = a.compared_output_id
    return d


def annotation_from_dict(d: dict[str, Any]) -> Annotation:
    span = d.get("span")
    region = d.get("region")
    return Annotation(
        question_id=d.get("question_id"),
        category=d.get("category"),
        severity=d.get("severity"),
        span=TextSpan(int(span["start"]), int(span["end"]), str(span.get("text", "")))
        if span
        else None,
        region=ImageRegion(
            attachment_id=int(region["attachment_id"]),
            shape=str(region["shape"]),
            coords=tuple(float(c) for c in region["coords"]),
            frame=int(region.get("frame", 0)),
            series_uid=region.get("series_uid"),
        )
        if region
        else None,
        note=str(d.get("note", "")),
        compared_output_id=int(d["compared_output_id"])
        if d.get("compared_output_id") is not None
        else None,
    )
