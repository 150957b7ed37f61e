"""Real scanner DICOM through import, display and the de-identifying export (issue #12).

One project per module: the corpus (tests/dicom_corpus/corpus.py) is imported through the CLI
and exported with ``--kind media``; the tests then check what was left out and why, what is
shown, that every exported file passes dciodvfy (dicom3tools) with no error its original did
not have, and that no original person name, date, time, instance UID or private tag remains
anywhere in an exported file, nested sequences and file meta included.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from sqlalchemy import select

from medreview.cli.main import main
from medreview.exporters.deid import DUMMIES, DeidentificationError, deidentify_file
from medreview.imaging.display import decode_frame, display_frame, frame_info
from medreview.storage.models import AttachmentRow, CaseRow
from medreview.storage.project import open_project
from tests.dicom_corpus.corpus import CASES, EXPECTED_LEFT_OUT, build_corpus, source_file

DCIODVFY = shutil.which("dciodvfy")


@dataclass
class Run:
    root: Path
    corpus: Path
    project: Path
    export: Path
    import_out: str
    strict_rc: int
    strict_err: str
    export_out: str
    originals: dict[str, Path]  # exported relative path -> original file


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("corpus-run")
    corpus = build_corpus(root / "corpus")
    cases = root / "cases.jsonl"
    cases.write_text("".join(json.dumps({"case_id": c, "prompt": "Read the images", "model": "m",
                                         "output": "normal"}) + "\n" for c in CASES))
    project = root / "p"
    import contextlib
    import io

    def cli(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            rc = main(list(args))
        return rc, out.getvalue(), err.getvalue()

    assert cli("init", str(project), "--rubric", "quality_harm")[0] == 0
    assert cli("import", str(project), str(cases))[0] == 0
    strict_rc, _, strict_err = cli("import", str(project), str(corpus), "--strict")
    rc, import_out, _ = cli("import", str(project), str(corpus))
    assert rc == 0, import_out
    export = root / "exp"
    rc, export_out, err = cli("export", str(project), str(export), "--kind", "media",
                              "--allow-burned-in")
    assert rc == 0, err
    report = json.loads((export / "media" / "deid_report.json").read_text())
    with open_project(project) as proj, proj.read() as s:
        rows = {a.id: (a, ext) for a, ext in s.execute(
            select(AttachmentRow, CaseRow.external_id).join(
                CaseRow, CaseRow.id == AttachmentRow.case_id))}
    originals = {f["path"]: corpus / rows[f["attachment_id"]][1] / rows[f["attachment_id"]][
        0].filename for f in report["files"]}
    yield Run(root, corpus, project, export / "media", import_out, strict_rc, strict_err,
              export_out, originals)


# -- import -----------------------------------------------------------------------------------
def test_every_usable_file_is_imported_and_every_other_listed_with_its_reason(run: Run) -> None:
    left = {line.split(": ", 2)[1].rsplit("/", 1)[-1]: line.split(": ", 2)[2]
            for line in run.import_out.splitlines() if line.strip().startswith("left out:")}
    expected = {n: why for case in EXPECTED_LEFT_OUT.values() for n, why in case.items()}
    assert set(left) == set(expected), run.import_out
    for name, word in expected.items():
        assert word in left[name], (name, left[name])
    assert f"{len(expected)} DICOM file(s) left out" in run.import_out
    n_files = sum(len(files) for files in CASES.values())
    assert f"{n_files - len(expected)} attachments" in run.import_out


def test_strict_refuses_the_folder_in_one_line_and_imports_nothing(run: Run) -> None:
    assert run.strict_rc == 2
    lines = [x for x in run.strict_err.splitlines() if x.strip() and "[" not in x[:40]]
    assert len(lines) == 1 and "--strict" in lines[0] and "Traceback" not in run.strict_err
    # the later non-strict import added the series: the strict one had added nothing
    assert "added 0" not in run.import_out and "series" in run.import_out


def test_files_without_series_uid_become_their_own_series(run: Run) -> None:
    with open_project(run.project) as proj, proj.read() as s:
        case = s.scalars(select(CaseRow).where(CaseRow.external_id == "no-series-uid")).one()
        atts = s.scalars(select(AttachmentRow).where(AttachmentRow.case_id == case.id)).all()
        series = {a.series_id for a in atts}
    assert len(atts) == 2 and None not in series and len(series) == 2


def test_imported_images_decode_first_and_last_frame(run: Run) -> None:
    """Displayability was decided at import: every imported DICOM file renders."""
    with open_project(run.project) as proj, proj.read() as s:
        atts = [(a.sha256, a.frame_count) for a in s.scalars(
            select(AttachmentRow).where(AttachmentRow.kind == "dicom"))]
        paths = [(proj.media.open_verified(sha), n) for sha, n in atts]
    for path, n in paths:
        for f in {0, n - 1}:
            assert display_frame(path, f).dtype == np.uint8


# -- display ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("little", "big"), [
    ("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),
    ("OBXXXX1A_2frame.dcm", "OBXXXX1A_expb_2frame.dcm"),
    ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"),
])
def test_palette_colour_is_the_same_in_both_byte_orders(little: str, big: str) -> None:
    le, be = source_file("pydicom", little), source_file("pydicom", big)
    for f in range(frame_info(le).n_frames):
        a, b = display_frame(le, f), display_frame(be, f)
        assert a.shape == b.shape and a.ndim == 3
        assert np.array_equal(a, b) and a.max() > 100  # not black


def test_palette_without_file_meta_renders() -> None:
    img = display_frame(source_file("pydicom", "OT-PAL-8-face.dcm"))
    assert img.shape == (480, 640, 3) and img.std() > 20


def test_rt_image_without_window_gets_a_robust_automatic_window() -> None:
    path = source_file("pynetdicom", "RTImageStorage.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" not in ds and "VOILUTSequence" not in ds
    stored = ds.pixel_array.astype(float)
    lo, hi = np.percentile(stored, [2, 98])
    frame = decode_frame(path)
    assert frame.value_range == pytest.approx((lo, hi))
    img = frame.render()
    assert 40 < img.mean() < 225 and img.std() > 30  # the full range: almost white
    assert np.mean(display_frame(path) == 255) < 0.01 + np.mean(stored >= hi)


def test_enhanced_multiframe_uses_the_functional_group_window_and_rescale() -> None:
    path = source_file("pydicom", "eCT_Supplemental.dcm")
    info = frame_info(path)
    assert (info.default_window.center, info.default_window.width) == (49.0, 102.0)
    frame = decode_frame(path, 1)
    assert frame.grey is not None and frame.grey.intercept == -1024.0
    hu = frame.modality_values()
    img = frame.render()
    inside = (hu > 49 - 50) & (hu < 49 + 50)
    assert ((img[hu <= -2] == 0).all() and (img[hu >= 100] == 255).all() and inside.any())


# -- de-identification ------------------------------------------------------------------------
def _errors(path: Path) -> set[str]:
    assert DCIODVFY, "dciodvfy (Debian dicom3tools) is not installed; see .ci/run"
    res = subprocess.run([DCIODVFY, "-new", str(path)], capture_output=True, text=True,
                         timeout=60)
    # messages quote the offending value (a UID the export replaced): compare without it
    return {re.sub(r"=\s*<[^<>]*>", "= <value>", x.strip())
            for x in (res.stdout + res.stderr).splitlines() if x.startswith("Error")}


def test_export_lists_its_refusals_and_exports_the_rest(run: Run) -> None:
    report = json.loads((run.export / "deid_report.json").read_text())
    assert report["refused_count"] == len(report["refused"]) == 1
    assert "not a complete DICOM object" in report["refused"][0]["reason"]  # no SOP UIDs
    assert len(report["files"]) == len(run.originals) >= 20
    assert "22 files, 1 refused" in run.export_out and "refused: case no-series-uid" in \
        run.export_out


def _baseline(original: Path, tmp: Path) -> Path:
    """The original as dciodvfy can read it: dicom3tools cannot read deflated files
    ("Tag read failed"), so those are compared in their inflated form (nothing else changed;
    the export writes them inflated too)."""
    ds = pydicom.dcmread(original, force=True)
    if str(ds.file_meta.get("TransferSyntaxUID", "")) != pydicom.uid.DeflatedExplicitVRLittleEndian:
        return original
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out = tmp / f"inflated-{original.name}"
    ds.save_as(out)
    return out


def test_exports_introduce_no_dciodvfy_error(run: Run, tmp_path: Path) -> None:
    new: dict[str, set[str]] = {}
    for rel, original in run.originals.items():
        before = _errors(_baseline(original, tmp_path))
        assert not any("read failed" in e for e in before), (original.name, before)
        added = _errors(run.export / rel) - before
        if added:
            new[original.name] = added
    assert new == {}


def _walk(ds: pydicom.Dataset) -> Iterator[pydicom.DataElement]:
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        yield from meta.iterall()
    yield from ds.iterall()


def _originals(ds: pydicom.Dataset) -> tuple[set[str], set[str]]:
    """(names, dates, times and instance UIDs as whole values; private tag numbers)."""
    from medreview.exporters.deid import is_instance_uid

    values: set[str] = set()
    private: set[str] = set()
    for el in _walk(ds):
        if el.tag.is_private:
            private.add(str(el.tag))
        if el.VR in ("PN", "DA", "TM", "DT") or is_instance_uid(el):
            raw = el.value if isinstance(el.value, list | pydicom.multival.MultiValue) \
                else [el.value]
            for v in raw:
                text = str(v).strip()
                if el.VR == "UI" and text.startswith("1.2.840.10008."):
                    continue
                if text and text not in DUMMIES:
                    values.add(text)
                    if el.VR == "PN":
                        values |= {p for p in text.replace("=", "^").split("^") if len(p) > 1}
    return values, private


def test_no_original_name_date_time_uid_or_private_tag_remains_anywhere(run: Run) -> None:
    for rel, original in run.originals.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values, _ = _originals(pydicom.dcmread(original, force=True))
            out = pydicom.dcmread(run.export / rel)
        assert not any(el.tag.is_private for el in _walk(out)), rel
        assert "SourceApplicationEntityTitle" not in out.file_meta, rel
        found = set()
        for el in _walk(out):
            if el.VR in ("SQ", "OB", "OW", "UN") or el.tag == 0x7FE00010:
                continue
            raw = el.value if isinstance(el.value, list | pydicom.multival.MultiValue) \
                else [el.value]
            texts = {str(v).strip() for v in raw}
            if el.VR == "PN":
                texts |= {p for t in texts for p in t.replace("=", "^").split("^")}
            found |= texts & values
        assert found == set(), (original.name, sorted(found)[:5])


def test_uids_are_replaced_consistently_across_the_export(run: Run) -> None:
    """One original UID -> one new UID everywhere (references still resolve), and no two
    original UIDs share a new one."""
    from medreview.exporters.deid import is_instance_uid

    forward: dict[str, set[str]] = {}
    for rel, original in run.originals.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = pydicom.dcmread(original, force=True)
        b = pydicom.dcmread(run.export / rel)
        assert b.file_meta.MediaStorageSOPInstanceUID == b.SOPInstanceUID
        pairs = _uid_pairs(a, b, is_instance_uid)
        for old, new in pairs:
            forward.setdefault(old, set()).add(new)
    assert forward and all(len(v) == 1 for v in forward.values())
    backward = [next(iter(v)) for v in forward.values()]
    assert len(backward) == len(set(backward))
    # the SEG's nested references were remapped, not emptied or kept
    seg = next(r for r, o in run.originals.items() if o.name == "liver.dcm")
    out = pydicom.dcmread(run.export / seg)
    ref = out.ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID.startswith("2.25.")
    inst = ref.ReferencedInstanceSequence[0]
    assert inst.ReferencedSOPClassUID.startswith("1.2.840.10008.")
    assert inst.ReferencedSOPInstanceUID.startswith("2.25.")
    src = out.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0] \
        if "DerivationImageSequence" in out.SharedFunctionalGroupsSequence[0] else None
    if src is not None:
        assert src.SourceImageSequence[0].ReferencedSOPInstanceUID.startswith("2.25.")


def _uid_pairs(a: pydicom.Dataset, b: pydicom.Dataset, is_uid) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(original, exported) values of instance UIDs at the same place in both datasets."""
    out: list[tuple[str, str]] = []

    def visit(x: pydicom.Dataset, y: pydicom.Dataset) -> None:
        for el in x:
            if el.tag not in y:
                continue
            other = y[el.tag]
            if el.VR == "SQ" and other.VR == "SQ":
                for i, j in zip(el.value, other.value, strict=False):
                    visit(i, j)
            elif is_uid(el) and el.value and other.value and not str(el.value).startswith(
                    "1.2.840.10008."):
                out.append((str(el.value), str(other.value)))

    visit(a, b)  # (the file meta's instance UID is the SOP Instance UID: checked apart)
    return out


