"""Rater packages as stored: the lead's record of issued packages, and a package's database.

``issued_package`` is the lead's record of every package its project wrote (uid, rater, seal
key, token -> output map): merge trusts nothing a package says about itself that this record
can tell. ``write_package_database`` copies one physician's slice of a project (forms, their
assigned cases with media, blinded outputs, their own judgments) into a new package project.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, Table, func, insert, select
from sqlalchemy.orm import Session

from medreview.errors import InputError, PackageError
from medreview.storage.base import Base
from medreview.storage.models import (
    AssignmentRow,
    AttachmentRow,
    CaseCriterionRow,
    CaseRow,
    FormRow,
    GuidelineRow,
    IssuedPackageRow,
    JudgmentRevisionRow,
    JudgmentRow,
    OutputRow,
    ProjectRow,
    RaterRow,
    SeriesRow,
    StudyItemRow,
)
from medreview.storage.project import MEDIA_DIR, Project, create_project
from medreview.storage.qualification import package_items


@dataclass(frozen=True)
class IssuedOutput:
    output_id: int
    text_sha256: str


@dataclass(frozen=True)
class IssuedPackage:
    uid: str
    rater_id: int
    rater: str
    rater_kind: str
    issued_at: dt.datetime
    outputs: dict[str, IssuedOutput]  # token -> this project's output
    attachments: dict[int, int]  # package attachment id -> this project's
    secret: str = field(repr=False)


# --- the issue record ------------------------------------------------------------------------


def record_issue(project: Project, *, uid: str, rater_id: int, secret: str,
                 outputs: dict[str, IssuedOutput], attachments: dict[int, int]) -> None:
    """Record a package as issued (its own transaction)."""
    with project.transaction() as s:
        s.add(IssuedPackageRow(
            uid=uid, rater_id=rater_id, secret=secret,
            outputs={t: {"output_id": o.output_id, "text_sha256": o.text_sha256}
                     for t, o in outputs.items()},
            attachments={str(k): v for k, v in attachments.items()}))
        s.flush()


def _view(row: IssuedPackageRow, rater: RaterRow) -> IssuedPackage:
    outputs: dict[str, Any] = row.outputs
    return IssuedPackage(
        uid=row.uid, rater_id=rater.id, rater=rater.name, rater_kind=rater.kind,
        issued_at=row.issued_at,
        outputs={t: IssuedOutput(int(v["output_id"]), str(v["text_sha256"]))
                 for t, v in outputs.items()},
        attachments={int(k): int(v) for k, v in row.attachments.items()},
        secret=row.secret)


def _issued_in(s: Session, uid: str) -> IssuedPackage | None:
    found = s.execute(select(IssuedPackageRow, RaterRow)
                      .join(RaterRow, RaterRow.id == IssuedPackageRow.rater_id)
                      .where(IssuedPackageRow.uid == uid)).first()
    return None if found is None else _view(*found)


def _all_issued_in(s: Session) -> list[IssuedPackage]:
    return [_view(row, rater) for row, rater in s.execute(
        select(IssuedPackageRow, RaterRow)
        .join(RaterRow, RaterRow.id == IssuedPackageRow.rater_id)
        .order_by(IssuedPackageRow.id))]


def issued_package(project: Project, uid: str) -> IssuedPackage | None:
    """The record of package ``uid`` if this project issued it."""
    with project.read() as s:
        return _issued_in(s, uid)


def issued_packages(project: Project) -> list[IssuedPackage]:
    """Every package this project issued, oldest first."""
    with project.read() as s:
        return _all_issued_in(s)


# --- the package database --------------------------------------------------------------------


@dataclass(frozen=True)
class PackageDatabase:
    """What ``write_package_database`` wrote, for the manifest and the issue record."""

    outputs: dict[str, IssuedOutput]  # token -> this project's output
    attachments: dict[int, int]  # package attachment id -> this project's


def _map_annotations(annotations: list[Any], att_map: dict[int, int],
                     out_map: dict[int, int]) -> list[Any]:
    """Rewrite database-local ids (image-region attachments, pairwise partners)."""
    out = []
    for a in annotations:
        if isinstance(a, dict) and a.get("compared_output_id") in out_map:
            a = {**a, "compared_output_id": out_map[a["compared_output_id"]]}
        if isinstance(a, dict) and isinstance(a.get("region"), dict):
            region = dict(a["region"])
            old = region.get("attachment_id")
            if isinstance(old, int) and old in att_map:
                region["attachment_id"] = att_map[old]
            a = {**a, "region": region}
        out.append(a)
    return out


@dataclass
class _Maps:
    outputs: dict[str, IssuedOutput] = field(default_factory=dict)  # token -> our output
    attachments: dict[int, int] = field(default_factory=dict)  # package id -> ours


_IN_CHUNK = 500  # ids per IN (...) query: far below every dialect's bound-parameter limit


def _rows_in(src: Session, stmt: Select[*tuple[Any, ...]], column: Any, ids: Sequence[int]
             ) -> list[Row[Any]]:
    """``stmt`` restricted to ``column IN ids``, one query per chunk of (sorted) ids."""
    rows: list[Row[Any]] = []
    for i in range(0, len(ids), _IN_CHUNK):
        rows.extend(src.execute(stmt.where(column.in_(ids[i:i + _IN_CHUNK]))).all())
    return rows


def _insert(dst: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` with one executemany, each given the id a flush would have given it
    (the package database is new and SQLite gives max(id) + 1); return those ids."""
    table: Table = model.__table__  # type: ignore[assignment]
    first = int(dst.execute(select(func.max(table.c.id))).scalar() or 0) + 1
    ids = list(range(first, first + len(rows)))
    for i, row in zip(ids, rows, strict=True):
        row["id"] = i
    if rows:
        dst.execute(insert(table), rows)
    return ids


