"""De-identified exports carry no original file names, UIDs or overlay free text (security
notes F6 / 6d, scripts/phi_dicom.py), and a DICOM file without file meta exports cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medreview.cli.main import main

FILE_NAME = "DOE_JOHNATHAN_MRN99887766.dcm"
OVERLAY_TEXT = "Overlay: Johnathan Doe"
OVERLAY_LABEL = "JDOE-LABEL-4711"
PHI = {"PatientName": "DOE^JOHNATHAN", "PatientID": "MRN99887766",
       "PatientBirthDate": "19610412", "InstitutionName": "St Elsewhere General",
       "ReferringPhysicianName": "HOUSE^GREGORY", "AccessionNumber": "ACC5550123",
       "StudyDate": "20240117", "PatientAddress": "12 Elm Street Springfield",
       "StudyDescription": "CT chest for Johnathan Doe",
       "SeriesDescription": "Doe J MRN99887766 axial",
       "ImageComments": "pt Johnathan Doe called 555-0199", "OperatorsName": "NURSE^RATCHED",
       "StationName": "ELSEWHERE-CT1", "DeviceSerialNumber": "SN-442211"}


def _phi_dicom(path: Path) -> dict[str, str]:
    """CT_small (GE private tags dropped) with identifiers in the header, a sequence, private
    tags and an overlay (bitmap, description and label). Returns its UIDs."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.remove_private_tags()
    for k, v in PHI.items():
        setattr(ds, k, v)
    ds.BurnedInAnnotation = "NO"
    other = Dataset()
    other.PatientID = "MRN-OTHER-4242"
    ds.OtherPatientIDsSequence = Sequence([other])
    ds.add_new(0x00090010, "LO", "ACME PRIVATE")
    ds.add_new(0x00091001, "LO", "Johnathan Doe MRN99887766 private")
    bits = np.zeros((128, 128), dtype=np.uint8)
    bits[10:20, 10:100] = 1
    ds.add_new(0x60000010, "US", 128)
    ds.add_new(0x60000011, "US", 128)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [1, 1])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60000022, "LO", OVERLAY_TEXT)
    ds.add_new(0x60001500, "LO", OVERLAY_LABEL)
    ds.add_new(0x60003000, "OW", np.packbits(bits.flatten(), bitorder="little").tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=False)
    return {"study": str(ds.StudyInstanceUID), "series": str(ds.SeriesInstanceUID),
            "sop": str(ds.SOPInstanceUID)}


def _project(tmp_path: Path, media: Path) -> Path:
    cases = tmp_path / "case.jsonl"
    cases.write_text(json.dumps({"case_id": "case-phi", "prompt": "Read this CT", "model": "m",
                                 "output": "normal"}) + "\n", encoding="utf-8")
    project = tmp_path / "p"
    assert main(["init", str(project), "--rubric", "quality_harm"]) == 0
    assert main(["import", str(project), str(cases)]) == 0
    assert main(["import", str(project), str(media)]) == 0
    return project


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def phi_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    uids = _phi_dicom(tmp_path / "media" / "case-phi" / FILE_NAME)
    return _project(tmp_path, tmp_path / "media"), uids


def test_no_export_carries_the_file_name_uids_or_overlay_text(
        phi_project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    project, uids = phi_project
    media_out, tables_out = tmp_path / "media_exp", tmp_path / "tables_exp"
    assert main(["export", str(project), str(media_out), "--kind", "media"]) == 0
    for fmt in ("csv", "jsonl", "parquet"):
        assert main(["export", str(project), str(tables_out / fmt), "--kind", "tables",
                     "--kind", "sft", "--kind", "audit", "--format", fmt]) == 0
    needles = [FILE_NAME, "DOE_JOHNATHAN", "MRN99887766", "Johnathan", OVERLAY_TEXT,
               OVERLAY_LABEL, *uids.values()]
    checked = _files(media_out) + _files(tables_out)
    assert any(p.name == "attachments.csv" for p in checked)
    assert any(p.suffix == ".dcm" for p in checked)
    for p in checked:
        raw = p.read_bytes()
        assert [n for n in needles if n.encode() in raw] == [], p

    # the attachments table keeps its shape, with neutral names and pseudonymous series
    import pandas as pd

    att = pd.read_csv(tables_out / "csv" / "attachments.csv")
    assert list(att["filename"]) == [f"attachment-{att['attachment_id'][0]}.dcm"]
    assert list(att["series_uid"]) == ["series-001"]

    (dcm,) = [p for p in _files(media_out) if p.suffix == ".dcm"]
    out = pydicom.dcmread(dcm)
    assert (0x6000, 0x0022) not in out and (0x6000, 0x1500) not in out
    assert (0x6000, 0x3000) not in out and out.PatientIdentityRemoved == "YES"
    assert not [el for el in out if el.tag.is_private]


def test_file_without_file_meta_exports_in_one_line_or_cleanly(tmp_path: Path) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.remove_private_tags()
    ds.BurnedInAnnotation = "NO"
    del ds.file_meta
    ds.preamble = None
    media = tmp_path / "media" / "case-phi"
    media.mkdir(parents=True)
    ds.save_as(media / "0001.dcm", implicit_vr=True, little_endian=True,
               enforce_file_format=False)
    raw = (media / "0001.dcm").read_bytes()
    assert raw[128:132] != b"DICM" and raw[:2] == b"\x08\x00"  # truly no preamble or meta
    project = _project(tmp_path, tmp_path / "media")
    out = tmp_path / "exp"
    assert main(["export", str(project), str(out), "--kind", "media"]) == 0
    (dcm,) = [p for p in _files(out) if p.suffix == ".dcm"]
    written = pydicom.dcmread(dcm)  # a proper DICOM file now: no force needed
    assert written.file_meta.TransferSyntaxUID and written.PatientIdentityRemoved == "YES"


def test_unexportable_file_without_file_meta_is_one_line_and_leaves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.file_meta
    ds.preamble = None
    if "BurnedInAnnotation" in ds:
        del ds.BurnedInAnnotation  # absent: refused unless the lead confirms
    media = tmp_path / "media" / "case-phi"
    media.mkdir(parents=True)
    ds.save_as(media / "0001.dcm", implicit_vr=True, little_endian=True,
               enforce_file_format=False)
    project = _project(tmp_path, tmp_path / "media")
    capsys.readouterr()
    out = tmp_path / "exp"
    assert main(["export", str(project), str(out), "--kind", "tables", "--kind", "media",
                 "--all-or-nothing"]) == 2
    err = capsys.readouterr().err
    errors = [x for x in err.splitlines() if x.strip() and not x.startswith("export [")]
    assert len(errors) == 1 and "Traceback" not in err, err  # progress lines aside
    assert "Burned In Annotation" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_refused_file_is_listed_and_the_rest_exports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --all-or-nothing a burned-in file is one 'refused' line; the export exists."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    if "BurnedInAnnotation" in ds:
        del ds.BurnedInAnnotation
    media = tmp_path / "media" / "case-phi"
    media.mkdir(parents=True)
    ds.save_as(media / "0001.dcm")
    project = _project(tmp_path, tmp_path / "media")
    capsys.readouterr()
    out = tmp_path / "exp"
    assert main(["export", str(project), str(out), "--kind", "media"]) == 0
    text = capsys.readouterr().out
    assert "0 files, 1 refused" in text
    assert [x for x in text.splitlines() if x.strip().startswith("refused:")] != []
    assert "Burned In Annotation" in text and (out / "media" / "deid_report.json").is_file()
