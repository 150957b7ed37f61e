"""Retests in offline packages: a retest item travels with the package, its queue serves it
blank once due (also for an item first finished inside the package), and the merge takes the
answer back as a retest, which never becomes the study answer nor a side of a conflict.
A forged retest (an item not chosen, or before the item was finished) refuses the package."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medreview.domain.judgment import JudgmentDraft
from medreview.errors import PackageError
from medreview.services import grading
from medreview.storage.assignments import rater_by_name
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow, OutputRow, StudyItemRow
from medreview.storage.project import Project, open_project
from medreview.storage.rater_quality import rater_records
from medreview.storage.retests import choose_retests
from medreview.storage.tables import current_revisions
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package, seal_package, unpack_package
from tests.study.helpers import study_project
from tests.study.test_package_forgery import table_hash

RATER = "Dr A"
FIRST = {"overall": 4, "safe": "yes"}
SECOND = {"overall": 2, "safe": "no"}
EDIT = {"overall": 5, "safe": "yes"}


def _rater(project: Project) -> int:
    with project.read() as s:
        return rater_by_name(s, RATER).id


def _save(project: Project, rid: int, oid: int, answers: dict[str, Any]) -> None:
    grading.save_revision(project, rid, oid, JudgmentDraft(answers=dict(answers)),
                          status="done")


def _sources(project: Project, rid: int) -> dict[int, list[tuple[str, int]]]:
    """Output -> its revisions' (source, overall), in order."""
    out: dict[int, list[tuple[str, int]]] = {}
    with project.read() as s:
        for oid, source, answers in s.execute(
                select(JudgmentRow.output_id, JudgmentRevisionRow.source,
                       JudgmentRevisionRow.answers)
                .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
                .where(JudgmentRow.rater_id == rid)
                .order_by(JudgmentRow.output_id, JudgmentRevisionRow.revision_no)):
            out.setdefault(int(oid), []).append((str(source), int(answers["overall"])))
    return out


def _current_overall(project: Project) -> dict[int, int]:
    return {r["output_id"]: r["answers"]["overall"] for r in current_revisions(project)
            if r["rater"] == RATER}


@pytest.fixture
def lead(tmp_path: Path) -> tuple[Project, int, list[int]]:
    """Dr A assigned every output, two finished online; every item chosen for a retest, due
    as soon as it is finished."""
    project = study_project(tmp_path / "lead", n_cases=3, dicom=False)
    assign(project, AssignmentDesign((RATER,), per_output=1, seed=3))
    rid = _rater(project)
    ids = [r.output_id for r in grading.load_queue(project, rid)]
    for oid in ids[:2]:
        _save(project, rid, oid, FIRST)
    assert choose_retests(project, fraction=1.0, delay_days=0, raters=[RATER]) == {
        RATER: len(ids)}
    return project, rid, ids


def _package(project: Project, tmp: Path) -> tuple[Path, Project, int]:
    file = build_package(project, RATER, tmp / "a.mrpkg").path
    folder = unpack_package(file, tmp / "a")
    pkg = open_project(folder)
    return folder, pkg, _rater(pkg)


def _token_map(pkg: Project) -> dict[int, str]:
    with pkg.read() as s:
        return {int(i): str(t) for i, t in s.execute(select(OutputRow.id, OutputRow.external_id))}


def test_a_retest_is_served_in_the_package_and_merged_back_as_a_retest(
        lead: tuple[Project, int, list[int]], tmp_path: Path) -> None:
    project, rid, _ids = lead
    folder, pkg, me = _package(project, tmp_path)
    try:
        with pkg.read() as s:
            kinds = {str(k) for k in s.scalars(select(StudyItemRow.kind))}
            finished_before = {int(o) for o in s.scalars(
                select(JudgmentRow.output_id).where(JudgmentRow.status == "done"))}
        assert kinds == {"retest"} and len(finished_before) == 2
        queue = {r.output_id: r.status for r in grading.load_queue(pkg, me)}
        assert set(queue.values()) == {"todo"}  # the two finished ones are due retests
        old = sorted(finished_before)[0]
        item = grading.load_item(pkg, me, old)
        assert item.draft is None  # blank: never the earlier answer
        _save(pkg, me, old, SECOND)
        # An item first finished inside the package becomes due there, and is retested.
        fresh = next(o for o in queue if o not in finished_before)
        _save(pkg, me, fresh, FIRST)
        assert grading.load_item(pkg, me, fresh).draft is None
        _save(pkg, me, fresh, SECOND)
        graded = _sources(pkg, me)
        assert graded[old] == [("ui", 4), ("retest", 2)]
        assert graded[fresh] == [("ui", 4), ("retest", 2)]
    finally:
        pkg.close()
    sealed = seal_package(folder, tmp_path / "a-graded.mrpkg").path
    report = merge_packages(project, [sealed])
    assert report.added == 3 and not report.conflicts
    merged = _sources(project, rid)
    assert sorted(merged.values()) == sorted([
        [("ui", 4), ("retest", 2)], [("merge", 4), ("retest", 2)], [("ui", 4)]])
    # The study answer stays the ordinary one; the test-retest statistics pair both.
    assert set(_current_overall(project).values()) == {4}
    pairs = [p for p in rater_records(project).retests if p.rater == RATER]
    assert sorted((p.first["overall"], p.second["overall"]) for p in pairs) == [(4, 2), (4, 2)]
    assert merge_packages(project, [sealed]).added == 0  # idempotent
    project.close()


