"""Scan a folder of DICOM files (headers only) into series in anatomical order.

Slices are ordered by their position along the slice normal (cross product of the
ImageOrientationPatient row/column cosines, dotted with ImagePositionPatient), then by
InstanceNumber; file names and file order never matter. Files that are not DICOM images are
reported in ``ScanResult.skipped`` with the reason instead of failing the scan.

Files without a Series Instance UID (hand-made or converted objects) are not dropped: they
form series of their own, grouped by Study and Frame of Reference UID when both are present
(one acquisition geometry), else one series per file, under a derived UID (``2.25.<uuid5>`` of
the grouping key, so a re-import finds the same series). With ``check_display`` the first and
last frame of every image are decoded, so an image that cannot be shown is left out (with the
decoder's reason) at import rather than discovered by a physician.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from medreview.errors import DicomError
from medreview.imaging.bounds import Header, read_header
from medreview.progress import CancelToken, Progress, no_progress

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_DIRECTORY_SOP = "1.2.840.10008.1.3.10"  # Media Storage Directory (DICOMDIR)


@dataclass(frozen=True)
class DicomInstance:
    path: Path
    sop_uid: str
    instance_number: int | None
    position: float | None  # mm along the slice normal; None without geometry
    frame_count: int = 1


@dataclass(frozen=True)
class DicomSeries:
    study_uid: str
    series_uid: str
    modality: str
    description: str
    instances: tuple[DicomInstance, ...]

    @property
    def paths(self) -> list[Path]:
        return [i.path for i in self.instances]

    @property
    def n_frames(self) -> int:
        return sum(i.frame_count for i in self.instances)


@dataclass
class ScanResult:
    series: list[DicomSeries] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    # DICOM images refused by the pixel-data checks (also listed in ``skipped``): whatever
    # their file name, an import that asked for them must say why they were left out.
    refused: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class _Pending:
    study_uid: str
    series_uid: str
    modality: str
    description: str
    series_number: int | None
    instances: list[DicomInstance] = field(default_factory=list)
    orientations: set[tuple[float, ...] | None] = field(default_factory=set)


def scan_dicom_folder(
    folder: Path | str,
    *,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
    check_display: bool = False,
) -> ScanResult:
    """Every DICOM image under ``folder`` (recursive), grouped by study and series UID;
    ``check_display`` also decodes each image's first and last frame (import time)."""
    root = Path(folder)
    if not root.is_dir():
        raise DicomError("not a folder", source=str(root))
    files = sorted(p for p in _walk(root))
    result = ScanResult()
    groups: dict[tuple[str, str], _Pending] = {}
    seen_sop: dict[str, Path] = {}
    total = len(files)
    for done, path in enumerate(files):
        if token is not None:
            token.raise_if_cancelled()
        progress(done, total, f"Reading {path.name}")
        try:
            header = _read_header(path)
        except DicomError as exc:
            result.skipped.append((path, exc.reason))
            continue
        ds = header.ds
        reason = _not_an_image(ds)
        if reason:
            result.skipped.append((path, reason))
            continue
        try:
            frame_count = header.frames()
        except DicomError as exc:
            result.skipped.append((path, exc.reason))
            result.refused.append((path, exc.reason))
            continue
        if check_display:
            reason = _display_problem(path, frame_count)
            if reason:
                result.skipped.append((path, reason))
                result.refused.append((path, reason))
                continue
        sop = str(ds.get("SOPInstanceUID", "") or "")
        if sop and sop in seen_sop:
            reason = f"duplicate of {seen_sop[sop].name} (same SOP Instance UID)"
            result.skipped.append((path, reason))
            continue
        if sop:
            seen_sop[sop] = path
        key = (_text(ds, "StudyInstanceUID"), _series_key(ds, path))
        pending = groups.get(key)
        if pending is None:
            pending = groups[key] = _Pending(
                study_uid=key[0],
                series_uid=key[1],
                modality=str(ds.get("Modality", "") or ""),
                description=str(ds.get("SeriesDescription", "") or ""),
                series_number=_as_int(ds.get("SeriesNumber")),
            )
        pending.orientations.add(_orientation(ds.get("ImageOrientationPatient")))
        pending.instances.append(
            DicomInstance(
                path=path,
                sop_uid=sop,
                instance_number=_as_int(ds.get("InstanceNumber")),
                position=slice_position(
                    ds.get("ImageOrientationPatient"), ds.get("ImagePositionPatient")
                ),
                frame_count=frame_count,
            )
        )
    progress(total, total, "Scan complete")
    ordered = sorted(
        groups.values(),
        key=lambda g: (g.study_uid, g.series_number is None, g.series_number or 0, g.series_uid),
    )
    result.series = [
        DicomSeries(
            study_uid=g.study_uid,
            series_uid=g.series_uid,
            modality=g.modality,
            description=g.description,
            instances=tuple(
                order_instances(g.instances, single_orientation=len(g.orientations) == 1)
            ),
        )
        for g in ordered
    ]
    return result


