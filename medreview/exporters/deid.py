"""DICOM de-identification for exports: PS3.15 Annex E basic profile, table-driven.

The attribute actions come from Table E.1-1 as encoded by ``dicom-anonymizer`` (KitwareMedical;
we pin its ``dicomfields_2026c`` table, ~650 attributes with D/Z/X/U actions), applied here at
every nesting level (see docs/DEIDENTIFICATION.md for every departure from the defaults):

1. refuse a file that is not a whole object (no SOP identity, pixel data cut short) or whose
   Burned In Annotation (0028,0301) is YES or absent, unless the lead confirmed
   (``allow_burned_in``) — the header profile does not clean pixels;
2. replace every instance UID, nested sequences and file meta included, through one map shared
   by the whole export, so references (SEG -> source images) still resolve;
3. shift every date (DA, and the date part of DT) by a per-case offset (option 113107, Retain
   Longitudinal Temporal Information with Modified Dates); the offsets are never written;
4. remove private tags (with ``retain_safe_private``: all but the few of ``SAFE_PRIVATE``,
   PS3.15 Table E.3.10-1, option 113111), and whole overlay (60xx) and curve (50xx) groups;
5. set Patient Identity Removed (0012,0062) — YES only when the pixels are declared clean —
   plus De-identification Method (0012,0063) and its code sequence (113100, 113107, 113111);
6. re-read the written file and compare the WHOLE values of its identifying elements (profile
   attributes, names, dates, times, instance UIDs, private tags; sequences included) with the
   original identifying values; a hit deletes the file and raises ``DeidentificationError``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.errors import MedreviewError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

PROFILE_TABLE = "dicomfields_2026c"
METHOD = ("DICOM PS3.15 E.1-1 Basic Profile", "dicom-anonymizer table 2026c",
          "Modified Dates: per-case shift", "medreview export")
SAFE_PRIVATE_METHOD = "Retain Safe Private: PS3.15 Table E.3.10-1 subset"
# Values this module (or the table's dummies) writes: never evidence of a leak.
DUMMIES = frozenset({"", "ANONYMIZED", "000Y", "0", "00010101", "000000.00", "000000",
                     "00010101010101.000000+0000", "YES", "NO", "DCM", SAFE_PRIVATE_METHOD}
                    | set(METHOD))

_NUMBER = re.compile(r"[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?")
# Siemens' Diffusion Directionality: the terms of the public (0018,9075), nothing else (a CS
# value may be any 16 upper-case characters, which could spell a name).
_DIRECTIONALITY = re.compile(r"NONE|DIRECTIONAL|BMATRIX|ISOTROPIC")
_PITCH = re.compile(r"[/0-9.: ]{0,16}")  # GE's "n.nnn:1"
# Retain Safe Private Option (113111): the private attributes kept, a small subset of PS3.15
# Table E.3.10-1 "Safe Private Attributes" (acquisition and scaling numbers the standard lists
# as containing no identity). Keyed by (Private Creator, group, element within the block);
# each with the VR it must have and, for strings, the form its value must take, so a hostile
# file cannot smuggle text under a safe tag. Everything else private is still removed.
SAFE_PRIVATE: dict[tuple[str, int, int], tuple[str, str, re.Pattern[str] | None]] = {
    ("GEMS_ACQU_01", 0x0019, 0x23): ("DS", "Table Speed [mm/rotation]", _NUMBER),
    ("GEMS_ACQU_01", 0x0019, 0x24): ("DS", "Mid Scan Time [sec]", _NUMBER),
    ("GEMS_ACQU_01", 0x0019, 0x27): ("DS", "Rotation Speed (Gantry Period)", _NUMBER),
    ("GEMS_SERS_01", 0x0025, 0x07): ("SL", "Images In Series", None),
    ("GEMS_PARM_01", 0x0043, 0x27): ("SH", "Scan Pitch Ratio", _PITCH),
    ("GEMS_PARM_01", 0x0043, 0x39): ("IS", "Slop_int_6... (diffusion b-value)", _NUMBER),
    ("SIEMENS MR HEADER", 0x0019, 0x0C): ("IS", "B_value", _NUMBER),
    ("SIEMENS MR HEADER", 0x0019, 0x0D): ("CS", "DiffusionDirectionality", _DIRECTIONALITY),
    ("SIEMENS MR HEADER", 0x0019, 0x0E): ("FD", "DiffusionGradientDirection", None),
    ("SIEMENS MR HEADER", 0x0019, 0x27): ("FD", "B_matrix", None),
    ("Philips Imaging DD 001", 0x2001, 0x03): ("FL", "Diffusion B-Factor", None),
    ("Philips MR Imaging DD 001", 0x2005, 0x0D): ("FL", "Scale Intercept", None),
    ("Philips MR Imaging DD 001", 0x2005, 0x0E): ("FL", "Scale Slope", None),
    ("Philips PET Private Group", 0x7053, 0x00): ("DS", "SUV Factor", _NUMBER),
    ("Philips PET Private Group", 0x7053, 0x09): ("DS", "Activity Concentration Scale Factor",
                                                  _NUMBER),
}
# UI elements that name a kind of thing (class, syntax, coding scheme), not an instance.
_NOT_INSTANCE_UIDS = frozenset({"TransferSyntaxUID", "CodingSchemeUID", "ContextUID",
                                "ReferencedTransferSyntaxUIDInFile", "MappingResourceUID",
                                "ContextGroupExtensionCreatorUID", "ImplementationClassUID"})
_STANDARD_UID_ROOT = "1.2.840.10008."
MIN_IDENTIFIER_LEN = 4  # for byte searches of non-DICOM files (tables, documents)


class DeidentificationError(MedreviewError):
    """A file that cannot be exported de-identified (burned-in text, surviving identifier)."""


@dataclass(frozen=True)
class DeidResult:
    source_name: str
    dest: Path
    identity_removed: bool
    identifiers_checked: int
    burned_in: str  # "NO", "YES" or "absent"
    safe_private: tuple[str, ...] = field(default=())  # kept with retain_safe_private


@functools.lru_cache(maxsize=1)
def _profile() -> dict[int, str]:
    """Tag -> action code of Table E.1-1 ("D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D",
    "X/Z/U*"); the repeating overlay/curve groups are handled by ``remove_overlays_and_curves``."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

    tags: dict[str, list[Any]] = dicom_anonymization_database_selector(PROFILE_TABLE)
    codes = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
             "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D",
             "X_Z_U_STAR_TAGS": "X/Z/U*"}
    out: dict[int, str] = {}
    for key, code in codes.items():
        for t in tags.get(key, []):
            if len(t) == 2:
                out[(t[0] << 16) | t[1]] = code
    return out


