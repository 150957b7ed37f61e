"""DICOM de-identification for exports: PS3.15 Annex E basic profile, table-driven.

The attribute actions come from ``dicom-anonymizer`` (KitwareMedical), which encodes Table
E.1-1 (we pin its ``dicomfields_2026c`` table): D/Z/X/U actions on ~650 attributes, nested
sequences cleaned, private tags removed, UIDs replaced consistently within a run. Around it,
medreview adds what the profile library does not do (see shared/design/dicom-notes.md §4):

1. refuse an instance whose Burned In Annotation (0028,0301) is YES or absent, unless the lead
   confirmed (``allow_burned_in``) — the header profile does not clean pixels;
2. shift every date (DA, and the date part of DT) by a per-case offset instead of blanking it
   (option 113107, Retain Longitudinal Temporal Information with Modified Dates), so intervals
   between a patient's studies survive; the offsets are never written to the export;
3. set Patient Identity Removed (0012,0062) — YES only when the pixels are declared clean —
   plus De-identification Method (0012,0063) and its code sequence (0012,0064: 113100, 113107);
4. remove the free text of overlays (Overlay Description/Label, 60xx,0022 and 60xx,1500),
   which the table leaves in place;
5. re-read the written file and search its bytes for every original identifying value; a hit
   deletes the file and raises ``DeidentificationError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.errors import MedreviewError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PROFILE_TABLE = "dicomfields_2026c"
METHOD = ("DICOM PS3.15 E.1-1 Basic Profile", "dicom-anonymizer table 2026c",
          "Modified Dates: per-case shift", "medreview export")
# Value representations whose values can carry identity and are worth searching for.
_TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "DA", "DT", "UI", "AS", "TM", "DS",
             "IS", "CS"}
MIN_IDENTIFIER_LEN = 4


class DeidentificationError(MedreviewError):
    """A file that cannot be exported de-identified (burned-in text, surviving identifier)."""


@dataclass(frozen=True)
class DeidResult:
    source_name: str
    dest: Path
    identity_removed: bool
    identifiers_checked: int
    burned_in: str  # "NO", "YES" or "absent"


def _profile_tags() -> dict[str, list[Any]]:
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    tags: dict[str, list[Any]] = dicom_anonymization_database_selector(PROFILE_TABLE)
    return tags


def _shift_date(value: str, days: int) -> str:
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""  # an unparseable date carries no safe information: blank it
    try:
        d = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return ""
    return (d + dt.timedelta(days=days)).strftime("%Y%m%d") + text[8:]


def _shift_element(el: Any, days: int) -> None:
    if el.VR not in ("DA", "DT") or el.value in (None, ""):
        return
    if isinstance(el.value, str):
        el.value = _shift_date(el.value, days)
    else:  # multi-valued
        el.value = [_shift_date(str(v), days) for v in el.value]


def identifying_values(ds: Dataset) -> set[bytes]:
    """Values of every attribute the profile acts on (and of private tags), as bytes."""
    from pydicom.tag import Tag

    profile = _profile_tags()
    acted: set[int] = set()
    for key, tags in profile.items():
        if key == "ALL_TAGS":
            continue
        for t in tags:
            if len(t) == 2:
                acted.add(int(Tag(t[0], t[1])))
    keep = {"DeidentificationMethod", "PatientIdentityRemoved"}
    found: set[bytes] = set()

    def visit(dataset: Dataset, el: Any) -> None:
        if el.VR == "SQ" or el.keyword in keep:
            return
        if not (int(el.tag) in acted or el.tag.is_private):
            return
        if el.VR not in _TEXT_VRS and not el.tag.is_private:
            return
        values = el.value if isinstance(el.value, list | tuple) else [el.value]
        for v in values:
            text = v.decode("latin-1", "ignore") if isinstance(v, bytes) else str(v)
            parts = {text.strip()}
            if el.VR == "PN":  # name components are identifying on their own
                parts |= set(text.replace("^", " ").split())
            for part in parts:
                if len(part) >= MIN_IDENTIFIER_LEN and not set(part) <= set("0.-+ "):
                    found.add(part.encode("utf-8", "ignore"))

    ds.walk(visit)
    return found


def _actions(days: int, shifted: set[tuple[int, int]]) -> Callable[[], dict[Any, Any]]:
    """The profile's actions, with date elements shifted instead of dummied/removed."""
    from dicomanonymizer.simpledicomanonymizer import initialize_actions

    base = initialize_actions(PROFILE_TABLE)

    def wrap(action: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        def run(dataset: Any, tag: Any) -> None:
            el = dataset.get(tag) if not isinstance(tag, list) else None
            if el is not None and el.VR in ("DA", "DT"):
                _shift_element(el, days)
                shifted.add((id(dataset), int(el.tag)))
                return
            action(dataset, tag)

        return run

    wrapped = {tag: wrap(action) for tag, action in base.items()}
    return lambda: dict(wrapped)


def deidentify_dataset(ds: Dataset, *, date_shift_days: int, identity_removed: bool) -> None:
    """Apply the profile, shift dates, mark the dataset. In place."""
    from dicomanonymizer.simpledicomanonymizer import anonymize_dataset
    from pydicom.dataset import Dataset as DicomDataset
    from pydicom.sequence import Sequence

    shifted: set[tuple[int, int]] = set()
    remove_overlay_text(ds)
    anonymize_dataset(ds, None, True, _actions(date_shift_days, shifted))

    def rest(dataset: Any, el: Any) -> None:  # dates the table does not list: shift them too
        if el.VR in ("DA", "DT") and (id(dataset), int(el.tag)) not in shifted:
            _shift_element(el, date_shift_days)

    ds.walk(rest)
    ds.PatientIdentityRemoved = "YES" if identity_removed else "NO"
    ds.DeidentificationMethod = list(METHOD)
    codes = []
    for value, meaning in (("113100", "Basic Application Confidentiality Profile"),
                           ("113107", "Retain Longitudinal Temporal Information Modified "
                                      "Dates Option")):
        item = DicomDataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(codes)
    if not identity_removed:
        ds.BurnedInAnnotation = ds.get("BurnedInAnnotation") or "YES"


def read_for_export(src: Path, label: str, *, headers_only: bool = False) -> Dataset:
    """Read a DICOM file the way the viewer does (files without file meta included);
    a ``DeidentificationError`` naming ``label`` when it cannot be read."""
    from medreview.errors import DicomError
    from medreview.imaging.codecs import read_dataset

    try:
        return read_dataset(Path(src), headers_only=headers_only)
    except DicomError as exc:
        raise DeidentificationError(f"not a readable DICOM file: {exc.reason}",
                                    source=label) from exc


def _ensure_file_meta(ds: Dataset) -> None:
    """Files without file meta (read as implicit little endian) get one, so they can be
    written as proper DICOM files."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    if "MediaStorageSOPClassUID" not in meta and "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "MediaStorageSOPInstanceUID" not in meta and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def remove_overlay_text(ds: Dataset) -> int:
    """Delete Overlay Description (60xx,0022) and Overlay Label (60xx,1500) in every overlay
    group, nested ones included: free text the profile's table does not reach. Returns how
    many elements were removed."""
    removed = 0

    def visit(dataset: Dataset) -> None:
        nonlocal removed
        for tag in [el.tag for el in dataset
                    if 0x6000 <= el.tag.group <= 0x601E and el.tag.group % 2 == 0
                    and el.tag.element in (0x0022, 0x1500)]:
            del dataset[tag]
            removed += 1
        for el in dataset:
            if el.VR == "SQ":
                for item in el.value:
                    visit(item)

    visit(ds)
    return removed


def burned_in_state(ds: Dataset) -> str:
    value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    return value if value in ("YES", "NO") else "absent"


def scan_for(path: Path, identifiers: set[bytes]) -> list[bytes]:
    """Which identifiers occur anywhere in the file's bytes."""
    raw = path.read_bytes()
    return sorted(i for i in identifiers if i and i in raw)


def deidentify_file(
    src: Path,
    dest: Path,
    *,
    date_shift_days: int,
    allow_burned_in: bool = False,
    extra_identifiers: set[bytes] | None = None,
    name: str = "",
) -> DeidResult:
    """De-identify one DICOM file to ``dest`` and verify it; raise if it cannot be done."""
    label = name or src.name
    ds = read_for_export(src, label)
    burned = burned_in_state(ds)
    if burned != "NO" and not allow_burned_in:
        raise DeidentificationError(
            f"Burned In Annotation is {burned}: the pixels may show patient identity; "
            "confirm (allow burned-in) after checking the images, or leave this file out",
            source=label)
    identifiers = identifying_values(ds) | (extra_identifiers or set())
    deidentify_dataset(ds, date_shift_days=date_shift_days, identity_removed=burned == "NO")
    _ensure_file_meta(ds)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        ds.save_as(dest, enforce_file_format=True)
    except Exception as exc:  # a header pydicom cannot write back as a DICOM file
        dest.unlink(missing_ok=True)
        raise DeidentificationError(f"cannot write the de-identified file: {exc}",
                                    source=label) from exc
    survivors = scan_for(dest, identifiers)
    if survivors:
        dest.unlink(missing_ok=True)
        shown = ", ".join(s.decode("utf-8", "replace")[:3] + "…" for s in survivors[:5])
        raise DeidentificationError(
            f"{len(survivors)} original identifying value(s) still present after "
            f"de-identification (starting {shown}); file not exported", source=label)
    return DeidResult(label, dest, burned == "NO", len(identifiers), burned)