def order_instances(
    instances: Sequence[DicomInstance], *, single_orientation: bool = True
) -> list[DicomInstance]:
    """Geometric order when every instance has a position in one shared orientation
    (positions along different normals are not comparable, e.g. a 3-plane localizer),
    else InstanceNumber, then path."""
    if single_orientation and instances and all(i.position is not None for i in instances):
        return sorted(
            instances,
            key=lambda i: (i.position, _number_key(i.instance_number), str(i.path)),
        )
    return sorted(instances, key=lambda i: (_number_key(i.instance_number), str(i.path)))


def slice_position(orientation: object, position: object) -> float | None:
    """Dot product of ImagePositionPatient with the slice normal; None if either is unusable."""
    try:
        o = [float(v) for v in orientation]  # type: ignore[attr-defined]
        p = [float(v) for v in position]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if len(o) != 6 or len(p) != 3:
        return None
    r, c = o[:3], o[3:]
    normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    if not any(normal):
        return None
    return sum(n * x for n, x in zip(normal, p, strict=True))


def _orientation(value: object) -> tuple[float, ...] | None:
    try:
        return tuple(round(float(v), 3) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None


def _number_key(n: int | None) -> tuple[bool, int]:
    return (n is None, n or 0)


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "")


def _as_int(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return out


def _read_header(path: Path) -> Header:
    from medreview.imaging.raster import is_raster

    if is_raster(path):
        raise DicomError("not a DICOM file (a raster image)", source=str(path))
    return read_header(path)


def _not_an_image(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if not sop_class and meta is not None:
        sop_class = str(meta.get("MediaStorageSOPClassUID", "") or "")
    if sop_class == _DIRECTORY_SOP or "DirectoryRecordSequence" in ds:
        return "DICOMDIR index file, not an image"
    if not ds.get("Rows") or not ds.get("Columns"):
        from pydicom.uid import UID

        name = UID(sop_class).name if sop_class else "unknown SOP class"
        return f"no image in this DICOM object ({name})"
    return ""


def _series_key(ds: Dataset, path: Path) -> str:
    """The Series Instance UID, or a derived one for files without it."""
    series = _text(ds, "SeriesInstanceUID").strip()
    if series:
        return series
    study, frame_of_ref = _text(ds, "StudyInstanceUID"), _text(ds, "FrameOfReferenceUID")
    basis = f"for:{study}:{frame_of_ref}" if study and frame_of_ref else f"file:{path}"
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, basis).int}"


def _display_problem(path: Path, frame_count: int) -> str:
    """Why the first or last frame cannot be shown ("" when both decode and render)."""
    from medreview.imaging.display import decode_frame

    for frame in sorted({0, frame_count - 1}):
        try:
            decode_frame(path, frame).render(None)
        except DicomError as exc:
            return f"cannot be displayed (frame {frame + 1} of {frame_count}): {exc.reason}"
        except Exception as exc:  # a malformed module the pipeline did not anticipate
            return (f"cannot be displayed (frame {frame + 1} of {frame_count}): "
                    f"{type(exc).__name__}")
    return ""