def _shift_date(value: str, days: int) -> str:
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return ""  # an unparseable date carries no safe information: blank it
    try:
        d = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        return (d + dt.timedelta(days=days)).strftime("%Y%m%d") + text[8:]
    except (ValueError, OverflowError):
        return ""


def _shift_element(el: Any, days: int) -> None:
    if el.value in (None, ""):
        return
    if isinstance(el.value, str):
        el.value = _shift_date(el.value, days)
    else:  # multi-valued
        el.value = [_shift_date(str(v), days) for v in el.value]


def is_instance_uid(el: Any) -> bool:
    """A UI element naming one object (study, series, instance, frame of reference, ...)
    rather than a class, syntax or coding scheme."""
    if el.VR != "UI":
        return False
    kw = el.keyword or ""
    return not (kw.endswith("ClassUID") or kw in _NOT_INSTANCE_UIDS)


def _as_list(value: Any) -> list[Any]:
    """The values of an element: pydicom gives a MultiValue (not a list) for VM > 1."""
    from pydicom.multival import MultiValue

    return list(value) if isinstance(value, list | tuple | MultiValue) else [value]


def _uid_values(el: Any) -> list[str]:
    values = _as_list(el.value)
    return [str(v).strip().rstrip("\x00") for v in values if v not in (None, "")]


