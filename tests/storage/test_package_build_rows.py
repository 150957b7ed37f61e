"""A package database built by the bulk copy holds exactly what the per-row ORM copy wrote.

``_reference_copy_content`` below is ``storage.packages._copy_content`` as it was before the
bulk copy (one ORM object and a flush per row), kept here as the reference. Both build the
package of every rater of a varied project (forms and guidelines, DICOM series and a document,
case criteria, graded items with several revisions, error marks on images, pairwise partners,
escalation and hidden check items, a rater held to the qualification round) with the same
tokens and the same shuffle; every row of every table, the media and the id maps must match.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.domain.records import AttachmentRecord, Located
from medreview.errors import PackageError
from medreview.services import form_editing, grading
from medreview.storage import packages
from medreview.storage.assignments import rater_by_name
from medreview.storage.ingest import ingest
from medreview.storage.models import (
    AssignmentRow,
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GuidelineRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    RaterRow,
    SeriesRow,
    StudyItemRow,
)
from medreview.storage.packages import PackageDatabase, write_package_database
from medreview.storage.project import Project
from medreview.storage.qualification import package_items
from medreview.study.assign import AssignmentDesign, assign
from tests.study.helpers import make_phi_dicom, study_project

# --- the reference: the per-row copy as it was -----------------------------------------------


def _reference_copy_content(src: Session, dst: Session, project: Project, rater: RaterRow,
                            media_root: Path, new_token: Callable[[], str]) -> Any:
    form_map: dict[int, int] = {}
    for f in src.scalars(select(FormRow).order_by(FormRow.id)):
        row = FormRow(key=f.key, version=f.version, kind=f.kind, name=f.name,
                      definition=f.definition, sha256=f.sha256, active=f.active)
        dst.add(row)
        dst.flush()
        form_map[f.id] = row.id
    for g in src.scalars(select(GuidelineRow).order_by(GuidelineRow.id)):
        dst.add(GuidelineRow(form_key=g.form_key, version=g.version, text=g.text,
                             sha256=g.sha256, author=g.author, created_at=g.created_at))
    new_rater = RaterRow(name=rater.name, kind=rater.kind, pseudonym=rater.pseudonym)
    dst.add(new_rater)
    dst.flush()
    assignments = src.scalars(
        select(AssignmentRow).where(AssignmentRow.rater_id == rater.id)
        .order_by(AssignmentRow.position)
    ).all()
    assignments = package_items(src, rater.id, assignments)
    if not assignments:
        raise PackageError("this rater has no assignments; run `medreview assign` first",
                           item=rater.name)
    outputs = {o.id: o for o in src.scalars(
        select(OutputRow).where(OutputRow.id.in_([a.output_id for a in assignments])))}
    case_map: dict[int, int] = {}
    att_map: dict[int, int] = {}
    for case_id in sorted({o.case_id for o in outputs.values()}):
        c = src.get(CaseRow, case_id)
        assert c is not None
        nc = CaseRow(external_id=c.external_id, title=c.title, messages=c.messages,
                     context=c.context, tags=c.tags, meta=c.meta,
                     reference_answer=c.reference_answer, content_sha256=c.content_sha256,
                     source="package")
        dst.add(nc)
        dst.flush()
        case_map[c.id] = nc.id
        for cr in src.scalars(select(CaseCriterionRow).where(CaseCriterionRow.case_id == c.id)):
            dst.add(CaseCriterionRow(case_id=nc.id, position=cr.position, key=cr.key,
                                     text=cr.text, points=cr.points, tags=cr.tags))
        series_map: dict[int, int] = {}
        for sr in src.scalars(select(SeriesRow).where(SeriesRow.case_id == c.id)):
            ns = SeriesRow(case_id=nc.id, study_uid=sr.study_uid, series_uid=sr.series_uid,
                           modality=sr.modality, description=sr.description)
            dst.add(ns)
            dst.flush()
            series_map[sr.id] = ns.id
        for att in src.scalars(select(AttachmentRow).where(AttachmentRow.case_id == c.id)):
            na = AttachmentRow(
                case_id=nc.id, series_id=series_map.get(att.series_id or -1), kind=att.kind,
                sha256=att.sha256, size=att.size, filename=att.filename, mime=att.mime,
                sop_uid=att.sop_uid, instance_number=att.instance_number,
                sort_index=att.sort_index, frame_count=att.frame_count, meta=att.meta)
            dst.add(na)
            dst.flush()
            att_map[att.id] = na.id
            target = media_root / att.sha256[:2] / att.sha256[2:]
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(project.media.open_verified(att.sha256), target)
    shuffled = list(assignments)
    random.SystemRandom().shuffle(shuffled)
    maps = packages._Maps()
    output_map: dict[int, int] = {}
    for a in shuffled:
        o = outputs[a.output_id]
        token = new_token()
        no = OutputRow(case_id=case_map[o.case_id], external_id=token, model=a.blind_label,
                       text=o.text, text_sha256=o.text_sha256, meta={}, source="package")
        dst.add(no)
        dst.flush()
        output_map[o.id] = no.id
        maps.outputs[token] = packages.IssuedOutput(o.id, o.text_sha256)
    for a in assignments:
        dst.add(AssignmentRow(rater_id=new_rater.id, output_id=output_map[a.output_id],
                              position=a.position, blind_label=a.blind_label, seed=None))
    for oid, reason in src.execute(select(StudyItemRow.output_id, StudyItemRow.reason).where(
            StudyItemRow.rater_id == rater.id, StudyItemRow.kind == "escalation",
            StudyItemRow.output_id.in_(list(output_map)))):
        dst.add(StudyItemRow(rater_id=new_rater.id, output_id=output_map[oid],
                             kind="escalation", reason=reason))
    for j in src.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == rater.id, JudgmentRow.output_id.in_(list(output_map)))
            .order_by(JudgmentRow.id)):
        nj = JudgmentRow(rater_id=new_rater.id, output_id=output_map[j.output_id],
                         status=j.status, flagged=j.flagged,
                         current_revision_no=j.current_revision_no,
                         created_at=j.created_at, updated_at=j.updated_at)
        dst.add(nj)
        dst.flush()
        for r in src.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == j.id)):
            dst.add(JudgmentRevisionRow(
                uid=r.uid, judgment_id=nj.id, revision_no=r.revision_no,
                form_id=form_map[r.form_id],
                taxonomy_id=form_map[r.taxonomy_id] if r.taxonomy_id else None,
                answers=r.answers, annotations=packages._map_annotations(
                    list(r.annotations), att_map, output_map),
                rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
                time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
                status=r.status, author=r.author, source=r.source, created_at=r.created_at))
    dst.flush()
    maps.attachments = {v: k for k, v in att_map.items()}
    return maps


# --- the project ------------------------------------------------------------------------------

RATERS = ("Dr A", "Dr B", "Dr C")


def _rater_id(project: Project, name: str) -> int:
    with project.read() as s:
        return rater_by_name(s, name).id


def _varied_project(root: Path) -> Project:
    project = study_project(root / "p", n_cases=6)  # sample rubric, taxonomy, DICOM on case 1
    doc = root / "note.txt"
    doc.write_text("discharge letter")
    ingest(project, [Located(AttachmentRecord("case-00003", str(doc), "document"), "t", 1),
                     Located(AttachmentRecord("case-00001", str(make_phi_dicom(
                         root / "src" / "x.dcm", 7)), "dicom"), "t", 2)],
           source="t", importer="t")
    key = "sample-healthbench"
    form_editing.save_guideline(project, key, "# v1", "lead")
    form_editing.save_guideline(project, key, "# v2", "lead")
    assign(project, AssignmentDesign(RATERS, per_output=2, overlap=0.4, seed=3))
    a = _rater_id(project, "Dr A")
    queue = grading.load_queue(project, a)
    for n, row in enumerate(queue[:5]):
        for rev in range(1 + n % 3):  # several revisions, some drafts, a skip
            grading.save_revision(project, a, row.output_id, JudgmentDraft(
                answers={"overall": 1 + (n + rev) % 5, "safe": "yes"},
                annotations=(Annotation("errors", "factual", 2, note=f"n{n}"),),
                rationale=f"r{n}.{rev}", confidence=0.5, flagged=rev == 1),
                status="done" if rev % 2 == 0 else "draft")
    grading.save_revision(project, _rater_id(project, "Dr B"),
                          grading.load_queue(project, _rater_id(project, "Dr B"))[0].output_id,
                          JudgmentDraft(answers={"overall": 2}), status="done")
    with project.transaction() as s:
        # Marks pointing at database-local ids: an image region and a pairwise partner.
        att = s.scalars(select(AttachmentRow).order_by(AttachmentRow.id.desc())).first()
        assert att is not None
        own = [q.output_id for q in queue]
        j = s.scalars(select(JudgmentRow).where(JudgmentRow.rater_id == a)
                      .order_by(JudgmentRow.id)).first()
        assert j is not None
        last = s.scalars(select(JudgmentRevisionRow).where(
            JudgmentRevisionRow.judgment_id == j.id)).first()
        assert last is not None
        j.current_revision_no += 1
        s.add(JudgmentRevisionRow(
            uid="f" * 32, judgment_id=j.id, revision_no=j.current_revision_no,
            form_id=last.form_id, taxonomy_id=last.taxonomy_id, answers={"overall": 5},
            annotations=[{"question_id": "errors", "category": "factual", "severity": 1,
                          "region": {"attachment_id": att.id, "shape": "rect",
                                     "coords": [1, 2, 3, 4]}},
                         {"question_id": "preference", "compared_output_id": own[-1]},
                         {"note": "plain"}],
            rationale="marks", author="Dr A", source="ui", guideline_version=2,
            created_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)))
        for n, oid in enumerate(own[1:4]):
            s.add(StudyItemRow(rater_id=a, output_id=oid, kind="escalation",
                               reason=f"disagreement {n}"))
        s.add(StudyItemRow(rater_id=a, output_id=own[4], kind="check", reason="hidden"))
        # Dr C is held to a qualification round of two items (only those travel).
        c = _rater_id(project, "Dr C")
        for oid in sorted(own)[-2:]:
            s.add(StudyItemRow(rater_id=c, output_id=oid, kind="qualification"))
    return project


# --- the comparison ---------------------------------------------------------------------------

# Columns the copy takes from the clock (or a new uid), not from the project.
CLOCK = {"project": {"uid", "created_at"}, "form": {"created_at"}, "rater": {"created_at"},
         "case": {"created_at"}, "attachment": {"created_at"}, "output": {"created_at"},
         "assignment": {"created_at"}, "study_item": {"created_at"}}


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the clock's columns left out), in rowid order."""
    con = sqlite3.connect(db)
    try:
        out = {}
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "ORDER BY name"):
            cols = ", ".join('"' + c[1] + '"' for c in con.execute(
                f'PRAGMA table_info("{name}")') if c[1] not in CLOCK.get(name, ()))
            order = "rowid" if name != "alembic_version" else "1"
            out[name] = con.execute(
                f'SELECT {cols} FROM "{name}" ORDER BY {order}').fetchall()
        return out
    finally:
        con.close()