def test_overlays_leave_whole_and_no_overlay_text_remains(run: Run) -> None:
    rel = next(r for r, o in run.originals.items() if o.name.startswith("MR-SIEMENS"))
    original = pydicom.dcmread(run.originals[rel])
    assert any(0x6000 <= el.tag.group <= 0x60FF for el in original)
    out = pydicom.dcmread(run.export / rel)
    assert not any(0x6000 <= el.tag.group <= 0x60FF or 0x5000 <= el.tag.group <= 0x50FF
                   for el in out.iterall())


def test_truncated_file_is_refused_not_exported_as_a_stub(tmp_path: Path) -> None:
    src = source_file("pydicom", "emri_small_jpeg_2k_lossless_too_short.dcm")
    dest = tmp_path / "out.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DeidentificationError, match="not a complete DICOM object"):
            deidentify_file(src, dest, date_shift_days=-40, allow_burned_in=True)
    assert not dest.exists()


def test_kept_values_equal_to_identifiers_are_not_leaks(tmp_path: Path) -> None:
    """The leak scan's old false positives: a private value equal to kept geometry, TOSHIBA as
    Manufacturer and InstitutionName, ANON inside ANONYMIZED, a time inside a kept datetime."""
    ds = pydicom.dcmread(source_file("pydicom", "CT_small.dcm"))
    ds.Manufacturer = ds.InstitutionName = "TOSHIBA"
    ds.PatientName = "ANON"
    ds.SliceThickness = "5.0"
    block = ds.private_block(0x0019, "ACME 1.0", create=True)
    block.add_new(0x10, "DS", "5.0")
    ds.AcquisitionTime = "101112"
    ds.AcquisitionDateTime = "20040119101112"
    ds.BurnedInAnnotation = "NO"
    src = tmp_path / "in.dcm"
    ds.save_as(src)
    res = deidentify_file(src, tmp_path / "out.dcm", date_shift_days=-10)
    out = pydicom.dcmread(res.dest)
    assert out.Manufacturer == "TOSHIBA" and out.InstitutionName != "TOSHIBA"
    assert out.SliceThickness == 5.0 and out.AcquisitionDateTime == "20040109101112"
    assert "AcquisitionTime" not in out or out.AcquisitionTime != "101112"
    assert str(out.PatientName) != "ANON"