def remap_uids(ds: Dataset, uid_map: dict[str, str]) -> None:
    """Replace every instance UID, at every nesting level and in the file meta, through
    ``uid_map`` (shared by all files of one export, so references keep pointing at the right
    objects). Registered DICOM UIDs (1.2.840.10008.*) are definitions, not identities."""
    from pydicom.uid import generate_uid

    def new(uid: str) -> str:
        if uid.startswith(_STANDARD_UID_ROOT):
            return uid
        if uid not in uid_map:
            uid_map[uid] = generate_uid(prefix=None)  # 2.25.<random UUID>: nothing derived
        return uid_map[uid]

    def visit(dataset: Dataset) -> None:
        for el in dataset:
            if el.VR == "SQ":
                for item in el.value or []:
                    visit(item)
            elif is_instance_uid(el) and el.value not in (None, ""):
                vals = [new(v) for v in _uid_values(el)]
                el.value = vals[0] if len(vals) == 1 else vals

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        visit(meta)
    visit(ds)


def remove_overlays_and_curves(ds: Dataset) -> int:
    """Delete every overlay (60xx) and curve (50xx) group, nested ones included. The table
    removes Overlay Data and Overlay Comments and all curve data; removing the rest of each
    group too keeps no half Overlay Plane module (rows/columns without data) and drops the free
    text (Overlay Description, Label) the table does not list. Returns the elements removed."""
    removed = 0

    def visit(dataset: Dataset) -> None:
        nonlocal removed
        doomed = [el.tag for el in dataset
                  if el.tag.group % 2 == 0 and (0x6000 <= el.tag.group <= 0x60FF
                                                or 0x5000 <= el.tag.group <= 0x50FF)]
        for tag in doomed:
            del dataset[tag]
        removed += len(doomed)
        for el in dataset:
            if el.VR == "SQ":
                for item in el.value or []:
                    visit(item)

    visit(ds)
    return removed


def _creator(dataset: Dataset, tag: Any) -> str | None:
    """The Private Creator of the block holding private data element ``tag``."""
    creator_tag = (tag.group << 16) | (tag.element >> 8)
    el = dataset.get(creator_tag)
    value = el.value if el is not None else None
    return value.strip() if isinstance(value, str) else None


def safe_private_name(dataset: Dataset, el: Any) -> str | None:
    """``"(0019,xx0C) SIEMENS MR HEADER B_value"`` when ``el`` is a private data element of
    ``SAFE_PRIVATE`` whose VR and value have the expected form; otherwise None."""
    if not el.tag.is_private or el.tag.element < 0x1000:
        return None
    creator = _creator(dataset, el.tag)
    entry = SAFE_PRIVATE.get((creator or "", el.tag.group, el.tag.element & 0xFF))
    if entry is None or entry[0] != el.VR:
        return None
    values = _as_list(el.value)
    pattern = entry[2]
    if pattern is not None and not all(
            isinstance(v, str | int | float) and pattern.fullmatch(str(v).strip())
            for v in values):
        return None
    return f"({el.tag.group:04X},xx{el.tag.element & 0xFF:02X}) {creator} {entry[1]}"


def remove_private(ds: Dataset, *, retain_safe: bool) -> list[str]:
    """Remove every private element at every level; with ``retain_safe`` keep the data
    elements of ``SAFE_PRIVATE`` (and their blocks' creators). Returns what was kept."""
    kept: list[str] = []

    def visit(dataset: Dataset) -> None:
        keep: set[int] = set()
        if retain_safe:
            for el in dataset:
                name = safe_private_name(dataset, el)
                if name is not None:
                    keep.add(int(el.tag))
                    keep.add((el.tag.group << 16) | (el.tag.element >> 8))  # its creator
                    kept.append(name)
        for tag in [el.tag for el in dataset if el.tag.is_private and int(el.tag) not in keep]:
            del dataset[tag]
        for el in dataset:
            if el.VR == "SQ":
                for item in el.value or []:
                    visit(item)

    visit(ds)
    return kept