def _forged(folder: Path, sql: str, out: Path) -> Path:
    con = sqlite3.connect(folder / "project.sqlite")
    con.executescript(sql)
    con.commit()
    con.close()
    return seal_package(folder, out).path


def _refused(project: Project, file: Path) -> str:
    before = table_hash(Path(project.path))
    with pytest.raises(PackageError) as exc:
        merge_packages(project, [file])
    assert table_hash(Path(project.path)) == before
    return exc.value.message


def test_a_retest_before_the_item_was_finished_is_refused(
        lead: tuple[Project, int, list[int]], tmp_path: Path) -> None:
    project, _rid, _ids = lead
    folder, pkg, me = _package(project, tmp_path)
    try:
        with pkg.read() as s:
            finished = {int(o) for o in s.scalars(
                select(JudgmentRow.output_id).where(JudgmentRow.status == "done"))}
        fresh = next(r.output_id for r in grading.load_queue(pkg, me)
                     if r.output_id not in finished)
        _save(pkg, me, fresh, FIRST)
    finally:
        pkg.close()
    # The rater's app would never write it: the item's only revision relabelled a retest.
    file = _forged(folder, "UPDATE judgment_revision SET source = 'retest' WHERE id = "
                   "(SELECT max(id) FROM judgment_revision);", tmp_path / "forged.mrpkg")
    assert "retest revision comes before the rater finished the item" in _refused(project, file)
    project.close()


def test_a_retest_of_an_item_not_chosen_is_refused(
        lead: tuple[Project, int, list[int]], tmp_path: Path) -> None:
    project, rid, _ids = lead
    folder, pkg, me = _package(project, tmp_path)
    try:
        with pkg.read() as s:
            finished = {int(o) for o in s.scalars(
                select(JudgmentRow.output_id).where(JudgmentRow.status == "done"))}
        old = sorted(finished)[0]
        _save(pkg, me, old, SECOND)  # an honest retest
    finally:
        pkg.close()
    with project.transaction() as s:  # the lead withdraws every retest choice meanwhile
        for row in s.scalars(select(StudyItemRow).where(StudyItemRow.rater_id == rid)):
            s.delete(row)
    file = seal_package(folder, tmp_path / "a-graded.mrpkg").path
    assert "retest of an item not chosen for this rater's retest" in _refused(project, file)
    project.close()


def test_a_retest_in_the_project_is_no_side_of_a_conflict(
        lead: tuple[Project, int, list[int]], tmp_path: Path) -> None:
    """The rater corrects an item in the package, then answers its retest in the app: the
    newer retest must not be taken for a conflicting study answer (it would become current)."""
    project, rid, _ids = lead
    folder, pkg, me = _package(project, tmp_path)
    try:
        with pkg.read() as s:
            finished = {int(o) for o in s.scalars(
                select(JudgmentRow.output_id).where(JudgmentRow.status == "done"))}
        tokens = _token_map(pkg)
        old = sorted(finished)[0]
        _save(pkg, me, old, SECOND)  # its retest in the package...
        # ...and a correction of the study answer after it (an ordinary edit)
        grading.save_revision(pkg, me, old, JudgmentDraft(answers=dict(EDIT)), status="done")
    finally:
        pkg.close()
    ours = _issued_output(project, tokens[old])
    _save(project, rid, ours, SECOND)  # the retest answered online too, later
    assert _sources(project, rid)[ours] == [("ui", 4), ("retest", 2)]
    file = seal_package(folder, tmp_path / "a-graded.mrpkg").path
    report = merge_packages(project, [file])
    assert not report.conflicts
    assert _current_overall(project)[ours] == 5  # the correction, not a retest
    assert [s for s, _ in _sources(project, rid)[ours]] == ["ui", "retest", "retest", "merge"]
    project.close()


def _issued_output(project: Project, token: str) -> int:
    """The lead's output a package token stands for (the issue record keeps the map)."""
    from medreview.storage.packages import issued_packages

    (issued,) = issued_packages(project)
    return issued.outputs[token].output_id
