"""Rater packages: contents, blinding, unpack/open, and every refusal leaving the project as is."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medreview.errors import PackageError
from medreview.services import grading
from medreview.storage.assignments import rater_by_name
from medreview.storage.audit import judgment_history
from medreview.storage.models import JudgmentRevisionRow, OutputRow, RaterRow
from medreview.storage.project import Project, open_project
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import MANIFEST, build_package, read_manifest, unpack_package
from tests.study.helpers import grade_package, study_project


@pytest.fixture
def assigned(study: Project) -> Project:
    assign(study, AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.3, seed=4))
    return study


def _state(project: Project) -> list[tuple[object, ...]]:
    return [(h["uid"], h["revision_no"], json.dumps(h["answers"], sort_keys=True))
            for h in judgment_history(project)]


def test_package_holds_only_the_raters_blinded_items_and_opens_as_a_project(
        assigned: Project, tmp_path: Path) -> None:
    # Dr B already graded one item in the project: it travels; Dr C's judgment must not.
    with assigned.read() as s:
        b = rater_by_name(s, "Dr B").id
        c = rater_by_name(s, "Dr C").id
    b_item = grading.load_queue(assigned, b)[0].output_id
    c_item = grading.load_queue(assigned, c)[0].output_id
    from medreview.domain.judgment import JudgmentDraft

    grading.save_revision(assigned, b, b_item, JudgmentDraft(answers={"overall": 4}))
    grading.save_revision(assigned, c, c_item, JudgmentDraft(answers={"overall": 1}))
    info = build_package(assigned, "Dr B", tmp_path / "b.mrpkg")
    with assigned.read() as s:
        models = set(s.scalars(select(OutputRow.model)))
    folder = unpack_package(info.path, tmp_path / "b")
    pkg = open_project(folder)
    try:
        with pkg.read() as s:
            names = set(s.scalars(select(RaterRow.name)))
            pkg_models = set(s.scalars(select(OutputRow.model)))
            n_revs = s.scalar(select(func.count()).select_from(JudgmentRevisionRow))
        assert names == {"Dr B"}
        assert not pkg_models & models  # no model name inside the package
        assert n_revs == 1
        rid = 1
        queue = grading.load_queue(pkg, rid)
        assert len(queue) == len(grading.load_queue(assigned, b))
    finally:
        pkg.close()
    raw = info.path.read_bytes()
    for m in models:
        assert m.encode() not in raw


def _rewrite(src: Path, dest: Path, edit: object) -> Path:
    """Copy a zip member by member, letting ``edit(name, data)`` change or drop members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            result = edit(info.filename, data)  # type: ignore[operator]
            if result is None:
                continue
            name, data = result
            zout.writestr(name, data)
    return dest


