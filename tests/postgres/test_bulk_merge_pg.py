"""The bulk merge (``storage.merging.apply_packages``: Core executemany, one read per package)
writes on PostgreSQL exactly the rows it writes on SQLite, through the same steps: new
judgments, an idempotent re-merge, a package extending a chain, and a true conflict with a
revision graded in the lead's project that restates it (a resolve revision)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services.projects import add_form, add_rater, create_project
from medreview.services.sample_project import sample_records, sample_rubric, sample_taxonomy
from medreview.storage.ingest import ingest
from medreview.storage.merging import IncomingPackage, IncomingRevision, apply_packages
from medreview.storage.models import JudgmentRevisionRow, JudgmentRow, OutputRow, RaterRow
from medreview.storage.packages import IssuedOutput, issued_package, record_issue
from medreview.storage.project import Project
from medreview.storage.revisions import RevisionContent

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _package(project: Project, rater_id: int, uid: str, outputs: dict[int, str],
             chains: dict[int, list[tuple[str, int, int]]]) -> IncomingPackage:
    """Package ``uid``: per output, revisions (uid, overall, minutes after T0)."""
    record_issue(project, uid=uid, rater_id=rater_id, secret="ab" * 32,
                 outputs={f"t{o}": IssuedOutput(o, outputs[o]) for o in chains},
                 attachments={})
    issued = issued_package(project, uid)
    assert issued is not None
    return IncomingPackage(f"{uid}.mrpkg", issued, {o: [IncomingRevision(
        uid=r, form=("sample-healthbench", 1), taxonomy=None,
        content=RevisionContent(answers={"overall": v, "safe": "yes"}, status="done",
                                flagged=v == 2),
        author="Dr A", created_at=T0 + dt.timedelta(minutes=m)) for r, v, m in chain]
        for o, chain in chains.items()})


def _steps(project: Project) -> list[Any]:
    add_form(project, sample_rubric())
    add_form(project, sample_taxonomy())
    a = add_rater(project, "Dr A").id
    ingest(project, sample_records(3, 2, []), source="sample", importer="sample")
    with project.read() as s:
        outputs = dict(s.execute(select(OutputRow.id, OutputRow.text_sha256)
                                 .order_by(OutputRow.id)).all())
    o1, o2, o3 = list(outputs)[:3]
    done: list[Any] = []

    def merge(pkg: IncomingPackage) -> None:
        (r,) = apply_packages(project, [pkg])
        done.append((r.added, r.already_present,  # the lead's own revision has a random uid
                     [(c.output_id, c.kept_current_uid if c.kept_current_uid.startswith("u")
                       and len(c.kept_current_uid) == 2 else "local", c.detail)
                      for c in r.conflicts]))

    first = _package(project, a, "p1", outputs, {o1: [("u1", 3, 1)], o2: [("u2", 4, 1)]})
    merge(first)
    merge(first)  # nothing new
    merge(_package(project, a, "p2", outputs,
                   {o1: [("u1", 3, 1), ("u3", 2, 2)], o3: [("u4", 5, 1)]}))
    # Graded in the lead's project now (newest), then a package that moved on too: conflict.
    grading.save_revision(project, a, o2, JudgmentDraft(answers={"overall": 1}), status="done")
    merge(_package(project, a, "p3", outputs, {o2: [("u2", 4, 1), ("u5", 5, 3)]}))
    return done


def _rows(project: Project) -> list[tuple[Any, ...]]:
    """Revisions with their judgment's mirror, by rater name and output position."""
    with project.read() as s:
        position = {oid: i for i, oid in enumerate(s.scalars(
            select(OutputRow.id).order_by(OutputRow.id)))}
        rows = s.execute(
            select(RaterRow.name, JudgmentRow.output_id, JudgmentRow.status, JudgmentRow.flagged,
                   JudgmentRow.current_revision_no, JudgmentRevisionRow)
            .join(JudgmentRow, JudgmentRow.id == JudgmentRevisionRow.judgment_id)
            .join(RaterRow, RaterRow.id == JudgmentRow.rater_id)
            .order_by(JudgmentRow.output_id, JudgmentRevisionRow.revision_no)).all()
        # The lead's own revision has a random uid, and so the resolve uid that hashes it.
        return [(name, position[oid], status, flagged, current,
                 r.uid if r.source == "merge" else r.source, r.revision_no, r.answers,
                 r.annotations, r.overall_score, r.status, r.flagged, r.author, r.source,
                 r.created_at if r.source == "merge" else None)
                for name, oid, status, flagged, current, r in rows]


def test_postgres_and_sqlite_merge_the_same_rows(pg_url: str, tmp_path: Path) -> None:
    with create_project(tmp_path / "lite", "p") as lite:
        lite_steps, lite_rows = _steps(lite), _rows(lite)
    with create_project(pg_url, "p") as pg:
        pg_steps, pg_rows = _steps(pg), _rows(pg)
    assert pg_steps == lite_steps
    assert pg_rows == lite_rows
    assert [s[0] for s in lite_steps] == [2, 0, 2, 1]
    assert [c[1] for c in lite_steps[3][2]] == ["local"]  # the conflict: the lead's is newest
    assert any(r[13] == "resolve" for r in lite_rows)
