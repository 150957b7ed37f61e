"""Export a project's media de-identified, with a report of what was done.

DICOM files go through ``medreview.exporters.deid`` (PS3.15 basic profile, one UID map for the
whole export, per-case date shift, burned-in refusal, whole-value leak scan against every
identifying value of the case's headers). Plain images are re-encoded by Pillow without their
metadata (EXIF, XMP, ICC, text chunks); documents are copied; both are byte-searched for the
case's specific identifying values. Files are named by case and position, never by their
original names (which can hold identity). A file that cannot be exported safely is left out and
listed with its reason; ``all_or_nothing`` refuses the whole export instead. The export is built
in a temporary folder and moved into place at the end: an error leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import secrets
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medreview.errors import InputError
from medreview.exporters.deid import (
    METHOD,
    PROFILE_TABLE,
    SAFE_PRIVATE,
    DeidentificationError,
    deidentify_file,
    identifying_values,
    read_for_export,
    scan_for,
    strong_identifiers,
)
from medreview.progress import Progress, no_progress
from medreview.storage.attachments import StoredAttachment, media_for_export
from medreview.storage.project import Project

REPORT_NAME = "deid_report.json"
SHIFT_RANGE = (-730, -30)


@dataclass
class MediaExportReport:
    outdir: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    retain_safe_private: bool = False
    # Specific identifying values of the headers, for byte searches of the other export files
    # (in memory only, never written).
    identifiers: set[bytes] = field(default_factory=set, repr=False)

    def to_dict(self) -> dict[str, Any]:
        dicom = [f for f in self.files if f["kind"] == "dicom"]
        return {
            "format": "medreview-media-export/1",
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "dicom": {
                "profile": "DICOM PS3.15 Annex E, Table E.1-1 Basic Application Level "
                           "Confidentiality Profile",
                "implementation": f"dicom-anonymizer, table {PROFILE_TABLE}",
                "options": ["113100 Basic Application Confidentiality Profile",
                            "113107 Retain Longitudinal Temporal Information Modified Dates"]
                           + (["113111 Retain Safe Private"] if self.retain_safe_private
                              else []),
                "private_tags": (
                    "removed, except the safe private attributes of PS3.15 Table E.3.10-1 "
                    f"that medreview keeps ({len(SAFE_PRIVATE)} listed in "
                    "docs/DEIDENTIFICATION.md; each file's kept ones under 'safe_private')"
                    if self.retain_safe_private else "removed"),
                "uids": "every instance UID (nested sequences and file meta included) "
                        "replaced through one map for this export, not recorded",
                "overlays_and_curves": "whole 60xx/50xx groups removed",
                "dates": "shifted by a random per-case offset of "
                         f"{-SHIFT_RANGE[1]} to {-SHIFT_RANGE[0]} days into the past; the "
                         "offsets are not recorded anywhere",
                "de_identification_method": list(METHOD),
                "burned_in_annotation": "files with BurnedInAnnotation YES or absent are "
                                        "refused unless the lead confirmed; confirmed files "
                                        "keep PatientIdentityRemoved = NO",
                "files": len(dicom),
                "identity_removed_yes": sum(1 for f in dicom if f["identity_removed"]),
            },
            "images": "re-encoded without metadata (EXIF/XMP/ICC/text chunks)",
            "documents": "copied unchanged",
            "file_names": "case id and position only; original names dropped",
            "verification": "every exported DICOM file was re-read and the whole values of "
                            "its identifying elements (profile attributes, names, dates, "
                            "times, instance UIDs, private tags, nested sequences included) "
                            "compared with every original identifying value of its case; "
                            "other files were searched byte-wise for the case's specific "
                            "identifying values: none found",
            "refused_count": len(self.refused),
            "files": self.files,
            "refused": self.refused,
        }


def _strip_image(src: Path, dest: Path) -> None:
    """Re-encode from pixels only: no info dict, EXIF, XMP, ICC profile or text chunk travels."""
    from PIL import Image

    with Image.open(src) as im:
        fmt = (im.format or "PNG").upper()
        im.load()
        clean = Image.frombytes(im.mode, im.size, im.tobytes())
        if im.mode == "P" and im.getpalette():
            clean.putpalette(im.getpalette() or [])
        if fmt in ("JPEG", "JPG"):
            clean.save(dest, "JPEG", quality=95)
        else:
            clean.save(dest, "PNG")


def export_media(
    project: Project,
    outdir: Path,
    *,
    case_ids: Iterable[int] | None = None,
    allow_burned_in: bool = False,
    all_or_nothing: bool = False,
    retain_safe_private: bool = False,
    seed: int | None = None,
    progress: Progress = no_progress,
) -> MediaExportReport:
    """Write ``outdir/<case>/<n>.<ext>`` and ``deid_report.json``; refuse rather than leak.

    A file that cannot be de-identified safely is left out and listed with its reason in
    ``report.refused`` (and the report file); the rest export. ``all_or_nothing`` instead
    exports nothing when any file is refused. ``retain_safe_private`` keeps the few private
    attributes PS3.15 lists as safe (``deid.SAFE_PRIVATE``, option 113111).
    """
    outdir = Path(outdir)
    if outdir.exists() and any(outdir.iterdir()):
        raise InputError("media export folder is not empty", source=str(outdir))
    # Unseeded by default: the date offsets must not be reproducible by a reader of the export.
    rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom(
        secrets.randbits(64))
    rows = media_for_export(project, case_ids)
    by_case: dict[str, list[StoredAttachment]] = defaultdict(list)
    for a in rows:
        by_case[a.case_external_id].append(a)
    report = MediaExportReport(outdir, retain_safe_private=retain_safe_private)
    uid_map: dict[str, str] = {}  # one map for the whole export: references stay resolvable
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".media-", dir=outdir.parent))
    try:
        done = 0
        for case_n, (ext, atts) in enumerate(sorted(by_case.items()), start=1):
            shift = rng.randint(*SHIFT_RANGE)
            case_dir = tmp / f"case-{case_n:05d}"
            identifiers: set[str] = set()
            unreadable: dict[int, str] = {}
            for a in atts:  # every identifier of the case, to search in all its files
                if a.kind == "dicom":
                    src = project.media.open_verified(a.sha256)
                    try:
                        header = read_for_export(src, f"case {ext}, attachment {a.id}",
                                                 headers_only=True)
                        identifiers |= identifying_values(
                            header, retain_safe_private=retain_safe_private)
                    except DeidentificationError as exc:
                        unreadable[a.id] = exc.reason
                    except RecursionError:  # sequences nested beyond any real object
                        unreadable[a.id] = "sequences nested too deeply to de-identify"
            strong = strong_identifiers(identifiers)
            for n, a in enumerate(atts, start=1):
                progress(done, len(rows), f"{ext}: {a.kind} {n}")
                done += 1
                src = project.media.open_verified(a.sha256)
                label = f"case {ext}, attachment {a.id}"
                if a.id in unreadable:
                    report.refused.append({"case": ext, "attachment_id": str(a.id),
                                           "reason": unreadable[a.id]})
                    continue
                if a.kind == "dicom":
                    dest = case_dir / f"{n:04d}.dcm"
                    try:
                        res = deidentify_file(src, dest, date_shift_days=shift,
                                              allow_burned_in=allow_burned_in,
                                              extra_identifiers=identifiers, uid_map=uid_map,
                                              name=label, retain_safe_private=retain_safe_private)
                    except DeidentificationError as exc:
                        report.refused.append({"case": ext, "attachment_id": str(a.id),
                                               "reason": exc.reason})
                        continue
                    entry: dict[str, Any] = {
                        "case": ext, "path": dest.relative_to(tmp).as_posix(), "kind": "dicom",
                        "attachment_id": a.id, "identity_removed": res.identity_removed,
                        "burned_in_annotation": res.burned_in}
                    if retain_safe_private:
                        entry["safe_private"] = list(res.safe_private)
                else:
                    suffix = Path(a.filename).suffix.lower()[:8] or ".bin"
                    dest = case_dir / f"{n:04d}{suffix}"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if a.kind == "image":
                        _strip_image(src, dest)
                    else:
                        shutil.copyfile(src, dest)
                    hits = scan_for(dest, strong)
                    if hits:  # free text: a byte search for the case's specific identifiers
                        dest.unlink()
                        report.refused.append({
                            "case": ext, "attachment_id": str(a.id),
                            "reason": f"contains {len(hits)} identifying value(s) of the "
                                      "case's DICOM headers"})
                        continue
                    entry = {"case": ext, "path": dest.relative_to(tmp).as_posix(),
                             "kind": a.kind, "attachment_id": a.id}
                report.files.append(entry)
            report.identifiers |= strong
        if report.refused and all_or_nothing:
            reasons = "; ".join(f"{r['case']} #{r['attachment_id']}: {r['reason']}"
                                for r in report.refused[:3])
            raise DeidentificationError(
                f"{len(report.refused)} file(s) refused, nothing was exported: {reasons}")
        (tmp / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        if outdir.exists():
            outdir.rmdir()
        os.replace(tmp, outdir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress(len(rows), len(rows), "done")
    return report
