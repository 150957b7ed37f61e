"""A folder of images and DICOM files → ``AttachmentRecord`` linked to cases.

Files are linked to cases in one of two ways:

* a manifest CSV (``case_id`` or ``case_key``, ``path``; given, or ``manifest.csv`` at the
  folder root) whose paths are files or folders, relative to the manifest's folder; extra
  columns become metadata;
* otherwise each top-level sub-folder's name is the case id and everything under it belongs
  to that case.

The case need not exist yet: ``storage.ingest`` keeps the files of a missing case waiting
under its id and attaches them when an import adds that case (``storage.pending_media``).

PNG/JPEG files become ``image`` records (checked by their first bytes), PDFs ``document``
records. DICOM files are grouped by ``medreview.imaging.dicom_series.scan_dicom_folder``: one
``dicom`` record per file with its study/series/SOP UIDs and ``sort_index`` = position within
its series, and ``frame_count`` = the frames its pixel data really holds (``NumberOfFrames``
clamped, see ``medreview.imaging.bounds``). Every image is decoded (first and last frame) here,
in the import worker, so what is imported can be displayed.

A candidate DICOM file that cannot be used (not DICOM, unreadable, truncated, no pixel data,
pixel data that does not fit its header, cannot be decoded, duplicate) is left out and listed
with its reason in ``left_out`` (a caller-supplied list of ``(path, reason)``); with
``strict_dicom`` the first such file refuses the whole folder instead. Files without a Series
Instance UID are imported as series of their own (see ``medreview.imaging.dicom_series``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medreview.domain.records import AttachmentRecord, Located
from medreview.importers._common import check_cancel, fail, iter_csv, pick
from medreview.progress import CancelToken, Progress, no_progress

if TYPE_CHECKING:
    from medreview.imaging.dicom_series import ScanResult

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",)}
DICOM_SUFFIXES = {".dcm", ".dicom"}
MANIFEST_NAME = "manifest.csv"


def _kind(path: Path) -> str | None:
    """``image``, ``document``, ``dicom`` (a candidate for the scanner) or None (ignored)."""
    if path.name.startswith("."):
        return None
    suffix = path.suffix.lower()
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix == ".pdf":
        return "document"
    if suffix in DICOM_SUFFIXES or suffix == "":
        return "dicom"
    if _has_dicm_magic(path):  # DICOM files from PACS exports often have odd suffixes (.1, .IMA)
        return "dicom"
    return None


def _has_dicm_magic(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(
            p
            for p in entry.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(entry).parts)
        )
    return [entry]


class _Linker:
    """Emits the attachments of one case at a time, caching DICOM scans per folder."""

    def __init__(self, progress: Progress, token: CancelToken | None, strict_dicom: bool,
                 left_out: list[tuple[str, str]] | None = None) -> None:
        self.progress = progress
        self.token = token
        self.strict_dicom = strict_dicom
        self.left_out = left_out if left_out is not None else []
        self.scans: dict[Path, ScanResult] = {}

    def scan(self, folder: Path) -> ScanResult:
        from medreview.imaging.dicom_series import scan_dicom_folder

        folder = folder.resolve()
        if folder not in self.scans:
            self.scans[folder] = scan_dicom_folder(folder, progress=self.progress,
                                                   token=self.token, check_display=True)
        return self.scans[folder]

    def case(
        self, case_id: str, entries: list[tuple[Path, str, int, dict[str, Any]]]
    ) -> Iterator[Located]:
        """``entries``: (file or folder, source for errors, line, metadata) in listed order."""
        image_index = 0
        dicom_wanted: dict[Path, tuple[str, int, dict[str, Any]]] = {}
        dicom_folders: dict[Path, None] = {}
        done: set[tuple[Path, str]] = set()
        for entry, source, line, meta in entries:
            for file in _files(entry):
                check_cancel(self.token)
                kind = _kind(file)
                if kind is None:
                    continue
                if kind == "dicom":
                    dicom_wanted.setdefault(file.resolve(), (source, line, meta))
                    dicom_folders[(entry if entry.is_dir() else entry.parent).resolve()] = None
                    continue
                if (file.resolve(), kind) in done:
                    continue
                done.add((file.resolve(), kind))
                mime = IMAGE_TYPES.get(file.suffix.lower(), "application/pdf")
                magic = _MAGIC.get(mime, (b"%PDF",))
                with file.open("rb") as fh:
                    head = fh.read(8)
                if not head.startswith(magic):
                    raise fail(
                        f"file is not a valid {mime} (unexpected first bytes)", file, None, case_id
                    )
                record = AttachmentRecord(
                    case_external_id=case_id,
                    path=str(file.resolve()),
                    kind="image" if kind == "image" else "document",
                    filename=file.name,
                    mime=mime,
                    sort_index=image_index,
                    metadata=dict(meta),
                )
                image_index += 1
                yield Located(record, source, line)
        if dicom_wanted:
            yield from self._dicom(case_id, dicom_wanted, list(dicom_folders))

    def _dicom(
        self,
        case_id: str,
        wanted: dict[Path, tuple[str, int, dict[str, Any]]],
        folders: list[Path],
    ) -> Iterator[Located]:
        found: set[Path] = set()
        for folder in _outermost(folders):
            result = self.scan(folder)
            for bad, reason in result.skipped:  # every candidate left out, with its reason
                bad = Path(bad).resolve()
                if bad not in wanted:
                    continue
                if self.strict_dicom:
                    raise fail(f"DICOM file left out: {reason} (--strict refuses the folder)",
                               bad, None, case_id)
                self.left_out.append((str(bad), reason))
            for series in result.series:
                index = 0
                for inst in series.instances:
                    p = Path(inst.path).resolve()
                    if p not in wanted or p in found:
                        continue
                    found.add(p)
                    source, line, meta = wanted[p]
                    record = AttachmentRecord(
                        case_external_id=case_id,
                        path=str(p),
                        kind="dicom",
                        filename=p.name,
                        mime="application/dicom",
                        study_uid=series.study_uid,
                        series_uid=series.series_uid,
                        sop_uid=inst.sop_uid,
                        modality=series.modality,
                        series_description=series.description,
                        instance_number=inst.instance_number,
                        sort_index=index,
                        frame_count=inst.frame_count,
                        metadata=dict(meta),
                    )
                    index += 1
                    yield Located(record, source, line)


def _outermost(folders: list[Path]) -> list[Path]:
    """Drop folders inside another listed folder (a recursive scan of the parent covers them)."""
    ordered = sorted(set(folders), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for f in ordered:
        if not any(f.is_relative_to(k) for k in kept):
            kept.append(f)
    return kept


def _from_manifest(
    manifest: Path, progress: Progress, token: CancelToken | None
) -> dict[str, list[tuple[Path, str, int, dict[str, Any]]]]:
    cases: dict[str, list[tuple[Path, str, int, dict[str, Any]]]] = {}
    _header, rows = iter_csv(manifest, progress, token, "Reading manifest")
    with closing(rows):
        for line, row in rows:
            id_name, case_id = pick(row, ("case_id", "case_key", "id"))
            if id_name is None:
                raise fail("missing required column 'case_id' (or 'case_key')", manifest, line)
            path_name, rel = pick(row, ("path", "file", "folder"))
            if path_name is None:
                raise fail("missing required column 'path'", manifest, line, case_id)
            target = Path(rel.strip())
            if not target.is_absolute():
                target = manifest.parent / target
            if not target.exists():
                raise fail(f"listed file does not exist: {target}", manifest, line, case_id)
            meta = {k: v for k, v in row.items() if k not in (id_name, path_name) and v != ""}
            cases.setdefault(case_id.strip(), []).append((target, str(manifest), line, meta))
    return cases


def parse_media_folder(
    folder: str | Path,
    manifest: str | Path | None = None,
    *,
    strict_dicom: bool | None = None,
    left_out: list[tuple[str, str]] | None = None,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Attachments of a media folder, case by case; files left out are appended to
    ``left_out`` as ``(path, reason)`` (``strict_dicom``: the first one refuses the folder).
    A caller that gives no ``left_out`` list could not tell anyone what was left out, so
    ``strict_dicom`` then defaults to True: refused with the reason, never dropped silently.

    ``line`` is the manifest row for manifest links, and 0 for folder-name links (the
    ``source`` is then the case folder).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise fail("not a folder", folder)
    manifest_path = Path(manifest) if manifest is not None else folder / MANIFEST_NAME
    strict = strict_dicom if strict_dicom is not None else left_out is None
    linker = _Linker(progress, token, strict, left_out)
    if manifest is not None or manifest_path.is_file():
        cases = _from_manifest(manifest_path, progress, token)
    else:
        cases = {}
        for child in sorted(folder.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir():
                cases[child.name] = [(child, str(child), 0, {})]
            elif _kind(child) in ("image", "document") or child.suffix.lower() in DICOM_SUFFIXES:
                raise fail(
                    "media file is not inside a case folder (name sub-folders by case id, "
                    "or add a manifest.csv)",
                    child,
                )
    for n, (case_id, entries) in enumerate(cases.items(), start=1):
        yield from linker.case(case_id, entries)
        progress(n, len(cases), f"Linking media: case {n} of {len(cases)}")
