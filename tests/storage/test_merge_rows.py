"""The bulk merge writes, row for row, what the per-row merge (``append_revision`` per revision)
wrote: over varied packages (three raters, partial and full returns, a second graded copy of
a package, re-merges, undo revisions, error and pairwise marks, skipped, draft and flagged
items, and grading in the lead's project that conflicts with the returns).

The per-row path is kept here only as the reference: it is the previous
``storage.merging._apply``, verbatim (plus the guideline version it now passes on), swapped in
for the bulk one with ``monkeypatch``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medreview.domain.judgment import Annotation, JudgmentDraft
from medreview.services import grading
from medreview.services.sample_project import build_sample_project
from medreview.storage import merging
from medreview.storage.assignments import rater_by_name
from medreview.storage.merging import (
    Conflict,
    IncomingPackage,
    PackageMergeResult,
    _fail,
)
from medreview.storage.models import (
    FormRow,
    GoldLabelRow,
    JudgmentRevisionRow,
    JudgmentRow,
    RaterRow,
)
from medreview.storage.project import Project, open_project
from medreview.storage.revisions import RevisionContent, append_revision
from medreview.study.adjudicate import set_gold
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import MergeReport, merge_packages
from medreview.study.package import build_package, seal_package, unpack_package

# --- the reference: the per-row merge --------------------------------------------------------


def _form_id(s: Session, key: tuple[str, int]) -> int:
    row = s.scalars(select(FormRow).where(FormRow.key == key[0],
                                          FormRow.version == key[1])).first()
    assert row is not None
    return row.id


def per_row_apply(s: Session, pkg: IncomingPackage, result: PackageMergeResult,
                  _taken: set[str]) -> None:
    rater = s.get(RaterRow, pkg.issued.rater_id)
    if rater is None or rater.kind != "physician" or rater.name != pkg.issued.rater:
        raise _fail("the rater this package was issued to is gone or changed", pkg.file)
    form_ids: dict[tuple[str, int], int] = {}

    def form_id(key: tuple[str, int]) -> int:
        if key not in form_ids:
            form_ids[key] = _form_id(s, key)
        return form_ids[key]
    for oid in sorted(pkg.chains):
        chain = pkg.chains[oid]
        judgment = s.scalars(select(JudgmentRow).where(
            JudgmentRow.rater_id == rater.id, JudgmentRow.output_id == oid)).first()
        existing: list[JudgmentRevisionRow] = []
        if judgment is not None:
            existing = list(s.scalars(select(JudgmentRevisionRow).where(
                JudgmentRevisionRow.judgment_id == judgment.id)
                .order_by(JudgmentRevisionRow.revision_no)))
        have = {r.uid for r in existing}
        incoming = {r.uid for r in chain}
        new = [r for r in chain if r.uid not in have]
        result.already_present += len(chain) - len(new)
        if not new:
            continue
        local_only = [r for r in existing if r.uid not in incoming and r.source != "resolve"]
        appended: list[JudgmentRevisionRow] = []
        for r in new:
            row = append_revision(
                s, rater_id=rater.id, output_id=oid, content=r.content,
                form_id=form_id(r.form),
                taxonomy_id=form_id(r.taxonomy) if r.taxonomy else None,
                author=r.author, source="merge", uid=r.uid,
                guideline_version=getattr(r, "guideline_version", None))
            if row is not None:
                row.created_at = r.created_at
                appended.append(row)
                result.added += 1
        if not local_only or not appended:
            continue
        graded = [r for r in existing if r.source != "resolve"] + appended
        winner = max(graded, key=lambda r: (r.created_at, r.uid))
        result.conflicts.append(Conflict(
            rater=pkg.rater, output_id=oid, kept_current_uid=winner.uid,
            detail=f"{len(local_only)} revision(s) only in the project, {len(appended)} only "
                   f"in the package; the newest is current"))
        if winner is appended[-1]:
            continue
        all_uids = sorted({r.uid for r in existing} | incoming)
        uid = hashlib.sha256(("resolve:" + ",".join(all_uids)).encode()).hexdigest()
        append_revision(
            s, rater_id=rater.id, output_id=oid,
            content=RevisionContent(
                answers=dict(winner.answers), annotations=list(winner.annotations),
                rationale=winner.rationale, confidence=winner.confidence,
                overall_score=winner.overall_score, time_on_task_s=winner.time_on_task_s,
                flagged=winner.flagged, skipped=winner.skipped, status=winner.status),
            form_id=winner.form_id, taxonomy_id=winner.taxonomy_id,
            author="merge", source="resolve", uid=uid)


# --- what "the same rows" means --------------------------------------------------------------


def dump(project: Project) -> dict[str, list[tuple[Any, ...]]]:
    """Every judgment, revision and gold label with its id; the clock of the merge itself
    (judgment timestamps, a resolve revision's time) left out."""
    def js(v: Any) -> str:
        return json.dumps(v, sort_keys=True)
    with project.read() as s:
        judgments = [(j.id, j.rater_id, j.output_id, j.status, j.flagged, j.current_revision_no)
                     for j in s.scalars(select(JudgmentRow).order_by(JudgmentRow.id))]
        revisions = [(r.id, r.uid, r.judgment_id, r.revision_no, r.form_id, r.taxonomy_id,
                      js(r.answers), js(r.annotations), r.rationale, r.confidence,
                      r.overall_score, r.time_on_task_s, r.flagged, r.skipped, r.status,
                      r.author, r.source, r.guideline_version,
                      None if r.source == "resolve" else r.created_at)
                     for r in s.scalars(select(JudgmentRevisionRow)
                                        .order_by(JudgmentRevisionRow.id))]
        gold = [(g.id, g.uid, g.output_id, g.question_id, js(g.value), g.provenance,
                 g.rationale, g.adjudicator_id, g.revision_no, g.created_at)
                for g in s.scalars(select(GoldLabelRow).order_by(GoldLabelRow.id))]
    return {"judgment": judgments, "judgment_revision": revisions, "gold_label": gold}


def report_rows(report: MergeReport) -> list[tuple[Any, ...]]:
    return [(p.file, p.rater, p.package_uid, p.added, p.already_present,
             [(c.rater, c.output_id, c.kept_current_uid, c.detail) for c in p.conflicts])
            for p in report.packages]


# --- varied packages -------------------------------------------------------------------------


def _grade(folder: Path, *, limit: int | None, round_no: int) -> None:
    """Grade through the core API: errors, pairwise marks, drafts, skips, flags, undos."""
    manifest = json.loads((folder / "medreview-package.json").read_text())
    pkg = open_project(folder)
    try:
        with pkg.read() as s:
            me = rater_by_name(s, manifest["rater"]["name"]).id
        queue = grading.load_queue(pkg, me)
        items = [(row.output_id, grading.load_item(pkg, me, row.output_id)) for row in queue]
        by_case: dict[str, list[int]] = {}
        for oid, item in items:
            by_case.setdefault(item.case.external_id, []).append(oid)
        for n, (oid, item) in enumerate(items[:limit]):
            k = n + 3 * round_no
            partners = [o for o in by_case[item.case.external_id] if o != oid]
            marks: list[Annotation] = []
            if k % 2 == 0:
                marks.append(Annotation("errors", "factual", 2 + k % 2))
            if partners:
                marks.append(Annotation("preference", compared_output_id=partners[0]))
            criteria = {q.id: bool((k >> i) & 1) for i, q in enumerate(item.case.criteria)}
            draft = JudgmentDraft(
                answers={"preference": ("A", "B", "tie")[k % 3], "overall": 1 + k % 5,
                         "safe": ("yes", "caveats", "no")[k % 3], "minutes": 5 * (k % 4),
                         **criteria},
                annotations=tuple(marks), rationale=f"round {round_no} item {n}",
                confidence=0.5 + (k % 5) / 10, flagged=k % 4 == 1)
            status = "skipped" if k % 7 == 6 else "draft" if k % 5 == 4 else "done"
            grading.save_revision(pkg, me, oid, draft, status=status)
            if k % 3 == 1:  # changed their mind, then undid it
                grading.save_revision(pkg, me, oid, JudgmentDraft(
                    answers={**draft.answers, "overall": 1}, rationale="second thoughts"),
                    status="done")
                grading.undo_last(pkg, me, oid)
    finally:
        pkg.close()


def _graded(source: Path, work: Path, out: Path, *, limit: int | None = None,
            round_no: int = 0) -> Path:
    folder = work if (work / "medreview-package.json").is_file() else unpack_package(source, work)
    _grade(folder, limit=limit, round_no=round_no)
    return seal_package(folder, out).path


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rows")
    project, _lead = build_sample_project(root / "base", n_cases=4, outputs_per_case=3,
                                          with_dicom=False, pairwise=True, rater="Dr Lead")
    assign(project, AssignmentDesign(("Dr A", "Dr B", "Dr C"), per_output=2, overlap=0.5,
                                     seed=3))
    files: dict[str, Path] = {}
    for name, key in (("Dr A", "a"), ("Dr B", "b"), ("Dr C", "c")):
        out = build_package(project, name, root / f"{key}.mrpkg").path
        files[f"{key}1"] = _graded(out, root / key, root / f"{key}1.mrpkg", limit=2)
        files[f"{key}2"] = _graded(out, root / key, root / f"{key}2.mrpkg", round_no=1)
    files["a_copy"] = _graded(root / "a.mrpkg", root / "a_copy", root / "a_copy.mrpkg",
                              limit=3, round_no=2)
    # Dr B rewrites one of his revision uids to one of Dr A's (his own key re-seals it): in one
    # merge with Dr A's package, whichever comes first keeps the uid, the other is not added.
    shutil.copytree(root / "b", root / "b_dup")
    taken = _first_uid(root / "a" / "project.sqlite")
    con = sqlite3.connect(root / "b_dup" / "project.sqlite")
    con.execute("UPDATE judgment_revision SET uid = ? WHERE id = (SELECT min(id) FROM "
                "judgment_revision)", (taken,))
    con.commit()
    con.close()
    files["b_dup"] = seal_package(root / "b_dup", root / "b_dup.mrpkg").path
    # Dr A grades two of his items in the lead's project too, after the packages were graded:
    # the project's revision is the newest, so merging restates it (a resolve revision).
    with project.read() as s:
        a = rater_by_name(s, "Dr A").id
    for oid in [r.output_id for r in grading.load_queue(project, a)][:2]:
        grading.save_revision(project, a, oid, JudgmentDraft(
            answers={"preference": "tie", "overall": 4}, rationale="in the lead's copy"),
            status="done")
    first = grading.load_queue(project, a)[0].output_id
    set_gold(project, first, "overall", 4, rationale="agreed", adjudicator="Dr Lead")
    project.close()
    return {"base": root / "base", "files": files, "shared_uid": taken}


def _first_uid(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return str(con.execute("SELECT uid FROM judgment_revision ORDER BY id").fetchone()[0])
    finally:
        con.close()


SCENARIOS = {
    "extend-conflict-remerge": [["a1", "b1"], ["a2", "c2", "a_copy"], ["a2", "b2"], ["a_copy"]],
    "copy-first": [["a_copy", "c1"], ["b2", "a2", "a1"], ["c2", "c1"]],
    "uid-reused": [["a2", "b_dup"], ["c1"]],
    "uid-reused-other-first": [["b_dup", "a2", "a_copy"]],
}


def _run(pool: dict[str, Any], dest: Path, batches: list[list[str]]
         ) -> list[tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]]:
    shutil.copytree(pool["base"], dest)
    project = open_project(dest)
    try:
        out = []
        for batch in batches:
            report = merge_packages(project, [pool["files"][k] for k in batch])
            out.append((report_rows(report), dump(project)))
        return out
    finally:
        project.close()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_bulk_merge_writes_the_rows_the_per_row_merge_wrote(
        pool: dict[str, Any], tmp_path: Path, scenario: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    batches = SCENARIOS[scenario]
    bulk = _run(pool, tmp_path / "bulk", batches)
    monkeypatch.setattr(merging, "_apply", per_row_apply)
    reference = _run(pool, tmp_path / "per-row", batches)
    for step, ((got_report, got), (want_report, want)) in enumerate(
            zip(bulk, reference, strict=True)):
        assert got_report == want_report, f"batch {step}"
        for table in want:
            assert got[table] == want[table], f"batch {step}: {table}"
    if scenario.startswith("uid-reused"):  # the first package of the batch keeps the uid
        project = open_project(tmp_path / "bulk")
        try:
            with project.read() as s:
                owner = s.scalar(select(RaterRow.name).join(
                    JudgmentRow, JudgmentRow.rater_id == RaterRow.id).join(
                    JudgmentRevisionRow, JudgmentRevisionRow.judgment_id == JudgmentRow.id)
                    .where(JudgmentRevisionRow.uid == pool["shared_uid"]))
        finally:
            project.close()
        assert owner == bulk[0][0][0][1]
        return
    # The scenarios reach what they are meant to: conflicts, resolves, undos, marks.
    last = bulk[-1][1]["judgment_revision"]
    sources = {r[16] for r in last}
    assert {"merge", "resolve", "ui"} <= sources
    assert any('"compared_output_id"' in r[7] for r in last)
    assert any('"factual"' in r[7] for r in last)
    assert any(c for report, _ in bulk for p in report for c in p[5])
    assert any(p[4] for report, _ in bulk for p in report)  # re-merged revisions
    assert bulk[-1][1]["gold_label"]