def test_structured_report_text_is_replaced_and_stays_valid(tmp_path: Path) -> None:
    """Content Sequence is D in Table E.1-1: every text, name and date inside is replaced
    (or shifted), the tree and its codes stay, and dciodvfy finds nothing new."""
    src = source_file("pydicom", "test-SR.dcm")
    original = pydicom.dcmread(src)
    texts = {str(el.value) for el in original.iterall()
             if el.keyword in ("TextValue", "PersonName") and el.value}
    assert texts
    res = deidentify_file(src, tmp_path / "sr.dcm", date_shift_days=-5, allow_burned_in=True)
    out = pydicom.dcmread(res.dest)
    kept = {str(el.value) for el in out.iterall() if el.keyword in ("TextValue", "PersonName")}
    assert not kept & texts
    assert len(list(out.ContentSequence)) == len(list(original.ContentSequence))
    assert _errors(res.dest) - _errors(src) == set()


def _attachments(project: Path) -> set[tuple[str, str, str | None, int, int]]:
    from medreview.storage.models import SeriesRow

    with open_project(project) as proj, proj.read() as s:
        return {(ext, a.sha256, series, a.sort_index, a.frame_count)
                for a, ext, series in s.execute(
                    select(AttachmentRow, CaseRow.external_id, SeriesRow.series_uid)
                    .join(CaseRow, CaseRow.id == AttachmentRow.case_id)
                    .outerjoin(SeriesRow, SeriesRow.id == AttachmentRow.series_id))}


