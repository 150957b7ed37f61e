"""Forged rater packages are refused whole, naming why, with the project unchanged; an honest
package round-trips (package -> grade in the package -> seal -> merge).

Each forgery is what a rater can do to their own package: unpack it, edit its database or
manifest with SQL, and re-seal it with ``seal_package`` (their own package's key), exactly as
the attack run did (security-notes F1, 4d).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medreview.domain.judgment import JudgmentDraft
from medreview.errors import PackageError
from medreview.services import grading
from medreview.storage.assignments import rater_by_name
from medreview.storage.audit import judgment_history
from medreview.storage.models import CaseCriterionRow, CaseRow
from medreview.storage.project import Project, open_project
from medreview.storage.raters import get_or_create_rater
from medreview.study.assign import AssignmentDesign, assign
from medreview.study.merge import CLOCK_SKEW, merge_packages
from medreview.study.package import MANIFEST, build_package, seal_package, unpack_package
from medreview.study.seal import new_secret, sealed
from tests.study.helpers import grade_package, scripted_draft, study_project

TABLES = ("rater", "judgment", "judgment_revision", "gold_label", "form", "issued_package",
          "assignment", "output", "case_criterion")


def table_hash(path: Path) -> str:
    """A hash of every row of the tables a merge could touch (the stored values as they are
    in project.sqlite; a project on a server, tests/pg_backend.py, read through its engine)."""
    if not (path / "project.sqlite").is_file():
        with open_project(path, read_only=True) as project, project.engine.connect() as conn:
            h = hashlib.sha256()
            for t in TABLES:
                for r in conn.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY id'):
                    h.update(repr(tuple(r)).encode())
            return h.hexdigest()
    con = sqlite3.connect(path / "project.sqlite")
    try:
        h = hashlib.sha256()
        for t in TABLES:
            for row in con.execute(f'SELECT * FROM "{t}" ORDER BY id'):
                h.update(repr(row).encode())
        return h.hexdigest()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("forgery")
    project = study_project(root / "base", n_cases=6, dicom=False)
    with project.transaction() as s:
        get_or_create_rater(s, "demo-judge", "judge")
        case2 = s.scalars(select(CaseRow).where(CaseRow.external_id == "case-00002")).one()
        s.add(CaseCriterionRow(case_id=case2.id, position=9, key="only-case-2",
                               text="Mentions case two", points=1.0))
    assign(project, AssignmentDesign(("Dr A", "Dr B"), per_output=1, seed=3))
    with project.read() as s:
        b = rater_by_name(s, "Dr B").id
    b_item = grading.load_queue(project, b)[0].output_id
    grading.save_revision(project, b, b_item, JudgmentDraft(answers={"overall": 2}))
    pkg_a = build_package(project, "Dr A", root / "a.mrpkg").path
    pkg_b = build_package(project, "Dr B", root / "b.mrpkg").path
    honest = grade_package(pkg_a, root / "a", root / "a-graded.mrpkg")
    other = study_project(root / "other", n_cases=2, dicom=False)
    assign(other, AssignmentDesign(("Dr A",), seed=1))
    foreign = grade_package(build_package(other, "Dr A", root / "o.mrpkg").path, root / "o",
                            root / "o-graded.mrpkg")
    other.close()
    b_uid = judgment_history(project, output_id=b_item)[0]["uid"]
    project.close()
    return {"root": root, "base": root / "base", "folder": root / "a", "honest": honest,
            "pkg_b": pkg_b, "foreign": foreign, "b_uid": b_uid}


def _copy(world: dict[str, Any], dest: Path) -> Path:
    shutil.copytree(world["base"], dest)
    return dest


def forge(world: dict[str, Any], tmp: Path, sql: str = "",
          edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Dr A's graded folder, edited with SQL and/or in its manifest, re-sealed as a rater can."""
    folder = tmp / "forged"
    shutil.copytree(world["folder"], folder)
    if sql:
        con = sqlite3.connect(folder / "project.sqlite")
        con.executescript(sql)
        con.commit()
        con.close()
    if edit is not None:
        m = json.loads((folder / MANIFEST).read_text())
        edit(m)
        (folder / MANIFEST).write_text(json.dumps(m))
    return seal_package(folder, tmp / "forged.mrpkg").path


def refused(world: dict[str, Any], tmp: Path, file: Path, *, now: dt.datetime | None = None
            ) -> str:
    """Merge ``file`` beside the honest package: both refused, tables unchanged; the reason."""
    path = _copy(world, tmp / "p")
    before = table_hash(path)
    project = open_project(path)
    try:
        with pytest.raises(PackageError) as exc:
            merge_packages(project, [world["honest"], file], now=now)
    finally:
        project.close()
    assert table_hash(path) == before
    assert not list(path.glob(".medreview-merge-*"))
    message = exc.value.message
    assert "\n" not in message and str(file) in message
    assert len(message) < len(str(file)) + 500  # bounded, whatever the package holds
    return message


