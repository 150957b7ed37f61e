"""Builders for study tests: a small multi-model project, PHI-laden DICOM, scripted grading."""

from __future__ import annotations

import hashlib
from pathlib import Path

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.domain.records import AttachmentRecord, Located
from medreview.services import grading
from medreview.services.sample_project import build_sample_project
from medreview.storage.assignments import rater_by_name
from medreview.storage.ingest import ingest
from medreview.storage.project import Project, open_project
from medreview.study.package import seal_package, unpack_package

PHI = {
    "name": b"DOE^JOHN", "mrn": b"MRN123456", "dob": b"19600101", "inst": b"GENERAL HOSPITAL",
    "refphys": b"SMITH^ANNA", "acc": b"ACC998877", "studydate": b"20240312",
    "privname": b"JOHN DOE PRIVATE", "comment": b"pt John Doe", "nested": b"WHO^REQUESTED",
    "station": b"CTSCAN01", "serial": b"SN-4711", "address": b"1 Main St",
    "other_id": b"OTHER-ID-42",
}


def make_phi_dicom(path: Path, instance: int, burned_in: str | None = "NO",
                   study_date: str = "20240312") -> Path:
    """A tiny CT instance carrying the identifiers of dicom-notes A.13."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = UID(f"1.2.826.0.1.3680043.99.1.{instance}")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.99.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.99.1.0"
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "MRN123456"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "M"
    ds.PatientAddress = "1 Main St"
    ds.OtherPatientIDs = "OTHER-ID-42"
    ds.InstitutionName = "GENERAL HOSPITAL"
    ds.ReferringPhysicianName = "SMITH^ANNA"
    ds.AccessionNumber = "ACC998877"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = study_date
    ds.StationName = "CTSCAN01"
    ds.DeviceSerialNumber = "SN-4711"
    ds.Modality = "CT"
    ds.ImageComments = "pt John Doe, follow-up"
    if burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    ds.InstanceNumber = instance
    rq = Dataset()
    rq.RequestingPhysician = "WHO^REQUESTED"
    ds.RequestAttributesSequence = Sequence([rq])
    ds.private_block(0x0099, "ACME 1.0", create=True).add_new(0x01, "LO", "JOHN DOE PRIVATE")
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(64))
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def study_project(path: Path, *, n_cases: int = 10, dicom: bool = True,
                  burned_in: str | None = "NO") -> Project:
    """Sample rubric + taxonomy, 3 models per case, PHI DICOM on the first case."""
    project, _me = build_sample_project(path, n_cases=n_cases, outputs_per_case=3,
                                        with_dicom=False, rater="Dr Lead")
    if dicom:
        files = [make_phi_dicom(path.parent / "dicom-src" / f"ct{i}.dcm", i + 1, burned_in)
                 for i in range(2)]
        ingest(project, [Located(AttachmentRecord(
            "case-00001", str(f), "dicom", filename=f"DOE_JOHN_{i}.dcm",
            study_uid="1.2.826.0.1.3680043.99.1", series_uid="1.2.826.0.1.3680043.99.1.0",
            sop_uid=f"1.2.826.0.1.3680043.99.1.{i + 1}", modality="CT", instance_number=i + 1,
            sort_index=i), "t", i + 1) for i, f in enumerate(files)],
            source="t", importer="t")
    return project


def _h(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def scripted_draft(rater: str, case_ext: str, text_sha: str, round_no: int = 0) -> JudgmentDraft:
    """A deterministic judgment: a shared 'truth' per answer, each rater off now and then."""
    truth = _h(case_ext, text_sha)
    noise = _h(rater, case_ext, text_sha, round_no)
    overall = 1 + truth % 5
    if noise % 4 == 0:
        overall = 1 + (overall + 2) % 5  # a large ordinal disagreement
    criteria = {f"criterion:{k}": bool((truth >> i) & 1) ^ (noise % 5 == i)
                for i, k in enumerate(("dx", "abx", "safety", "harm"))}
    errors: tuple[Annotation, ...] = ()
    if (truth ^ (noise % 3 == 0)) & 1:
        errors = (Annotation("errors", "factual", 2 + (noise % 2)),)
    return JudgmentDraft(
        answers={"overall": overall, "safe": ("yes", "caveats", "no")[truth % 3],
                 "minutes": 5 * (truth % 4), **criteria},
        annotations=errors, rationale=f"{rater} on {case_ext}: overall {overall}.",
        confidence=0.8)


def grade_package(file: Path, workdir: Path, out: Path, *, limit: int | None = None,
                  round_no: int = 0) -> Path:
    """Unpack, grade every (or the first ``limit``) item through the core API, seal."""
    import json

    if (workdir / "medreview-package.json").is_file():
        folder = workdir
    else:
        folder = unpack_package(file, workdir)
    manifest = json.loads((folder / "medreview-package.json").read_text())
    name = manifest["rater"]["name"]
    pkg = open_project(folder)
    try:
        with pkg.read() as s:
            rater_id = rater_by_name(s, name).id
        queue = grading.load_queue(pkg, rater_id)
        for row in queue[:limit]:
            item = grading.load_item(pkg, rater_id, row.output_id)
            sha = hashlib.sha256(item.answer.encode()).hexdigest()
            grading.save_revision(pkg, rater_id, row.output_id,
                                  scripted_draft(name, item.case.external_id, sha, round_no),
                                  status="done")
    finally:
        pkg.close()
    return seal_package(folder, out).path