def test_the_corpus_imported_before_its_cases_ends_the_same(run: Run, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    """Media first (every series waits for its case), then the cases: each file lands on the
    same case, series and position as when the cases came first."""
    project = tmp_path / "p"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["init", str(project), "--rubric", "quality_harm"]) == 0
        assert main(["import", str(project), str(run.corpus)]) == 0
        out = capsys.readouterr().out
        assert "series waiting for their cases" in out and " attachments" not in out
        assert main(["info", str(project), "--json"]) == 0
        waiting = json.loads(capsys.readouterr().out)["waiting_for_cases"]
        assert sorted(waiting["case_keys"]) == sorted(CASES)
        assert main(["import", str(project), str(run.root / "cases.jsonl")]) == 0
        capsys.readouterr()
        assert main(["info", str(project), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["waiting_for_cases"]["files"] == 0
    assert _attachments(project) == _attachments(run.project)


def test_retain_safe_private_exports_the_same_files_valid_and_keeps_only_the_list(
        run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --retain-safe-private the leak scan still passes on every file it passed before,
    dciodvfy finds nothing new, and the only private attributes left are the listed ones."""
    from medreview.exporters.deid import SAFE_PRIVATE

    out = tmp_path / "safe"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["export", str(run.project), str(out), "--kind", "media",
                     "--allow-burned-in", "--retain-safe-private"]) == 0
    capsys.readouterr()
    report = json.loads((out / "media" / "deid_report.json").read_text())
    plain = json.loads((run.export / "deid_report.json").read_text())
    assert [f["attachment_id"] for f in report["files"]] == \
        [f["attachment_id"] for f in plain["files"]]
    assert report["refused_count"] == plain["refused_count"]
    kept = [k for f in report["files"] for k in f["safe_private"]]
    assert any("SIEMENS MR HEADER B_value" in k for k in kept)
    assert any("GEMS_ACQU_01 Table Speed" in k for k in kept)
    new: dict[str, set[str]] = {}
    for f in report["files"]:
        written = out / "media" / f["path"]
        ds = pydicom.dcmread(written)
        for el in _walk(ds):
            if el.tag.is_private and not el.tag.is_private_creator:
                creator = str(ds[(el.tag.group << 16) | (el.tag.element >> 8)].value)
                assert (creator, el.tag.group, el.tag.element & 0xFF) in SAFE_PRIVATE, el
        if f["safe_private"]:
            before = _errors(run.export / f["path"])  # the same file without the option
            added = _errors(written) - before
            if added:
                new[f["path"]] = added
    assert new == {}