def _set_rater(name: str, kind: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(m: dict[str, Any]) -> None:
        m["rater"]["name"] = name
        if kind:
            m["rater"]["kind"] = kind
    return edit


def _b_token(world: dict[str, Any]) -> str:
    with zipfile.ZipFile(world["pkg_b"]) as z:
        return next(iter(json.loads(z.read(MANIFEST))["outputs"]))


def _add_output_sql(token: str) -> str:
    return f"""
    INSERT INTO output (case_id, external_id, model, text, text_sha256, metadata, source,
                        created_at)
      SELECT case_id, '{token}', 'Response Z', text, text_sha256, metadata, source, created_at
      FROM output LIMIT 1;
    INSERT INTO judgment (rater_id, output_id, status, flagged, current_revision_no, created_at,
                          updated_at)
      SELECT rater_id, (SELECT max(id) FROM output), 'done', 0, 1, created_at, updated_at
      FROM judgment LIMIT 1;
    INSERT INTO judgment_revision (uid, judgment_id, revision_no, form_id, taxonomy_id, answers,
        annotations, rationale, confidence, overall_score, time_on_task_s, flagged, skipped,
        status, author, source, created_at)
      SELECT 'forged-0001', (SELECT max(id) FROM judgment), 1, form_id, taxonomy_id, answers,
        annotations, rationale, confidence, overall_score, time_on_task_s, flagged, skipped,
        status, author, source, created_at FROM judgment_revision LIMIT 1;
    """


LAST = "(SELECT max(id) FROM judgment_revision)"


def _answers_sql(expr: str) -> str:
    return f"UPDATE judgment_revision SET answers = {expr} WHERE id = {LAST};"


FORGERIES: dict[str, tuple[str, Callable[[dict[str, Any]], None] | None, str]] = {
    # (SQL on the package database, manifest edit, part of the expected reason)
    "claims other rater (both places)": (
        "UPDATE rater SET name='Dr B' WHERE name='Dr A';", _set_rater("Dr B"),
        "issued to 'Dr A' but names 'Dr B'"),
    "claims other rater (database only)": (
        "UPDATE rater SET name='Dr B' WHERE name='Dr A';", None,
        "must hold exactly its own rater 'Dr A'"),
    "claims a new rater": (
        "UPDATE rater SET name='Dr Phantom' WHERE name='Dr A';", _set_rater("Dr Phantom"),
        "issued to 'Dr A' but names 'Dr Phantom'"),
    "claims the judge rater": (
        "UPDATE rater SET name='demo-judge', kind='judge' WHERE name='Dr A';",
        _set_rater("demo-judge", "judge"), "issued to 'Dr A' but names 'demo-judge'"),
    "changes rater kind (both places)": (
        "UPDATE rater SET kind='judge';", _set_rater("Dr A", "judge"),
        "names rater kind 'judge'; it was issued to a physician"),
    "changes rater kind (database only)": (
        "UPDATE rater SET kind='judge';", None, "package rater kind was changed to 'judge'"),
    "signs revisions as the judge": (
        "UPDATE judgment_revision SET author='demo-judge';", None,
        "signed by 'demo-judge', not the package's rater 'Dr A'"),
    "dated 2099": (
        "UPDATE judgment_revision SET created_at='2099-01-01 00:00:00.000000';", None,
        "later than this merge (allowing 10 minutes"),
    "form version the project does not have": (
        "UPDATE form SET version=99, sha256='x' WHERE kind='rubric';", None,
        "names form sample-healthbench v99, which this project does not have"),
    "rubric swapped for the taxonomy": (
        "UPDATE judgment_revision SET form_id = taxonomy_id;", None,
        "rubric or taxonomy is a form of the wrong kind"),
    "answer outside the scale": (
        _answers_sql("json_set(answers, '$.overall', 7)"), None,
        "question 'overall': 7 is not one of 1, 2, 3, 4, 5"),
    "text on an ordinal scale": (
        _answers_sql("json_set(answers, '$.overall', 'good')"), None,
        "question 'overall': 'good' is not one of"),
    "option the question does not offer": (
        _answers_sql("json_set(answers, '$.safe', 'maybe')"), None,
        "question 'safe': 'maybe' is not one of 'yes', 'caveats', 'no'"),
    "a huge multi-line value": (
        _answers_sql("json_set(answers, '$.safe', replace(hex(zeroblob(50000)), '00', "
                     "'x' || char(10)))"), None, "question 'safe': 'x\\nx\\nx"),
    "number out of range": (
        _answers_sql("json_set(answers, '$.minutes', 500)"), None,
        "question 'minutes': 500 is above the maximum 120"),
    "question the form does not have": (
        _answers_sql("json_set(answers, '$.bogus', 1)"), None,
        "question 'bogus': no such question"),
    "criterion of another case": (
        "UPDATE judgment_revision SET answers = json_set(answers, '$.\"criterion:only-case-2\"',"
        " json('true')) WHERE id = (SELECT max(r.id) FROM judgment_revision r JOIN judgment j"
        " ON j.id = r.judgment_id JOIN output o ON o.id = j.output_id JOIN \"case\" c"
        " ON c.id = o.case_id WHERE c.external_id != 'case-00002');", None,
        "question 'criterion:only-case-2': this criterion does not belong to this output's case"),
    "error category the taxonomy lacks": (
        f"UPDATE judgment_revision SET annotations = json('[{{\"question_id\": \"errors\", "
        f"\"category\": \"made-up\", \"severity\": 2}}]') WHERE id = {LAST};", None,
        "question 'errors': mark 1: category 'made-up' is not one of"),
    "image mark on an image not sent": (
        f"UPDATE judgment_revision SET annotations = json('[{{\"region\": {{\"attachment_id\": "
        f"999, \"shape\": \"rect\", \"coords\": [1, 2, 3, 4]}}}}]') WHERE id = {LAST};", None,
        "points at an image that was not sent in this package"),
    "revision uid of another rater's judgment": (
        "UPDATE judgment_revision SET uid='{b_uid}' WHERE id = " + LAST + ";", None,
        "revision uid belongs to another judgment in this project"),
    "judgment of an output never sent (made up)": (
        _add_output_sql("f" * 32), None, "package holds an output it was not sent"),
}


@pytest.mark.parametrize("label", list(FORGERIES))
def test_a_forged_package_is_refused_with_the_project_unchanged(
        world: dict[str, Any], tmp_path: Path, label: str) -> None:
    sql, edit, reason = FORGERIES[label]
    file = forge(world, tmp_path, sql.replace("{b_uid}", world["b_uid"]), edit)
    assert reason in refused(world, tmp_path, file), label


def test_judgments_of_another_raters_output_are_refused(world: dict[str, Any],
                                                         tmp_path: Path) -> None:
    token = _b_token(world)  # a real token, from Dr B's package: still not Dr A's to grade
    file = forge(world, tmp_path, _add_output_sql(token))
    assert "holds an output it was not sent" in refused(world, tmp_path, file)

    def claim(m: dict[str, Any]) -> None:
        m["outputs"][token] = {"text_sha256": next(iter(m["outputs"].values()))["text_sha256"]}

    file2 = forge(world, tmp_path / "2", _add_output_sql(token), claim)
    assert "lists outputs it was not issued with" in refused(world, tmp_path / "2", file2)


def test_a_package_never_issued_is_refused(world: dict[str, Any], tmp_path: Path) -> None:
    new_uid = "0" * 32
    sql = ("UPDATE project SET settings = json_set(settings, '$.package.package_uid', "
           f"'{new_uid}');")
    file = forge(world, tmp_path, sql, lambda m: m.update(package_uid=new_uid))
    assert f"this project never issued package {new_uid}" in refused(world, tmp_path, file)


def test_a_package_of_another_project_is_refused(world: dict[str, Any], tmp_path: Path) -> None:
    assert "belongs to another project" in refused(world, tmp_path, world["foreign"])


def test_a_seal_made_without_the_issued_key_is_refused(world: dict[str, Any],
                                                       tmp_path: Path) -> None:
    # The forger swaps in a key of their own and seals with it.
    file = forge(world, tmp_path, "", lambda m: m.update(seal_key=new_secret()))
    assert "seal does not verify with the key it was issued with" in refused(
        world, tmp_path, file)
    # The manifest is edited after sealing (not re-sealed).
    edited = tmp_path / "edited.mrpkg"
    with zipfile.ZipFile(world["honest"]) as zin, zipfile.ZipFile(edited, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == MANIFEST:
                m = json.loads(data)
                m["created_at"] = "2020-01-01T00:00:00+00:00"
                data = json.dumps(m).encode()
            zout.writestr(info, data)
    assert "seal does not verify" in refused(world, tmp_path / "e", edited)


def test_a_rater_resealing_with_the_key_sees_changes_to_members_caught(
        world: dict[str, Any], tmp_path: Path) -> None:
    """Even with a valid seal over edited checksums, the database checks decide."""
    with zipfile.ZipFile(world["honest"]) as z:
        m = json.loads(z.read(MANIFEST))
        members = {i.filename: z.read(i) for i in z.infolist() if i.filename != MANIFEST}
    m["rater"]["name"] = "Dr B"
    forged = tmp_path / "f.mrpkg"
    with zipfile.ZipFile(forged, "w") as z:
        z.writestr(MANIFEST, json.dumps(sealed(m, m["seal_key"])))
        for name, data in members.items():
            z.writestr(name, data)
    assert "issued to 'Dr A' but names 'Dr B'" in refused(world, tmp_path, forged)


def test_timestamps_allow_the_stated_clock_skew_only(world: dict[str, Any],
                                                     tmp_path: Path) -> None:
    newest = max(dt.datetime.fromisoformat(str(h)) for h in _created(world["folder"]))
    too_early = newest - CLOCK_SKEW - dt.timedelta(seconds=5)
    assert "later than this merge" in refused(world, tmp_path, world["honest"], now=too_early)
    path = _copy(world, tmp_path / "ok")
    with open_project(path) as project:
        report = merge_packages(project, [world["honest"]],
                                now=newest - CLOCK_SKEW + dt.timedelta(seconds=5))
    assert report.added > 0


def _created(folder: Path) -> list[str]:
    con = sqlite3.connect(folder / "project.sqlite")
    try:
        return [r[0] + "+00:00" for r in con.execute("SELECT created_at FROM judgment_revision")]
    finally:
        con.close()


def test_an_honest_package_round_trips(world: dict[str, Any], tmp_path: Path) -> None:
    path = _copy(world, tmp_path / "p")
    project: Project = open_project(path)
    try:
        report = merge_packages(project, [world["honest"]])
        (result,) = report.packages
        assert result.rater == "Dr A" and result.added > 0 and not report.conflicts
        merged = [h for h in judgment_history(project) if h["source"] == "merge"]
        assert len(merged) == result.added
        assert {h["rater"] for h in merged} == {"Dr A"}
        with project.read() as s:
            a = rater_by_name(s, "Dr A").id
        assigned = {q.output_id for q in grading.load_queue(project, a)}
        assert {h["output_id"] for h in merged} == assigned
        for h in merged:  # each grade landed on the answer it was given for
            item = grading.load_item(project, a, h["output_id"])
            sha = hashlib.sha256(item.answer.encode()).hexdigest()
            assert h["answers"] == scripted_draft("Dr A", item.case.external_id, sha).answers
        state = table_hash(path)
        again = merge_packages(project, [world["honest"]])
        assert again.added == 0 and table_hash(path) == state
    finally:
        project.close()


def test_outputs_carry_opaque_tokens_and_ids_do_not_follow_model_order(
        world: dict[str, Any], tmp_path: Path) -> None:
    """blind_check.py as a test: nothing in a package maps back to project ids or their order
    (ids follow import order, i.e. model order within a case)."""
    from medreview.storage.models import OutputRow

    path = _copy(world, tmp_path / "p")
    project = open_project(path)
    orders: list[list[int]] = []
    tokens: list[set[str]] = []
    try:
        with project.read() as s:
            ours = {o.text_sha256: o.id for o in s.scalars(select(OutputRow))}
        for i in range(3):
            info = build_package(project, "Dr A", tmp_path / f"b{i}.mrpkg")
            outputs = info.manifest["outputs"]
            assert all(len(t) == 32 and set(e) == {"text_sha256"} for t, e in outputs.items())
            raw = json.dumps(info.manifest)
            assert "source_output_id" not in raw and "attachments" not in raw
            folder = unpack_package(info.path, tmp_path / f"u{i}")
            con = sqlite3.connect(folder / "project.sqlite")
            rows = con.execute("SELECT id, external_id, text_sha256 FROM output ORDER BY id"
                               ).fetchall()
            # the assignment seed would let the seeded per-case label shuffle be replayed
            assert con.execute("SELECT count(*) FROM assignment WHERE seed IS NOT NULL"
                               ).fetchone() == (0,)
            con.close()
            assert {r[1] for r in rows} == set(outputs)
            tokens.append(set(outputs))
            orders.append([ours[sha] for _id, _token, sha in rows])
    finally:
        project.close()
    assert not tokens[0] & tokens[1] and not tokens[1] & tokens[2]  # fresh tokens each time
    assert len({tuple(o) for o in orders}) > 1  # row order is drawn anew for every package
    assert any(o != sorted(o) for o in orders)  # and does not follow the project's ids