def _dummy(el: Any) -> None:
    """Action D: a non-empty value of the element's VR that says nothing."""
    from dicomanonymizer.simpledicomanonymizer import replace_element

    if el.VR == "TM":
        el.value = "000000"
    elif el.VR in ("DA", "DT"):
        el.value = "00010101"
    else:
        replace_element(el)


def _empty(el: Any) -> None:
    """Action Z: zero length."""
    from pydicom.sequence import Sequence

    el.value = Sequence([]) if el.VR == "SQ" else (b"" if el.VR in ("OB", "UN") else None)
    if el.VR in ("US", "SS", "UL", "SL", "FL", "FD"):
        el.value = None


def apply_profile(ds: Dataset, days: int) -> None:
    """Table E.1-1 at every nesting level, with the Modified Dates option (every DA and the
    date part of every DT shifted by ``days``) and instance UIDs already remapped (U is then
    "keep the new UID"). A sequence marked X/Z/U* keeps its items (their UIDs are remapped)
    and is cleaned inside, so Type 1 references (Referenced SOP Class/Instance UID) stay
    valid instead of being emptied."""
    table = _profile()

    def visit(dataset: Dataset) -> None:
        for el in list(dataset):
            code = table.get(int(el.tag), "")
            if el.VR == "SQ":
                if code == "X":
                    del dataset[el.tag]
                elif code in ("Z", "X/Z"):
                    _empty(el)
                elif code in ("D", "Z/D", "X/D", "X/Z/D"):  # e.g. Content Sequence (SR text)
                    for item in el.value or []:
                        dummy_items(item)
                else:  # K, U, X/Z/U*, not listed: keep the structure, clean the items
                    for item in el.value or []:
                        visit(item)
                continue
            if el.VR in ("DA", "DT"):  # option 113107: shift instead of remove/dummy
                _shift_element(el, days)
                continue
            if el.VR == "UI" and is_instance_uid(el) and code in ("U", "X/Z/U*", "D", "Z/D"):
                continue  # already replaced consistently by remap_uids
            if code in ("X", "X/Z", "X/D", "X/Z/D") and el.VR != "UI":
                # Type 3 in most IODs: remove; where the IOD needs it the X/Z/D variants would
                # keep a dummy, but removal leaks nothing and dciodvfy tells us if it matters
                if code == "X":
                    del dataset[el.tag]
                else:
                    _dummy(el) if code.endswith("D") else _empty(el)
            elif code == "X" and el.VR == "UI":
                del dataset[el.tag]
            elif code in ("D", "Z/D"):
                _dummy(el)
            elif code == "Z":
                _empty(el)

    def dummy_items(dataset: Dataset) -> None:
        """D on a sequence: every text value inside becomes a dummy (the structure, coded
        strings, numbers and the already-replaced UIDs stay, so the object stays valid)."""
        for el in list(dataset):
            if el.tag.is_private:
                continue  # removed later with every private tag
            if el.VR == "SQ":
                for item in el.value or []:
                    dummy_items(item)
            elif el.VR in ("DA", "DT"):
                _shift_element(el, days)
            elif (el.VR in _FREE_TEXT_VRS or el.VR == "TM") and el.value not in (None, ""):
                _dummy(el)

    visit(ds)


_FREE_TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"})


def identifying_values(ds: Dataset, *, retain_safe_private: bool = False) -> set[str]:
    """Whole values of every attribute the profile acts on, of private tags, of every person
    name, date, time and instance UID, at every nesting level (names also by component).
    With ``retain_safe_private`` the safe private attributes kept (and their creators) are
    known not to identify, so they are not sources."""
    found: set[str] = set()
    for dataset_el in _scope(ds, skip_safe_private=retain_safe_private):
        found |= _values(dataset_el)
    return {v for v in found if v not in DUMMIES}


def _in_scope(el: Any, table: dict[int, str]) -> bool:
    return (el.tag.is_private or int(el.tag) in table or el.VR in ("PN", "DA", "DT", "TM")
            or is_instance_uid(el))