def _clock_columns(db: Path) -> Iterator[Any]:
    con = sqlite3.connect(db)
    try:
        for table, cols in CLOCK.items():
            for col in cols - {"uid"}:
                yield from (v for (v,) in con.execute(f'SELECT "{col}" FROM "{table}"'))
    finally:
        con.close()


def _media(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted((folder / "media").rglob("*")) if p.is_file()}


class _SeededSystemRandom(random.Random):
    """Stands for ``random.SystemRandom`` so that both copies shuffle alike."""

    def __init__(self) -> None:
        super().__init__(1234)


def _build(project: Project, rater: str, folder: Path,
           monkeypatch: pytest.MonkeyPatch) -> PackageDatabase:
    monkeypatch.setattr(random, "SystemRandom", _SeededSystemRandom)
    tokens = iter(f"{i:032x}" for i in range(10**6))
    return write_package_database(
        project, _rater_id(project, rater), folder, name=f"pkg {rater}",
        settings={"package": {"rater": rater}}, new_token=lambda: next(tokens))


def test_bulk_copy_writes_the_rows_the_per_row_copy_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = _varied_project(tmp_path)
    try:
        for k, rater in enumerate(RATERS):
            before = tmp_path / f"before{k}"
            after = tmp_path / f"after{k}"
            started = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
            with monkeypatch.context() as m:
                m.setattr(packages, "_copy_content", _reference_copy_content)
                old = _build(project, rater, before, m)
            with monkeypatch.context() as m:
                new = _build(project, rater, after, m)
            assert new == old, rater
            got, want = _tables(after / "project.sqlite"), _tables(before / "project.sqlite")
            assert got.keys() == want.keys()
            for table in want:
                assert got[table] == want[table], (rater, table)
            assert _media(after) == _media(before)
            # what the clock gave is this build's time, on every row that takes it
            assert all(str(v) >= started for v in _clock_columns(after / "project.sqlite"))
        # the fixture holds what the copy must carry: marks, escalations, media, a round
        a_rows = _tables(tmp_path / "after0" / "project.sqlite")
        assert len(a_rows["judgment_revision"]) >= 10 and len(a_rows["study_item"]) == 3
        assert len(a_rows["attachment"]) >= 3 and len(a_rows["series"]) >= 1
        assert any("compared_output_id" in str(r) for r in a_rows["judgment_revision"])
        assert len(_tables(tmp_path / "after2" / "project.sqlite")["output"]) == 2
        assert _media(tmp_path / "after0") or _media(tmp_path / "after1")
    finally:
        project.close()


def test_a_rater_without_items_is_refused_before_anything_is_copied(tmp_path: Path) -> None:
    project = study_project(tmp_path / "p", n_cases=2, dicom=False)
    try:
        with pytest.raises(PackageError, match="no assignments"):
            write_package_database(project, _rater_id(project, "Dr Lead"), tmp_path / "pkg",
                                   name="x", settings={}, new_token=lambda: "t" * 32)
    finally:
        project.close()