def _copy_content(src: Session, dst: Session, project: Project, rater: RaterRow,
                  media_root: Path, new_token: Callable[[], str]) -> _Maps:
    """Copy the rater's slice of the project into the package database; return the id maps.

    Read a table at a time (ids in chunks) and written with one executemany per table:
    a 25,000-item package took a minute as one ORM object and flush per row. Rows keep the
    order, and so the ids, the per-row copy gave them (tests/storage/test_package_build_rows).
    """
    forms = src.execute(select(FormRow.id, FormRow.key, FormRow.version, FormRow.kind,
                               FormRow.name, FormRow.definition, FormRow.sha256,
                               FormRow.active).order_by(FormRow.id)).all()
    form_map = dict(zip([f.id for f in forms], _insert(dst, FormRow, [
        {"key": f.key, "version": f.version, "kind": f.kind, "name": f.name,
         "definition": f.definition, "sha256": f.sha256, "active": f.active} for f in forms]),
        strict=True))
    # The grading guidelines travel with the forms: the rater shows them beside the panel (G)
    # and every grade records the version (the same numbers as the lead's, copied as they are).
    _insert(dst, GuidelineRow, [dict(g._mapping) for g in src.execute(
        select(GuidelineRow.form_key, GuidelineRow.version, GuidelineRow.text,
               GuidelineRow.sha256, GuidelineRow.author, GuidelineRow.created_at)
        .order_by(GuidelineRow.id))])
    (new_rater,) = _insert(dst, RaterRow, [
        {"name": rater.name, "kind": rater.kind, "pseudonym": rater.pseudonym}])
    assignments: list[Any] = list(src.execute(
        select(AssignmentRow.output_id, AssignmentRow.position, AssignmentRow.blind_label)
        .where(AssignmentRow.rater_id == rater.id)
        .order_by(AssignmentRow.position, AssignmentRow.id)).all())
    assignments = package_items(src, rater.id, assignments)  # the qualification round
    if not assignments:
        raise PackageError("this rater has no assignments; run `medreview assign` first",
                           item=rater.name)
    outputs = {o.id: o for o in _rows_in(
        src, select(OutputRow.id, OutputRow.case_id, OutputRow.text, OutputRow.text_sha256),
        OutputRow.id, sorted({a.output_id for a in assignments}))}
    case_ids = sorted({o.case_id for o in outputs.values()})
    cases = _rows_in(src, select(
        CaseRow.id, CaseRow.external_id, CaseRow.title, CaseRow.messages, CaseRow.context,
        CaseRow.tags, CaseRow.meta, CaseRow.reference_answer, CaseRow.content_sha256)
        .order_by(CaseRow.id), CaseRow.id, case_ids)
    assert [c.id for c in cases] == case_ids  # outputs' cases exist (foreign key)
    case_map = dict(zip(case_ids, _insert(dst, CaseRow, [
        {"external_id": c.external_id, "title": c.title, "messages": c.messages,
         "context": c.context, "tags": c.tags, "metadata": c.meta,
         "reference_answer": c.reference_answer, "content_sha256": c.content_sha256,
         "source": "package"} for c in cases]), strict=True))
    _insert(dst, CaseCriterionRow, [
        {"case_id": case_map[cr.case_id], "position": cr.position, "key": cr.key,
         "text": cr.text, "points": cr.points, "tags": cr.tags}
        for cr in _rows_in(src, select(
            CaseCriterionRow.case_id, CaseCriterionRow.position, CaseCriterionRow.key,
            CaseCriterionRow.text, CaseCriterionRow.points, CaseCriterionRow.tags)
            .order_by(CaseCriterionRow.case_id, CaseCriterionRow.id),
            CaseCriterionRow.case_id, case_ids)])
    series = _rows_in(src, select(
        SeriesRow.id, SeriesRow.case_id, SeriesRow.study_uid, SeriesRow.series_uid,
        SeriesRow.modality, SeriesRow.description)
        .order_by(SeriesRow.case_id, SeriesRow.id), SeriesRow.case_id, case_ids)
    # An attachment keeps its series only where that series belongs to the same case.
    series_map = {(sr.case_id, sr.id): new for sr, new in zip(series, _insert(dst, SeriesRow, [
        {"case_id": case_map[sr.case_id], "study_uid": sr.study_uid,
         "series_uid": sr.series_uid, "modality": sr.modality,
         "description": sr.description} for sr in series]), strict=True)}
    attachments = _rows_in(src, select(
        AttachmentRow.id, AttachmentRow.case_id, AttachmentRow.series_id, AttachmentRow.kind,
        AttachmentRow.sha256, AttachmentRow.size, AttachmentRow.filename, AttachmentRow.mime,
        AttachmentRow.sop_uid, AttachmentRow.instance_number, AttachmentRow.sort_index,
        AttachmentRow.frame_count, AttachmentRow.meta)
        .order_by(AttachmentRow.case_id, AttachmentRow.id), AttachmentRow.case_id, case_ids)
    att_map = dict(zip([att.id for att in attachments], _insert(dst, AttachmentRow, [
        {"case_id": case_map[att.case_id],
         "series_id": series_map.get((att.case_id, att.series_id)), "kind": att.kind,
         "sha256": att.sha256, "size": att.size, "filename": att.filename, "mime": att.mime,
         "sop_uid": att.sop_uid, "instance_number": att.instance_number,
         "sort_index": att.sort_index, "frame_count": att.frame_count, "metadata": att.meta}
        for att in attachments]), strict=True))
    for att in attachments:
        target = media_root / att.sha256[:2] / att.sha256[2:]
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project.media.open_verified(att.sha256), target)
    # Output rows go in in a random order with random tokens: package ids say nothing about
    # the import (= model) order, and the token -> output map stays with the lead.
    shuffled = list(assignments)
    random.SystemRandom().shuffle(shuffled)
    maps = _Maps()
    rows: list[dict[str, Any]] = []
    for a in shuffled:
        o = outputs[a.output_id]
        token = new_token()
        # Blinded: the model name is replaced by the label the rater sees; no metadata travels.
        rows.append({"case_id": case_map[o.case_id], "external_id": token,
                     "model": a.blind_label, "text": o.text, "text_sha256": o.text_sha256,
                     "metadata": {}, "source": "package"})
        maps.outputs[token] = IssuedOutput(o.id, o.text_sha256)
    output_map = {a.output_id: new
                  for a, new in zip(shuffled, _insert(dst, OutputRow, rows), strict=True)}
    # No seed: with it and the case, the seeded label shuffle gives back the model order.
    _insert(dst, AssignmentRow, [
        {"rater_id": new_rater, "output_id": output_map[a.output_id], "position": a.position,
         "blind_label": a.blind_label, "seed": None} for a in assignments])
    # A senior grading offline reads why an item came to them, as in the app.
    _insert(dst, StudyItemRow, [
        {"rater_id": new_rater, "output_id": output_map[oid], "kind": "escalation",
         "reason": reason}
        for oid, reason in src.execute(
            select(StudyItemRow.output_id, StudyItemRow.reason).where(
                StudyItemRow.rater_id == rater.id, StudyItemRow.kind == "escalation")
            .order_by(StudyItemRow.id)) if oid in output_map])
    # Retests travel too: the package's queue serves each, blank, once it is due (the delay
    # counts from the rater's first finished answer, which may be given in the package), and
    # the merge takes the answer back as a retest (study/merge.py). Hidden checks never travel.
    _insert(dst, StudyItemRow, [
        {"rater_id": new_rater, "output_id": output_map[oid], "kind": "retest", "due_at": due,
         "reason": reason}
        for oid, due, reason in src.execute(
            select(StudyItemRow.output_id, StudyItemRow.due_at, StudyItemRow.reason).where(
                StudyItemRow.rater_id == rater.id, StudyItemRow.kind == "retest")
            .order_by(StudyItemRow.id)) if oid in output_map])
    judgments = [j for j in src.execute(
        select(JudgmentRow.id, JudgmentRow.output_id, JudgmentRow.status, JudgmentRow.flagged,
               JudgmentRow.current_revision_no, JudgmentRow.created_at, JudgmentRow.updated_at)
        .where(JudgmentRow.rater_id == rater.id).order_by(JudgmentRow.id))
        if j.output_id in output_map]
    judgment_map = dict(zip([j.id for j in judgments], _insert(dst, JudgmentRow, [
        {"rater_id": new_rater, "output_id": output_map[j.output_id], "status": j.status,
         "flagged": j.flagged, "current_revision_no": j.current_revision_no,
         "created_at": j.created_at, "updated_at": j.updated_at} for j in judgments]),
        strict=True))
    r = JudgmentRevisionRow
    _insert(dst, JudgmentRevisionRow, [
        {"uid": rev.uid, "judgment_id": judgment_map[rev.judgment_id],
         "revision_no": rev.revision_no, "form_id": form_map[rev.form_id],
         "taxonomy_id": form_map[rev.taxonomy_id] if rev.taxonomy_id else None,
         "answers": rev.answers,
         "annotations": _map_annotations(list(rev.annotations), att_map, output_map),
         "rationale": rev.rationale, "confidence": rev.confidence,
         "overall_score": rev.overall_score, "time_on_task_s": rev.time_on_task_s,
         "flagged": rev.flagged, "skipped": rev.skipped, "status": rev.status,
         "author": rev.author, "source": rev.source, "created_at": rev.created_at}
        for rev in src.execute(
            select(r.judgment_id, r.uid, r.revision_no, r.form_id, r.taxonomy_id, r.answers,
                   r.annotations, r.rationale, r.confidence, r.overall_score,
                   r.time_on_task_s, r.flagged, r.skipped, r.status, r.author, r.source,
                   r.created_at)
            .join(JudgmentRow, JudgmentRow.id == r.judgment_id)
            .where(JudgmentRow.rater_id == rater.id).order_by(r.judgment_id, r.id))
        if rev.judgment_id in judgment_map])
    maps.attachments = {v: k for k, v in att_map.items()}
    return maps


def write_package_database(project: Project, rater_id: int, folder: Path, *, name: str,
                           settings: dict[str, Any], new_token: Callable[[], str]
                           ) -> PackageDatabase:
    """Create the package project in ``folder`` holding rater ``rater_id``'s slice of
    ``project`` (read in one snapshot), models hidden and ``settings`` as its settings."""
    with project.read() as s:
        rater = s.get(RaterRow, rater_id)
        if rater is None:
            raise InputError("no rater with this id in the project", item=str(rater_id))
        pkg = create_project(folder, name)
        try:
            with pkg.transaction() as d:
                maps = _copy_content(s, d, project, rater, folder / MEDIA_DIR, new_token)
                prow = d.scalars(select(ProjectRow)).one()
                prow.reveal_models = False
                prow.settings = settings
        finally:
            pkg.close()
    return PackageDatabase(dict(maps.outputs), dict(maps.attachments))


def consistent_db_copy(db: Path, dest: Path) -> None:
    """SQLite online backup: includes WAL contents, safe while the app has the file open."""
    src = sqlite3.connect(db)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