def _scope(ds: Dataset, *, skip_safe_private: bool = False) -> list[Any]:
    """Elements of ``ds`` (file meta and nested items included) that can carry identity."""
    table = _profile()
    out: list[Any] = []

    def visit(dataset: Dataset) -> None:
        for el in dataset:
            if el.VR == "SQ":
                for item in el.value or []:
                    visit(item)
            elif skip_safe_private and el.tag.is_private and (
                    el.tag.is_private_creator or safe_private_name(dataset, el) is not None):
                continue
            elif _in_scope(el, table) and el.keyword not in (
                    "DeidentificationMethod", "PatientIdentityRemoved"):
                out.append(el)

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        visit(meta)
    visit(ds)
    return out


def _values(el: Any) -> set[str]:
    raw = _as_list(el.value)
    out: set[str] = set()
    for v in raw:
        if v is None or (isinstance(v, bytes | bytearray) and len(v) > 4096):
            continue  # bulk binary (pixel-like) values are not compared
        text = (v.decode("latin-1", "ignore") if isinstance(v, bytes | bytearray)
                else str(v)).strip().strip("\x00").strip()
        if not text:
            continue
        out.add(text)
        if el.VR == "PN":  # each name component identifies on its own
            out |= {p.strip() for p in text.replace("=", "^").split("^") if len(p.strip()) > 1}
    return out


def leaks(ds: Dataset, identifiers: set[str], *, retain_safe_private: bool = False
          ) -> list[str]:
    """Original identifying values found as the WHOLE value (or a name component) of an
    identifying element of ``ds``: kept non-identifying attributes (Manufacturer, geometry)
    and substrings of other values are not leaks. Safe private attributes kept under option
    113111 are numbers or codes of a checked form (``SAFE_PRIVATE``): a table speed equal to
    some other private number is not a leak either."""
    hits: set[str] = set()
    for el in _scope(ds, skip_safe_private=retain_safe_private):
        hits |= _values(el) & identifiers
    return sorted(hits)


def deidentify_dataset(ds: Dataset, *, date_shift_days: int, identity_removed: bool,
                       uid_map: dict[str, str] | None = None,
                       retain_safe_private: bool = False) -> list[str]:
    """Apply the profile, shift dates, replace UIDs, mark the dataset. In place. Returns the
    safe private attributes kept (``retain_safe_private``, option 113111)."""
    from pydicom.dataset import Dataset as DicomDataset
    from pydicom.sequence import Sequence

    remove_overlays_and_curves(ds)
    remap_uids(ds, uid_map if uid_map is not None else {})
    apply_profile(ds, date_shift_days)
    kept = remove_private(ds, retain_safe=retain_safe_private)
    ds.PatientIdentityRemoved = "YES" if identity_removed else "NO"
    options = [("113100", "Basic Application Confidentiality Profile"),
               ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")]
    ds.DeidentificationMethod = list(METHOD)
    if retain_safe_private:  # the option applied, whether or not this file had any
        options.append(("113111", "Retain Safe Private Option"))
        ds.DeidentificationMethod = [*METHOD, SAFE_PRIVATE_METHOD]
    codes = []
    for value, meaning in options:
        item = DicomDataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(codes)
    if not identity_removed:
        ds.BurnedInAnnotation = ds.get("BurnedInAnnotation") or "YES"
    return kept


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
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
    )

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    elif str(meta.TransferSyntaxUID) == DeflatedExplicitVRLittleEndian:
        # written back inflated: the pixel data is native, and validators read it reliably
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
    # Application entity titles name the sending/receiving site's machines; the table does
    # not list the file meta, so they go here (pydicom writes its own implementation UID).
    for keyword in ("SourceApplicationEntityTitle", "SendingApplicationEntityTitle",
                    "ReceivingApplicationEntityTitle", "PrivateInformationCreatorUID",
                    "PrivateInformation", "SourcePresentationAddress",
                    "SendingPresentationAddress", "ReceivingPresentationAddress"):
        if keyword in meta:
            del meta[keyword]
    # the file meta names the object it holds (some files disagree with their own header)
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def burned_in_state(ds: Dataset) -> str:
    value = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    return value if value in ("YES", "NO") else "absent"


