"""Media folders: images and DICOM linked to cases by folder name or manifest."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from medreview.domain.records import AttachmentRecord
from medreview.errors import ImportFailed
from medreview.importers.media import parse_media_folder
from tests.importers.helpers import write

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _image(path: Path, fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), color=128).save(path, format=fmt)
    return path


def _ct_series(folder: Path, n: int = 3) -> list[str]:
    """``n`` slices of one CT series, file names in the reverse of slice order; their SOP UIDs
    in slice order (z ascending)."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    sops: list[str] = []
    for i in range(n):
        ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(i * 5)]
        ds.SeriesDescription = "AXIAL 5mm"
        ds.save_as(folder / f"slice_{n - i:02d}.dcm")
        sops.append(str(ds.SOPInstanceUID))
    return sops


def _records(located: list) -> list[AttachmentRecord]:  # type: ignore[type-arg]
    out = [loc.record for loc in located]
    assert all(isinstance(r, AttachmentRecord) for r in out)
    return out


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "media"
    _image(root / "caseA" / "cxr_frontal.png", "PNG")
    _image(root / "caseA" / "photos" / "rash.jpg", "JPEG")
    write(root / "caseA" / "notes.txt", "not media")
    sops = _ct_series(root / "caseA" / "ct")
    (root / "caseB").mkdir()
    (root / "caseB" / "mr.dcm").write_bytes((TEST_FILES / "MR_small.dcm").read_bytes())
    write(root / ".DS_Store", "x")
    return root, sops


def test_folder_names_are_case_ids(media: tuple[Path, list[str]]) -> None:
    root, sops = media
    recs = _records(list(parse_media_folder(root)))
    assert [(r.case_external_id, r.kind) for r in recs] == [
        ("caseA", "image"),
        ("caseA", "image"),
        ("caseA", "dicom"),
        ("caseA", "dicom"),
        ("caseA", "dicom"),
        ("caseB", "dicom"),
    ]
    png, jpg = recs[0], recs[1]
    assert (png.filename, png.mime, png.sort_index) == ("cxr_frontal.png", "image/png", 0)
    assert (jpg.filename, jpg.mime, jpg.sort_index) == ("rash.jpg", "image/jpeg", 1)
    assert Path(png.path).is_absolute() and Path(png.path).is_file()

    ct = recs[2:5]
    # slices ordered along z, not by file name (which runs the other way)
    assert [r.sop_uid for r in ct] == sops
    assert [r.sort_index for r in ct] == [0, 1, 2]
    assert [r.instance_number for r in ct] == [1, 2, 3]
    assert [r.filename for r in ct] == ["slice_03.dcm", "slice_02.dcm", "slice_01.dcm"]
    assert {r.series_uid for r in ct} == {ct[0].series_uid}
    assert all(r.modality == "CT" and r.series_description == "AXIAL 5mm" for r in ct)
    assert all(r.mime == "application/dicom" and r.frame_count == 1 for r in ct)

    mr = recs[5]
    ref = pydicom.dcmread(TEST_FILES / "MR_small.dcm", stop_before_pixels=True)
    assert (mr.modality, mr.sop_uid, mr.study_uid) == (
        "MR",
        str(ref.SOPInstanceUID),
        str(ref.StudyInstanceUID),
    )


def test_manifest_links_files_and_folders(media: tuple[Path, list[str]]) -> None:
    root, sops = media
    manifest = write(
        root / "manifest.csv",
        "case_id,path,view\nq1,caseA/cxr_frontal.png,frontal\nq2,caseA/ct,\nq2,caseB/mr.dcm,\n",
    )
    located = list(parse_media_folder(root))  # manifest.csv at the root is used by default
    recs = _records(located)
    assert [(r.case_external_id, r.kind) for r in recs] == [("q1", "image")] + [("q2", "dicom")] * 4
    assert recs[0].metadata == {"view": "frontal"}
    assert all(loc.source == str(manifest) for loc in located)
    # series come in the scanner's order (study, series number); each keeps its manifest line
    line_of = {loc.record.sop_uid: loc.line for loc in located}  # type: ignore[union-attr]
    assert [line_of[s] for s in sops] == [3, 3, 3]
    ct = [r for r in recs if r.modality == "CT"]
    assert [r.sop_uid for r in ct] == sops
    assert [r.sort_index for r in ct] == [0, 1, 2]
    (mr,) = (r for r in recs if r.modality == "MR")
    assert (line_of[mr.sop_uid], mr.sort_index) == (4, 0)


def test_root_level_media_without_manifest(tmp_path: Path) -> None:
    bad = _image(tmp_path / "loose.png", "PNG")
    with pytest.raises(ImportFailed, match="not inside a case folder") as exc:
        list(parse_media_folder(tmp_path))
    assert exc.value.source == str(bad)


def test_manifest_missing_file(tmp_path: Path) -> None:
    write(tmp_path / "m.csv", "case_id,path\nq1,nowhere.png\n")
    with pytest.raises(ImportFailed, match="listed file does not exist") as exc:
        list(parse_media_folder(tmp_path, tmp_path / "m.csv"))
    assert (exc.value.source, exc.value.line, exc.value.item) == (str(tmp_path / "m.csv"), 2, "q1")


def test_image_with_wrong_content(tmp_path: Path) -> None:
    (tmp_path / "c1").mkdir()
    bad = write(tmp_path / "c1" / "x.png", "text")
    with pytest.raises(ImportFailed, match="not a valid image/png") as exc:
        list(parse_media_folder(tmp_path))
    assert exc.value.source == str(bad) and exc.value.item == "c1"


def test_unreadable_dcm_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "c1").mkdir()
    bad = tmp_path / "c1" / "broken.dcm"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ImportFailed, match="left out: not a DICOM file") as exc:
        list(parse_media_folder(tmp_path, strict_dicom=True))
    assert exc.value.source == str(bad.resolve()) and exc.value.item == "c1"
    with pytest.raises(ImportFailed, match="left out"):  # nobody to tell: refused
        list(parse_media_folder(tmp_path))
    left_out: list[tuple[str, str]] = []  # default: listed with its reason, nothing imported
    assert [r.kind for r in _records(list(parse_media_folder(tmp_path, left_out=left_out)))] == []
    assert left_out == [(str(bad.resolve()), "not a DICOM file")]