def test_refusals_leave_the_project_unchanged(assigned: Project, tmp_path: Path) -> None:
    good = grade_package(build_package(assigned, "Dr A", tmp_path / "a.mrpkg").path,
                         tmp_path / "a", tmp_path / "a-ret.mrpkg", limit=4)
    before = _state(assigned)

    def tamper(name: str, data: bytes) -> tuple[str, bytes]:
        if name.endswith("project.sqlite"):
            data = data[:-10] + b"X" * 10
        return name, data

    def traverse(name: str, data: bytes) -> tuple[str, bytes]:
        if name.startswith("project/media/") and not traversed:
            traversed.append(name)
            return "project/../../evil.txt", data
        return name, data

    traversed: list[str] = []

    def unlisted(name: str, data: bytes) -> tuple[str, bytes]:
        return name, data

    bad: dict[str, Path] = {
        "tampered": _rewrite(good, tmp_path / "t.mrpkg", tamper),
        "traversal": _rewrite(good, tmp_path / "p.mrpkg", traverse),
    }
    with zipfile.ZipFile(_rewrite(good, tmp_path / "x.mrpkg", unlisted), "a") as z:
        z.writestr("project/extra.bin", b"surprise")
    bad["unlisted"] = tmp_path / "x.mrpkg"
    trunc = tmp_path / "trunc.mrpkg"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    bad["truncated"] = trunc
    notzip = tmp_path / "n.mrpkg"
    notzip.write_text("hello")
    bad["not a zip"] = notzip
    other = study_project(tmp_path / "other", n_cases=3, dicom=False)
    assign(other, AssignmentDesign(("Dr A",), seed=1))
    foreign = build_package(other, "Dr A", tmp_path / "foreign.mrpkg").path
    other.close()
    bad["foreign"] = foreign
    reasons = {}
    for label, f in bad.items():
        with pytest.raises(PackageError) as exc:
            merge_packages(assigned, [good, f])  # the good one is not merged either
        reasons[label] = exc.value.message
        assert _state(assigned) == before, label
    assert "checksum" in reasons["tampered"]
    assert "unsafe path" in reasons["traversal"]
    assert "do not match its manifest" in reasons["unlisted"]
    assert "damaged or truncated" in reasons["truncated"]
    assert "damaged or truncated" in reasons["not a zip"]
    assert "another project" in reasons["foreign"]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_unpack_refuses_traversal_and_symlinks_before_writing(tmp_path: Path) -> None:
    manifest = {"format": "medreview-package/1", "package_uid": "x", "project_uid": "y",
                "rater": {"name": "r"}, "outputs": {}, "files": {}}
    evil = tmp_path / "evil.mrpkg"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr(MANIFEST, json.dumps(manifest))
        z.writestr("/etc/passwd-copy", b"x")
    with pytest.raises(PackageError, match="unsafe path"):
        unpack_package(evil, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    link = tmp_path / "link.mrpkg"
    with zipfile.ZipFile(link, "w") as z:
        z.writestr(MANIFEST, json.dumps(manifest))
        info = zipfile.ZipInfo("project/media/ab/cd")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(PackageError, match="symbolic link"):
        read_manifest(link)


def test_a_package_whose_database_was_swapped_for_another_raters_is_refused(
        assigned: Project, tmp_path: Path) -> None:
    a = build_package(assigned, "Dr A", tmp_path / "a.mrpkg").path
    b = build_package(assigned, "Dr B", tmp_path / "b.mrpkg").path
    with zipfile.ZipFile(b) as zb:
        b_db = zb.read("project/project.sqlite")
    manifest = json.loads(zipfile.ZipFile(a).read(MANIFEST))
    import hashlib

    manifest["files"]["project/project.sqlite"] = {"sha256": hashlib.sha256(b_db).hexdigest(),
                                                   "size": len(b_db)}
    from medreview.study.seal import sealed

    # re-sealed with Dr A's own key, as a rater could: the seal holds, the database does not
    manifest = sealed(manifest, manifest["seal_key"])
    forged = tmp_path / "forged.mrpkg"
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(forged, "w") as z:
        for info in za.infolist():
            if info.filename == MANIFEST:
                z.writestr(MANIFEST, json.dumps(manifest))
            elif info.filename == "project/project.sqlite":
                z.writestr(info.filename, b_db)
            else:
                z.writestr(info.filename, za.read(info.filename))
    before = _state(assigned)
    with pytest.raises(PackageError, match="does not match its manifest"):
        merge_packages(assigned, [forged])
    assert _state(assigned) == before


def test_unpack_into_a_non_empty_folder_is_refused(assigned: Project, tmp_path: Path) -> None:
    f = build_package(assigned, "Dr C", tmp_path / "c.mrpkg").path
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(PackageError, match="not empty"):
        unpack_package(f, dest)
    assert (dest / "keep.txt").read_text() == "mine"
    shutil.rmtree(dest)


def test_media_travel_with_their_cases(assigned: Project, tmp_path: Path) -> None:
    for name in ("Dr A", "Dr B", "Dr C"):
        with assigned.read() as s:
            rid = rater_by_name(s, name).id
        if any(q.case_external_id == "case-00001" for q in grading.load_queue(assigned, rid)):
            break
    info = build_package(assigned, name, tmp_path / "m.mrpkg")
    assert len([f for f in info.manifest["files"] if "/media/" in f]) == 2
    pkg = open_project(unpack_package(info.path, tmp_path / "m"))
    try:
        row = next(q for q in grading.load_queue(pkg, 1) if q.case_external_id == "case-00001")
        item = grading.load_item(pkg, 1, row.output_id)
        atts = [a for sv in item.series for a in sv.attachments]
        assert len(atts) == 2 and all(pkg.media.open_verified(a.sha256) for a in atts)
    finally:
        pkg.close()


def test_image_regions_point_at_the_projects_attachments_after_merge(tmp_path: Path) -> None:
    from medreview.domain.judgment import Annotation, ImageRegion, JudgmentDraft
    from medreview.domain.records import AttachmentRecord, Located
    from medreview.storage.audit import judgment_history
    from medreview.storage.ingest import ingest
    from medreview.study.package import seal_package
    from tests.study.helpers import make_phi_dicom

    project = study_project(tmp_path / "p", n_cases=2, dicom=False)
    # a document on case 2 first, so case 1's images get other ids here than in the package
    doc = tmp_path / "note.txt"
    doc.write_text("discharge letter")
    dcm = make_phi_dicom(tmp_path / "src" / "a.dcm", 1)
    ingest(project, [Located(AttachmentRecord("case-00002", str(doc), "document"), "t", 1),
                     Located(AttachmentRecord("case-00001", str(dcm), "dicom"), "t", 2)],
           source="t", importer="t")
    assign(project, AssignmentDesign(("Dr A",), seed=1))
    with project.read() as s:
        rid = rater_by_name(s, "Dr A").id
    out_id = next(q.output_id for q in grading.load_queue(project, rid)
                  if q.case_external_id == "case-00001")
    source_att = grading.load_item(project, rid, out_id).series[0].attachments[0].id
    folder = unpack_package(build_package(project, "Dr A", tmp_path / "r.mrpkg").path,
                            tmp_path / "r")
    pkg = open_project(folder)
    try:
        row = next(q for q in grading.load_queue(pkg, 1) if q.case_external_id == "case-00001")
        att = grading.load_item(pkg, 1, row.output_id).series[0].attachments[0]
        assert att.id != source_att  # ids are database-local
        grading.save_revision(pkg, 1, row.output_id, JudgmentDraft(
            answers={"overall": 2},
            annotations=(Annotation("errors", "factual", 3,
                                    region=ImageRegion(att.id, "rect", (1, 2, 3, 4))),)),
            status="done")
    finally:
        pkg.close()
    merge_packages(project, [seal_package(folder, tmp_path / "r-ret.mrpkg").path])
    merged = [h for h in judgment_history(project, output_id=out_id) if h["source"] == "merge"]
    project.close()
    region = merged[0]["annotations"][0]["region"]
    assert region["attachment_id"] == source_att
    assert region["coords"] == [1.0, 2.0, 3.0, 4.0]
