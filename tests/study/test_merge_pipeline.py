"""The pipelined merge (``study.merge_pipeline``: a worker process checks chunk k+1 while this
one writes chunk k) writes exactly what the single-process merge writes, and refuses exactly
what it refuses, with nothing written.

- The varied packages of ``tests/storage/test_merge_rows.py`` (three raters, conflicts and
  resolve revisions, re-merges, undo revisions, error and pairwise marks, skipped, draft and
  flagged items, a uid reused by another package of the same merge), plus a package with a
  retest, "not applicable", "cannot assess" and hostile text, merged both ways, chunks of one
  output: every judgment, revision and gold label row (ids included), the stored JSON text,
  and the reports are the same; on SQLite the pipeline must have decided each merge.
- A refusal found in the last chunk of a package, after earlier chunks were written (by the
  worker's checks, and by the lead's uid-owner check): the same one line as the
  single-process merge, the tables unchanged.
- The forgery, retest and not-assessed tests run again here with every merge pipelined
  (their functions are collected into this module; an autouse fixture forces the pipeline).
On PostgreSQL the pipeline declines (SQLite only) and the merge is the single-process one.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.judgment import JudgmentDraft
from medreview.domain.not_assessed import CANNOT_ASSESS_KEY, NOT_APPLICABLE, cannot_assess_value
from medreview.errors import PackageError
from medreview.services import grading
from medreview.storage import merge_stream
from medreview.storage.assignments import rater_by_name
from medreview.storage.audit import judgment_history
from medreview.storage.packages import issued_package
from medreview.storage.project import open_project
from medreview.storage.retests import choose_retests
from medreview.storage.revisions import RETEST_SOURCE
from medreview.study import merge_pipeline, merge_worker
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import merge_packages
from medreview.study.package import build_package, seal_package, unpack_package
from tests.storage.test_merge_rows import SCENARIOS, _run, dump, pool  # noqa: F401 (fixture)
from tests.study import test_not_assessed_packages as _na
from tests.study import test_package_forgery as _forgery
from tests.study import test_retest_packages as _retest
from tests.study.helpers import study_project
from tests.study.test_package_forgery import table_hash

# The forgery, retest and not-assessed tests, collected again here (pipeline forced below).
for _module in (_forgery, _retest, _na):
    for _name, _value in vars(_module).items():
        if _name.startswith("test_") and callable(_value):
            globals()[f"{_name}__pipelined"] = _value
world = _forgery.world  # their fixtures
lead = _retest.lead


class Outcomes:
    """What ``pipelined_merge`` returned for each merge (None: declined, single-process)."""

    def __init__(self) -> None:
        self.decided = 0
        self.declined = 0
        self.chunks = 0


@pytest.fixture(autouse=True)
def pipelined(monkeypatch: pytest.MonkeyPatch) -> Iterator[Outcomes]:
    """Every merge through the pipeline, one output a chunk."""
    monkeypatch.setattr(merge_pipeline, "MIN_BYTES", 0)
    monkeypatch.setattr(merge_pipeline, "CHUNK", 1)
    monkeypatch.setattr(merge_pipeline, "spare_core", lambda: True)  # a busy CI machine too
    seen = Outcomes()
    real, real_chunk = merge_pipeline.pipelined_merge, merge_pipeline.apply_chunk

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if out is None:
            seen.declined += 1
        else:
            seen.decided += 1
        return out

    def chunk(*args: Any, **kwargs: Any) -> None:
        seen.chunks += 1
        real_chunk(*args, **kwargs)
    monkeypatch.setattr(merge_pipeline, "pipelined_merge", spy)
    monkeypatch.setattr(merge_pipeline, "apply_chunk", chunk)
    yield seen


def _single(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_pipeline, "MIN_BYTES", 10**15)


def _sqlite(path: Path) -> bool:
    return (path / "project.sqlite").is_file()


def _stored(path: Path) -> list[tuple[Any, ...]]:
    """The revision rows as SQLite stores them (JSON text byte for byte); the merge's clock
    (a resolve revision's time) left out."""
    con = sqlite3.connect(path / "project.sqlite")
    try:
        return [(*row[:-2], None if row[16] == "resolve" else row[-2], row[-1])
                for row in con.execute(
                    "SELECT id, uid, judgment_id, revision_no, form_id, taxonomy_id, answers, "
                    "annotations, rationale, confidence, overall_score, time_on_task_s, "
                    "flagged, skipped, status, author, source, created_at, guideline_version "
                    "FROM judgment_revision ORDER BY id")]
    finally:
        con.close()


def _both(pool: dict[str, Any], tmp: Path, batches: list[list[str]],  # noqa: F811
          monkeypatch: pytest.MonkeyPatch, seen: Outcomes) -> None:
    piped = _run(pool, tmp / "piped", batches)
    decided = seen.decided
    with monkeypatch.context() as m:
        _single(m)
        single = _run(pool, tmp / "single", batches)
    assert piped == single
    if _sqlite(tmp / "piped"):
        assert decided == len(batches) and seen.chunks > len(batches)
        assert _stored(tmp / "piped") == _stored(tmp / "single")


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_pipelined_merge_writes_the_single_process_rows(
        pool: dict[str, Any], tmp_path: Path, scenario: str, workers: int,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, pipelined: Outcomes) -> None:
    monkeypatch.setattr(merge_pipeline, "WORKERS", workers)
    _both(pool, tmp_path, SCENARIOS[scenario], monkeypatch, pipelined)


# No NUL: PostgreSQL text cannot hold one (a merge of one fails there with a database error).
HOSTILE = "‮ \x07 \u2028 \"'; DROP TABLE judgment; -- \ud7ff 🩺 " + "x" * 300


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Dr A's package with a retest, N/A, cannot assess, hostile rationales and error marks;
    Dr B's package; Dr A also graded one item in the lead's project (a conflict)."""
    root = tmp_path_factory.mktemp("varied")
    project = study_project(root / "base", n_cases=6, dicom=False)
    assign(project, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=5))
    with project.read() as s:
        a, b = rater_by_name(s, "Dr A").id, rater_by_name(s, "Dr B").id
    for rater in (a, b):  # each grades one item in the lead's project too
        first = grading.load_queue(project, rater)[0].output_id
        grading.save_revision(project, rater, first, JudgmentDraft(answers={"overall": 4}),
                              status="done")
    b_uid = judgment_history(project, output_id=first)[0]["uid"]
    assert choose_retests(project, fraction=1.0, delay_days=0, raters=["Dr A"])
    files = {}
    for name in ("Dr A", "Dr B"):
        out = build_package(project, name, root / f"{name[-1]}.mrpkg").path
        folder = unpack_package(out, root / name[-1])
        pkg = open_project(folder)
        try:
            with pkg.read() as s:
                me = rater_by_name(s, name).id
            queue = [r.output_id for r in grading.load_queue(pkg, me)]
            for k, oid in enumerate(queue):
                item = grading.load_item(pkg, me, oid)
                crit = [q.id for q in item.questions() if q.id.startswith("criterion:")]
                answers: dict[str, Any] = {"overall": 1 + k % 5, "safe": "yes"}
                if crit and k % 3 == 0:
                    answers[crit[0]] = NOT_APPLICABLE
                if k % 4 == 1:
                    answers[CANNOT_ASSESS_KEY] = cannot_assess_value("missing_context")
                grading.save_revision(pkg, me, oid, JudgmentDraft(
                    answers=answers, rationale=HOSTILE if k % 2 else f"plain {k}",
                    confidence=0.25 * (k % 5), flagged=k % 3 == 2),
                    status="done" if k % 5 else "draft")
            if name == "Dr A":  # a due retest, answered blank in the package
                done = [o for o in queue if grading.load_item(pkg, me, o).draft is None]
                if done:
                    grading.save_revision(pkg, me, done[0], JudgmentDraft(
                        answers={"overall": 2}), status="done")
        finally:
            pkg.close()
        files[name] = seal_package(folder, root / f"{name[-1]}-graded.mrpkg").path
    # Dr A grades another item in the lead's project after the package: a true conflict.
    second = grading.load_queue(project, a)[1].output_id
    grading.save_revision(project, a, second, JudgmentDraft(answers={"overall": 1},
                                                            rationale="in the lead's copy"),
                          status="done")
    project.close()
    return {"base": root / "base", "files": files, "b_uid": b_uid}


def _merge_copy(varied: dict[str, Any], dest: Path) -> tuple[list[Any], dict[str, Any]]:
    shutil.copytree(varied["base"], dest)
    project = open_project(dest)
    try:
        report = merge_packages(project, [varied["files"]["Dr A"], varied["files"]["Dr B"]])
        again = merge_packages(project, [varied["files"]["Dr B"], varied["files"]["Dr A"]])
        rows = dump(project)
    finally:
        project.close()

    def summary(r: Any) -> list[Any]:
        return [(p.rater, p.added, p.already_present, [(c.output_id, c.kept_current_uid,
                                                         c.detail) for c in p.conflicts])
                for p in r.packages]
    return summary(report) + summary(again), rows


@pytest.mark.parametrize("workers", [1, 2])
def test_retests_not_assessed_and_hostile_text_merge_alike(
        varied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pipelined: Outcomes, workers: int) -> None:
    monkeypatch.setattr(merge_pipeline, "WORKERS", workers)
    piped = _merge_copy(varied, tmp_path / "piped")
    with monkeypatch.context() as m:
        _single(m)
        single = _merge_copy(varied, tmp_path / "single")
    assert piped == single
    revisions = piped[1]["judgment_revision"]
    assert any(r[16] == RETEST_SOURCE for r in revisions)
    assert any(NOT_APPLICABLE in r[6] for r in revisions)
    assert any(CANNOT_ASSESS_KEY in r[6] for r in revisions)
    assert any(r[8] == HOSTILE for r in revisions)
    assert any(p[3] for p in piped[0])  # Dr A's item graded in both places: a conflict
    if _sqlite(tmp_path / "piped"):
        assert pipelined.decided == 2
        assert _stored(tmp_path / "piped") == _stored(tmp_path / "single")


def _last_revision(varied: dict[str, Any], dest: Path, rater: str) -> tuple[Path, int]:
    """An unpacked copy of ``rater``'s graded package and the id of the revision of the
    output the merge writes last (the highest of our output ids: the last chunk)."""
    folder = dest / "pkg"
    unpack_package(varied["files"][rater], folder)
    con = sqlite3.connect(folder / "project.sqlite")
    try:
        uid = json.loads(con.execute("SELECT settings FROM project").fetchone()[0])[
            "package"]["package_uid"]
        project = open_project(varied["base"], read_only=True)
        try:
            issued = issued_package(project, uid)
        finally:
            project.close()
        assert issued is not None
        graded = {str(t) for (t,) in con.execute(
            "SELECT o.external_id FROM output o JOIN judgment j ON j.output_id = o.id "
            "JOIN judgment_revision r ON r.judgment_id = j.id")}
        token = max(graded, key=lambda t: issued.outputs[t].output_id)
        (rid,) = con.execute(
            "SELECT max(r.id) FROM judgment_revision r JOIN judgment j ON j.id = r.judgment_id "
            "JOIN output o ON o.id = j.output_id WHERE o.external_id = ?", (token,)).fetchone()
    finally:
        con.close()
    return folder, int(rid)


def _refusal(varied: dict[str, Any], tmp: Path, file: Path) -> str:
    path = tmp / "project"
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(varied["base"], path)
    before = table_hash(path)
    project = open_project(path)
    try:
        with pytest.raises(PackageError) as exc:
            merge_packages(project, [varied["files"]["Dr B"], file])
    finally:
        project.close()
    assert table_hash(path) == before
    assert not list(path.glob(".medreview-merge-*"))
    return str(exc.value)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("forgery", ["author", "uid of another judgment", "answer"])
def test_a_refusal_in_the_last_chunk_writes_nothing_and_says_the_same(
        varied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pipelined: Outcomes, forgery: str, workers: int) -> None:
    monkeypatch.setattr(merge_pipeline, "WORKERS", workers)
    folder, rid = _last_revision(varied, tmp_path, "Dr A")
    con = sqlite3.connect(folder / "project.sqlite")
    if forgery == "author":
        con.execute("UPDATE judgment_revision SET author = 'Dr Mallory' WHERE id = ?", (rid,))
    elif forgery == "answer":
        con.execute("UPDATE judgment_revision SET answers = json_set(answers, '$.overall', 99) "
                    "WHERE id = ?", (rid,))
    else:  # the uid of Dr B's revision in the lead's project
        con.execute("UPDATE judgment_revision SET uid = ? WHERE id = ?",
                    (varied["b_uid"], rid))
    con.commit()
    con.close()
    file = seal_package(folder, tmp_path / "forged.mrpkg").path
    piped = _refusal(varied, tmp_path, file)
    if _sqlite(Path(varied["base"])):
        assert pipelined.declined == 1 and pipelined.decided == 0
        # Dr B's package and Dr A's earlier chunks were written, then rolled back.
        assert pipelined.chunks > 2
    with monkeypatch.context() as m:
        _single(m)
        single = _refusal(varied, tmp_path, file)
    assert piped == single


def test_the_worker_reads_values_as_the_columns_do() -> None:
    """The worker's constants and readers are storage's."""
    from medreview.storage import sqlite_values
    assert merge_worker.RETEST_SOURCE == RETEST_SOURCE
    assert merge_worker.STAMP_FORMAT == sqlite_values._POSITIONAL
    assert merge_stream._TEXT == ("answers", "annotations", "created_at")
    with pytest.raises(merge_worker.Decline):
        merge_worker._json(' {"a": 1}')  # whitespace: the column's own reader decides
    with pytest.raises(merge_worker.Decline):
        merge_worker._bool(2)
    with pytest.raises(merge_worker.Decline):
        merge_worker._stamp("2026-01-02T03:04:05")
    assert merge_worker._json('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_values_outside_the_workers_readers_take_the_single_process_merge(
        varied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pipelined: Outcomes) -> None:
    """JSON text with spaces around it (valid: the column's own reader parses it) is not what
    the worker decides: the merge rolls back and the single-process merge writes it."""
    folder = tmp_path / "pkg"
    unpack_package(varied["files"]["Dr A"], folder)
    con = sqlite3.connect(folder / "project.sqlite")
    con.execute("UPDATE judgment_revision SET answers = ' ' || answers || ' ' WHERE id = "
                "(SELECT max(id) FROM judgment_revision)")
    con.commit()
    con.close()
    file = seal_package(folder, tmp_path / "spaced.mrpkg").path

    def merged(dest: Path) -> dict[str, Any]:
        shutil.copytree(varied["base"], dest)
        project = open_project(dest)
        try:
            assert merge_packages(project, [file]).added > 0
            return dump(project)
        finally:
            project.close()
    piped = merged(tmp_path / "piped")
    if _sqlite(tmp_path / "piped"):
        assert pipelined.declined == 1 and pipelined.decided == 0
    with monkeypatch.context() as m:
        _single(m)
        assert merged(tmp_path / "single") == piped


def test_small_merges_start_no_worker(varied: dict[str, Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merge_pipeline, "MIN_BYTES", 2_000_000)
    started: list[bool] = []
    monkeypatch.setattr(merge_pipeline._Worker, "__init__",
                        lambda self: started.append(True))  # would fail at its first use
    shutil.copytree(varied["base"], tmp_path / "p")
    project = open_project(tmp_path / "p")
    try:
        assert merge_packages(project, list(varied["files"].values())).added > 0
    finally:
        project.close()
    assert not started


def test_the_worker_starts_without_its_parents_main_module() -> None:
    """A spawned worker imports nothing of the caller's script (the bench, the CLI)."""
    import sys

    main = sys.modules["__main__"]
    with merge_pipeline._light_main():
        assert sys.modules["__main__"] is not main
        assert not hasattr(sys.modules["__main__"], "__file__")
    assert sys.modules["__main__"] is main


def test_a_package_of_another_schema_revision_is_decided_by_the_single_process_merge(
        varied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pipelined: Outcomes) -> None:
    """The worker reads a package only at this version's schema (opening would upgrade an
    older one): any other and the single-process merge decides, here with its refusal."""
    folder = tmp_path / "pkg"
    unpack_package(varied["files"]["Dr A"], folder)
    con = sqlite3.connect(folder / "project.sqlite")
    con.execute("UPDATE alembic_version SET version_num = '9999_future'")
    con.commit()
    con.close()
    file = seal_package(folder, tmp_path / "future.mrpkg").path
    piped = _refusal(varied, tmp_path, file)
    assert "cannot be opened" in piped
    if _sqlite(Path(varied["base"])):
        assert pipelined.declined == 1
    with monkeypatch.context() as m:
        _single(m)
        assert _refusal(varied, tmp_path, file) == piped


def test_a_cancel_during_a_pipelined_merge_is_the_callers(
        varied: dict[str, Any], tmp_path: Path, pipelined: Outcomes) -> None:
    """Cancelled from the progress callback rolls the merge back and reaches the caller; the
    merge is not run again on one core."""
    from medreview.progress import Cancelled

    path = tmp_path / "p"
    shutil.copytree(varied["base"], path)
    before = table_hash(path)

    def progress(done: int, total: int | None = None, message: str = "") -> None:
        if message.startswith("merging"):
            raise Cancelled("cancelled")
    project = open_project(path)
    try:
        with pytest.raises(Cancelled):
            merge_packages(project, list(varied["files"].values()), progress)
    finally:
        project.close()
    assert table_hash(path) == before
    if _sqlite(path):
        assert pipelined.decided == pipelined.declined == 0  # it raised: no second run


def test_a_busy_machine_takes_the_single_process_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.undo()
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (float(cores), 0.0, 0.0))
    assert not merge_pipeline.spare_core()
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 0.1, 0.0, 0.0))
    assert merge_pipeline.spare_core()


def test_the_self_tests_worker_round_trip_fails_when_the_worker_does_not_exit() -> None:
    """``worker_round_trip`` (the frozen app's self-test of the worker) passes only on a clean
    exit: a worker not yet gone when the time is up is a failure, never a pass."""
    merge_pipeline.worker_round_trip()  # a real spawned worker, stopped
    with pytest.raises(RuntimeError, match="did not exit cleanly"):
        merge_pipeline.worker_round_trip(timeout_s=0.0)
