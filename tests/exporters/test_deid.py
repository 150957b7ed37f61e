"""DICOM de-identification: no identifier survives, dates shift per case, refusals, marks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pydicom
import pytest

from medreview.exporters.deid import SAFE_PRIVATE, DeidentificationError, deidentify_file
from medreview.exporters.media import REPORT_NAME, export_media
from medreview.storage.project import Project
from tests.study.helpers import PHI, make_phi_dicom, study_project


def test_no_identifier_survives_and_the_file_is_marked(tmp_path: Path) -> None:
    src = make_phi_dicom(tmp_path / "a.dcm", 1)
    res = deidentify_file(src, tmp_path / "out" / "a.dcm", date_shift_days=-100)
    raw = res.dest.read_bytes()
    assert [k for k, v in PHI.items() if v in raw] == []
    ds = pydicom.dcmread(res.dest)
    assert ds.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    assert "PS3.15" in ds.DeidentificationMethod[0]
    assert ds.StudyDate == "20231203"  # 2024-03-12 minus 100 days, not the dummy 00010101
    assert ds.SOPInstanceUID != "1.2.826.0.1.3680043.99.1.1"
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert not any(el.tag.is_private for el in ds.iterall())
    assert ds.PixelData == bytes(range(64))  # the header profile leaves pixels alone


@pytest.mark.parametrize("burned", ["YES", None])
def test_burned_in_yes_or_absent_is_refused_unless_confirmed(tmp_path: Path,
                                                             burned: str | None) -> None:
    src = make_phi_dicom(tmp_path / "b.dcm", 1, burned_in=burned)
    dest = tmp_path / "out" / "b.dcm"
    with pytest.raises(DeidentificationError, match="Burned In Annotation"):
        deidentify_file(src, dest, date_shift_days=-50)
    assert not dest.exists()
    res = deidentify_file(src, dest, date_shift_days=-50, allow_burned_in=True)
    ds = pydicom.dcmread(res.dest)
    assert ds.PatientIdentityRemoved == "NO" and not res.identity_removed
    assert ds.BurnedInAnnotation == "YES"


def test_an_identifier_found_after_deid_deletes_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import medreview.exporters.deid as deid

    src = make_phi_dicom(tmp_path / "c.dcm", 1)
    dest = tmp_path / "out" / "c.dcm"
    real = deid.apply_profile

    def leaky(ds: pydicom.Dataset, days: int) -> None:  # a profile step that misses a name
        name = ds.ReferringPhysicianName
        real(ds, days)
        ds.ReferringPhysicianName = name

    monkeypatch.setattr(deid, "apply_profile", leaky)
    with pytest.raises(DeidentificationError, match="still present"):
        deidentify_file(src, dest, date_shift_days=-10)
    assert not dest.exists()


def test_a_kept_value_equal_to_a_case_identifier_is_not_a_leak(tmp_path: Path) -> None:
    """Whole identifying values are compared, in identifying elements only: a kept
    PhotometricInterpretation equal to some identifier, or a substring, blocks nothing."""
    src = make_phi_dicom(tmp_path / "c.dcm", 1)
    res = deidentify_file(src, tmp_path / "out" / "c.dcm", date_shift_days=-10,
                          extra_identifiers={"MONOCHROME2", "ANON", "0.5"})
    assert pydicom.dcmread(res.dest).PhotometricInterpretation == "MONOCHROME2"


def test_media_export_shifts_dates_per_case_and_reports(tmp_path: Path) -> None:
    project: Project = study_project(tmp_path / "p", n_cases=2)
    try:
        # a follow-up image of the same case, 30 days later
        from medreview.domain.records import AttachmentRecord, Located
        from medreview.storage.ingest import ingest

        later = make_phi_dicom(tmp_path / "later.dcm", 3, study_date="20240411")
        ingest(project, [Located(AttachmentRecord("case-00001", str(later), "dicom",
                                                  filename="later.dcm"), "t", 1)],
               source="t2", importer="t")
        report = export_media(project, tmp_path / "media", seed=3)
    finally:
        project.close()
    out = tmp_path / "media"
    dicoms = sorted(out.rglob("*.dcm"))
    assert len(dicoms) == 3 and len(report.files) == 3
    for p in out.rglob("*"):
        if p.is_file():
            raw = p.read_bytes()
            assert [k for k, v in PHI.items() if v in raw] == [], p
            assert b"DOE_JOHN" not in p.name.encode()
    dates = sorted(dt.datetime.strptime(pydicom.dcmread(p).StudyDate, "%Y%m%d")
                   for p in dicoms)
    assert (dates[-1] - dates[0]).days == 30  # the interval survives the shift
    assert all(pydicom.dcmread(p).StudyInstanceUID == pydicom.dcmread(dicoms[0]).StudyInstanceUID
               for p in dicoms[:2])
    doc = json.loads((out / REPORT_NAME).read_text())
    assert doc["dicom"]["files"] == 3 and doc["dicom"]["identity_removed_yes"] == 3
    assert "shifted" in doc["dicom"]["dates"] and "none found" in doc["verification"]
    assert "offset" not in json.dumps(doc["files"])


def test_media_export_refuses_burned_in_and_writes_nothing(tmp_path: Path) -> None:
    project = study_project(tmp_path / "p", n_cases=1, burned_in=None)
    try:
        with pytest.raises(DeidentificationError, match="refused, nothing was exported"):
            export_media(project, tmp_path / "media", all_or_nothing=True)
        assert not (tmp_path / "media").exists()
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".media-")] == []
        report = export_media(project, tmp_path / "media", allow_burned_in=True)
        assert {f["identity_removed"] for f in report.files} == {False}
    finally:
        project.close()


def test_plain_images_lose_their_metadata(tmp_path: Path) -> None:
    from PIL import Image, PngImagePlugin

    from medreview.domain.records import AttachmentRecord, Located
    from medreview.storage.ingest import ingest

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "patient DOE^JOHN MRN123456")
    src = tmp_path / "DOE_JOHN_photo.png"
    Image.new("L", (4, 4), 7).save(src, pnginfo=meta)
    assert b"MRN123456" in src.read_bytes()
    project = study_project(tmp_path / "p", n_cases=1)
    try:
        ingest(project, [Located(AttachmentRecord("case-00001", str(src), "image",
                                                  filename=src.name), "t", 1)],
               source="t3", importer="t")
        report = export_media(project, tmp_path / "media")
    finally:
        project.close()
    pngs = list((tmp_path / "media").rglob("*.png"))
    assert len(pngs) == 1 and {f["kind"] for f in report.files} == {"dicom", "image"}
    raw = pngs[0].read_bytes()
    assert b"MRN123456" not in raw and b"DOE" not in raw
    with Image.open(pngs[0]) as im:
        assert im.getpixel((0, 0)) == 7 and not im.info.get("Comment")


def test_media_export_refuses_files_one_by_one_and_lists_them(tmp_path: Path) -> None:
    """Default: a burned-in file is left out with its reason, the others export."""
    from medreview.domain.records import AttachmentRecord, Located
    from medreview.storage.ingest import ingest

    project = study_project(tmp_path / "p", n_cases=1)
    try:
        burned = make_phi_dicom(tmp_path / "burned.dcm", 7, burned_in="YES")
        ingest(project, [Located(AttachmentRecord("case-00001", str(burned), "dicom",
                                                  filename="burned.dcm"), "t", 1)],
               source="t4", importer="t")
        report = export_media(project, tmp_path / "media")
    finally:
        project.close()
    assert len(report.refused) == 1 and "Burned In Annotation is YES" in report.refused[0]["reason"]
    assert len(report.files) >= 1 and all(f["kind"] == "dicom" for f in report.files)
    doc = json.loads((tmp_path / "media" / REPORT_NAME).read_text())
    assert doc["refused_count"] == 1 and doc["refused"][0]["attachment_id"] == \
        report.refused[0]["attachment_id"]
    assert len(list((tmp_path / "media").rglob("*.dcm"))) == len(report.files)


def test_byte_search_keeps_specific_values_only() -> None:
    from medreview.exporters.deid import strong_identifiers

    got = strong_identifiers({"DOE^JOHN", "123456", "20240312", "1.2.3.4.5", "0.5", "12",
                              "ANON", "0000"})
    assert got == {b"DOE^JOHN", b"123456", b"20240312", b"1.2.3.4.5", b"ANON"}


# --- Retain Safe Private Option (113111), on real scanner files from the test corpus ---

def _corpus(package: str, name: str) -> Path:
    from tests.dicom_corpus.corpus import source_file

    return source_file(package, name)


def _private(ds: pydicom.Dataset) -> dict[int, object]:
    return {int(el.tag): el.value for el in ds.iterall() if el.tag.is_private}


@pytest.mark.parametrize(("package", "name", "kept"), [
    # Siemens MR with CSA headers (nibabel): B_value, Diffusion Directionality of its MR header
    ("nibabel", "0.dcm", {0x00190010: "SIEMENS MR HEADER", 0x0019100C: "0",
                          0x0019100D: "DIRECTIONAL"}),
    # GE CT (pydicom): table speed, mid scan time, rotation, images in series, pitch ratio
    ("pydicom", "CT_small.dcm", {0x00190010: "GEMS_ACQU_01", 0x00191023: "5.000000",
                                 0x00191024: "17.784578", 0x00191027: "1.000000",
                                 0x00250010: "GEMS_SERS_01", 0x00251007: 44,
                                 0x00430010: "GEMS_PARM_01", 0x00431027: "/1.0:1"}),
])
def test_retain_safe_private_keeps_only_the_listed_attributes(
        tmp_path: Path, package: str, name: str, kept: dict[int, object]) -> None:
    src = _corpus(package, name)
    original = _private(pydicom.dcmread(src))
    assert len(original) > 3 * len(kept)  # most private attributes are not on the list
    res = deidentify_file(src, tmp_path / "safe.dcm", date_shift_days=-40,
                          allow_burned_in=True, retain_safe_private=True)
    ds = pydicom.dcmread(res.dest)
    got = {tag: (str(v) if isinstance(v, str | float) else v)
           for tag, v in _private(ds).items()}
    assert got == {tag: (str(v) if isinstance(v, str | float) else v)
                   for tag, v in kept.items()}
    assert len(res.safe_private) == sum(1 for t in kept if t & 0xFFFF >= 0x1000)
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == [
        "113100", "113107", "113111"]
    assert "Retain Safe Private" in ds.DeidentificationMethod[-1]
    # without the option every private attribute goes, the same file otherwise
    plain = deidentify_file(src, tmp_path / "plain.dcm", date_shift_days=-40,
                            allow_burned_in=True)
    back = pydicom.dcmread(plain.dest)
    assert _private(back) == {} and plain.safe_private == ()
    assert [c.CodeValue for c in back.DeidentificationMethodCodeSequence] == ["113100", "113107"]


def test_safe_tags_cannot_smuggle_identity(tmp_path: Path) -> None:
    """A safe tag with text where a number or a defined term belongs, the wrong VR, or the
    right element number under another creator is removed like any private attribute."""
    ds = pydicom.dcmread(_corpus("nibabel", "0.dcm"))
    name = str(ds.PatientName)
    ds[0x0019100D].value = "DOE JOHN"  # valid CS characters, not a directionality term
    ds.add_new(0x00190011, "LO", "SIEMENS MR HEADER")  # a second block of the same creator
    ds.add_new(0x0019110C, "IS", "123456")  # a b-value there: still the listed attribute
    ds.add_new(0x00190012, "LO", "ACME")  # another creator's element 0C is not listed
    ds.add_new(0x0019120C, "IS", "42")
    ds.add_new(0x00191023, "LO", name)  # an MR header element not on the list
    src = tmp_path / "hostile.dcm"
    ds.save_as(src)
    res = deidentify_file(src, tmp_path / "out.dcm", date_shift_days=-40, allow_burned_in=True,
                          retain_safe_private=True)
    out = _private(pydicom.dcmread(res.dest))
    assert out == {0x00190010: "SIEMENS MR HEADER", 0x0019100C: "0",
                   0x00190011: "SIEMENS MR HEADER", 0x0019110C: "123456"}
    assert name.encode() not in res.dest.read_bytes() and b"DOE JOHN" not in \
        res.dest.read_bytes()


def test_media_export_with_retain_safe_private_records_the_option(tmp_path: Path) -> None:
    from medreview.domain.records import AttachmentRecord, Located
    from medreview.storage.ingest import ingest

    project = study_project(tmp_path / "p", n_cases=1)
    try:
        recs = []
        for n, (package, name) in enumerate((("pydicom", "CT_small.dcm"),
                                             ("nibabel", "0.dcm"), ("nibabel", "1.dcm"))):
            ds = pydicom.dcmread(_corpus(package, name))
            ds.BurnedInAnnotation = "NO"  # as a lead would have confirmed
            path = tmp_path / f"{n}.dcm"
            ds.save_as(path)
            recs.append(Located(AttachmentRecord("case-00001", str(path), "dicom"), "t", n))
        ingest(project, recs, source="corpus", importer="t")
        report = export_media(project, tmp_path / "media", retain_safe_private=True, seed=1)
    finally:
        project.close()
    assert report.refused == []  # the leak scan passes with the kept attributes
    doc = json.loads((tmp_path / "media" / REPORT_NAME).read_text())
    assert "113111 Retain Safe Private" in doc["dicom"]["options"]
    assert "Table E.3.10-1" in doc["dicom"]["private_tags"]
    kept = {k for f in doc["files"] for k in f["safe_private"]}
    assert "(0019,xx0C) SIEMENS MR HEADER B_value" in kept
    assert "(0019,xx23) GEMS_ACQU_01 Table Speed [mm/rotation]" in kept
    for path in (tmp_path / "media").rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        for el in ds.iterall():
            if el.tag.is_private and not el.tag.is_private_creator:
                creator = ds[(el.tag.group << 16) | (el.tag.element >> 8)].value
                assert (creator, el.tag.group, el.tag.element & 0xFF) in SAFE_PRIVATE, el


def test_cli_retain_safe_private_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medreview.cli.main import main
    from medreview.domain.records import AttachmentRecord, Located
    from medreview.storage.ingest import ingest

    project = study_project(tmp_path / "p", n_cases=1, dicom=False)
    try:
        ds = pydicom.dcmread(_corpus("nibabel", "0.dcm"))
        ds.BurnedInAnnotation = "NO"
        ds.save_as(tmp_path / "dwi.dcm")
        ingest(project, [Located(AttachmentRecord("case-00001", str(tmp_path / "dwi.dcm"),
                                                  "dicom"), "t", 1)], source="s", importer="t")
    finally:
        project.close()
    for flag, out in (([], "plain"), (["--retain-safe-private"], "safe")):
        assert main(["export", str(tmp_path / "p"), str(tmp_path / out), "--kind", "media",
                     *flag]) == 0
    capsys.readouterr()
    (plain,) = (tmp_path / "plain" / "media").rglob("*.dcm")
    (safe,) = (tmp_path / "safe" / "media").rglob("*.dcm")
    assert _private(pydicom.dcmread(plain)) == {}
    assert pydicom.dcmread(safe)[0x0019100C].value == "0"
    doc = json.loads((tmp_path / "safe" / "media" / REPORT_NAME).read_text())
    assert doc["files"][0]["safe_private"] == ["(0019,xx0C) SIEMENS MR HEADER B_value",
                                               "(0019,xx0D) SIEMENS MR HEADER "
                                               "DiffusionDirectionality"]
