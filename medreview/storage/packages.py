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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.errors import InputError, PackageError
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


def _copy_content(src: Session, dst: Session, project: Project, rater: RaterRow,
                  media_root: Path, new_token: Callable[[], str]) -> _Maps:
    """Copy the rater's slice of the project into the package database; return the id maps."""
    form_map: dict[int, int] = {}
    for f in src.scalars(select(FormRow).order_by(FormRow.id)):
        row = FormRow(key=f.key, version=f.version, kind=f.kind, name=f.name,
                      definition=f.definition, sha256=f.sha256, active=f.active)
        dst.add(row)
        dst.flush()
        form_map[f.id] = row.id
    # The grading guidelines travel with the forms: the rater shows them beside the panel (G)
    # and every grade records the version (the same numbers as the lead's, copied as they are).
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
    assignments = package_items(src, rater.id, assignments)  # the qualification round
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
    # Output rows go in in a random order with random tokens: package ids say nothing about
    # the import (= model) order, and the token -> output map stays with the lead.
    shuffled = list(assignments)
    random.SystemRandom().shuffle(shuffled)
    maps = _Maps()
    output_map: dict[int, int] = {}
    for a in shuffled:
        o = outputs[a.output_id]
        token = new_token()
        # Blinded: the model name is replaced by the label the rater sees; no metadata travels.
        no = OutputRow(case_id=case_map[o.case_id], external_id=token, model=a.blind_label,
                       text=o.text, text_sha256=o.text_sha256, meta={}, source="package")
        dst.add(no)
        dst.flush()
        output_map[o.id] = no.id
        maps.outputs[token] = IssuedOutput(o.id, o.text_sha256)
    for a in assignments:
        # No seed: with it and the case, the seeded label shuffle gives back the model order.
        dst.add(AssignmentRow(rater_id=new_rater.id, output_id=output_map[a.output_id],
                              position=a.position, blind_label=a.blind_label, seed=None))
    for oid, reason in src.execute(select(StudyItemRow.output_id, StudyItemRow.reason).where(
            StudyItemRow.rater_id == rater.id, StudyItemRow.kind == "escalation",
            StudyItemRow.output_id.in_(list(output_map)))):
        # A senior grading offline reads why an item came to them, as in the app.
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
                answers=r.answers, annotations=_map_annotations(list(r.annotations), att_map,
                                             output_map),
                rationale=r.rationale, confidence=r.confidence, overall_score=r.overall_score,
                time_on_task_s=r.time_on_task_s, flagged=r.flagged, skipped=r.skipped,
                status=r.status, author=r.author, source=r.source, created_at=r.created_at))
    dst.flush()
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