def scan_for(path: Path, identifiers: set[bytes]) -> list[bytes]:
    """Which identifiers occur anywhere in the bytes of a non-DICOM file (tables, documents)."""
    raw = path.read_bytes()
    return sorted(i for i in identifiers if i and i in raw)


def strong_identifiers(values: set[str]) -> set[bytes]:
    """The identifying values specific enough to byte-search free text for: at least
    ``MIN_IDENTIFIER_LEN`` characters, and at least 6 when only digits and separators (so a
    numeric MRN, a date or a UID is searched, a slice thickness of 0.5 is not)."""
    numeric = set("0123456789.-+: ")
    return {v.encode("utf-8", "ignore") for v in values
            if len(v) >= MIN_IDENTIFIER_LEN and not set(v) <= set("0.-+: ")
            and (len(v) >= 6 or not set(v) <= numeric)}


def check_complete(ds: Dataset, src: Path, label: str) -> None:
    """Refuse what is not a whole DICOM object: no SOP identity (a file cut short inside its
    header reads as a handful of elements), or an image whose pixel data is cut short."""
    from medreview.errors import DicomError
    from medreview.imaging.bounds import frames_held

    missing = [k for k in ("SOPClassUID", "SOPInstanceUID") if not ds.get(k)]
    if missing:
        raise DeidentificationError(
            f"not a complete DICOM object (no {' or '.join(missing)}; truncated?)", source=label)
    if any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        try:
            frames_held(ds, src)
        except DicomError as exc:
            raise DeidentificationError(f"pixel data refused: {exc.reason}",
                                        source=label) from exc
    elif ds.get("Rows") and ds.get("Columns"):
        raise DeidentificationError("an image header without pixel data (truncated?)",
                                    source=label)


def deidentify_file(
    src: Path,
    dest: Path,
    *,
    date_shift_days: int,
    allow_burned_in: bool = False,
    extra_identifiers: set[str] | None = None,
    uid_map: dict[str, str] | None = None,
    name: str = "",
    retain_safe_private: bool = False,
) -> DeidResult:
    """De-identify one DICOM file to ``dest`` and verify it; raise if it cannot be done.

    ``uid_map`` is shared by the files of one export so references between them survive.
    ``retain_safe_private`` keeps the private attributes of ``SAFE_PRIVATE`` (option 113111);
    pass the same choice to ``identifying_values`` for ``extra_identifiers``.
    """
    label = name or src.name
    ds = read_for_export(src, label)
    check_complete(ds, src, label)
    burned = burned_in_state(ds)
    if burned != "NO" and not allow_burned_in:
        raise DeidentificationError(
            f"Burned In Annotation is {burned}: the pixels may show patient identity; "
            "confirm (allow burned-in) after checking the images, or leave this file out",
            source=label)
    try:
        identifiers = (identifying_values(ds, retain_safe_private=retain_safe_private)
                       | (extra_identifiers or set()))
        kept = deidentify_dataset(ds, date_shift_days=date_shift_days,
                                  identity_removed=burned == "NO", uid_map=uid_map,
                                  retain_safe_private=retain_safe_private)
    except Exception as exc:  # a malformed element the profile cannot rewrite
        raise DeidentificationError(f"cannot de-identify this header: {exc}",
                                    source=label) from exc
    _ensure_file_meta(ds)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        ds.save_as(dest, enforce_file_format=True)
        written = read_for_export(dest, label)
    except Exception as exc:  # a header pydicom cannot write back as a DICOM file
        dest.unlink(missing_ok=True)
        raise DeidentificationError(f"cannot write the de-identified file: {exc}",
                                    source=label) from exc
    survivors = leaks(written, identifiers, retain_safe_private=retain_safe_private)
    if survivors:
        dest.unlink(missing_ok=True)
        shown = ", ".join(s[:3] + "…" for s in survivors[:5])
        raise DeidentificationError(
            f"{len(survivors)} original identifying value(s) still present after "
            f"de-identification (starting {shown}); file not exported", source=label)
    return DeidResult(label, dest, burned == "NO", len(identifiers), burned, tuple(kept))
