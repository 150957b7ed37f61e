"""Importing records: idempotent, all-or-nothing, and nothing half-written on a bad record."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from medreview.domain.records import AttachmentRecord, Located
from medreview.errors import ImportFailed
from medreview.rubrics.templates import load_template
from medreview.services.projects import add_form, project_info
from medreview.storage.ingest import ingest
from medreview.storage.models import JudgmentRevisionRow
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output, rating


def _counts(project: Project) -> dict[str, int]:
    return project_info(project).counts


def test_same_records_twice_add_nothing(empty_project: Project) -> None:
    recs = located(
        [
            case("a"),
            output("a", "m1", "x"),
            output("a", "m2", "y"),
            case("b"),
            output("b", "m1", "z"),
        ]
    )
    first = ingest(empty_project, recs, source="f", importer="t")
    assert first.added == {"cases": 2, "criteria": 4, "outputs": 3}
    before = _counts(empty_project)
    second = ingest(empty_project, recs, source="f", importer="t")
    assert not second.added
    assert second.skipped == {"cases": 2, "outputs": 3}
    assert _counts(empty_project) == before


def test_bad_record_rolls_back_everything(empty_project: Project) -> None:
    ingest(empty_project, located([case("a"), output("a", "m", "x")]), source="f", importer="t")
    before = _counts(empty_project)
    recs = located([case("b"), output("b", "m", "y"), output("nope", "m", "z")], source="bad.jsonl")
    with pytest.raises(ImportFailed) as info:
        ingest(empty_project, recs, source="bad.jsonl", importer="t")
    assert info.value.source == "bad.jsonl"
    assert info.value.line == 3
    assert "nope" in info.value.message
    assert _counts(empty_project) == before


def test_changed_case_content_is_refused_not_overwritten(empty_project: Project) -> None:
    ingest(empty_project, located([case("a", "old prompt")]), source="f", importer="t")
    with pytest.raises(ImportFailed, match="different content"):
        ingest(empty_project, located([case("a", "new prompt")]), source="g", importer="t")


def test_failed_import_removes_new_media_blobs(empty_project: Project, tmp_path: Path) -> None:
    img = tmp_path / "x.png"
    img.write_bytes(b"\x89PNG fake image bytes")
    recs = [
        Located(case("a"), "m", 1),
        Located(AttachmentRecord("a", str(img), "image"), "m", 2),
        Located(output("zzz", "m", "t"), "m", 3),
    ]
    with pytest.raises(ImportFailed):
        ingest(empty_project, recs, source="m", importer="t")
    blobs = [p for p in (empty_project.path / "media").rglob("*") if p.is_file()]
    assert blobs == []


def test_attachments_deduplicate_by_content(empty_project: Project, tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    b = tmp_path / "b.png"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    recs = [
        Located(case("c"), "m", 1),
        Located(AttachmentRecord("c", str(a), "image"), "m", 2),
        Located(AttachmentRecord("c", str(b), "image"), "m", 3),
    ]
    summary = ingest(empty_project, recs, source="m", importer="t")
    assert summary.added["attachments"] == 1
    assert summary.skipped["attachments"] == 1
    assert a.read_bytes() == b"same bytes"  # sources are never modified


def test_prior_ratings_are_revisions_and_reimport_is_idempotent(empty_project: Project) -> None:
    add_form(empty_project, load_template("healthbench"))
    ingest(empty_project, located([case("a"), output("a", "m", "x")]), source="f", importer="t")
    r = located([rating("a", "m", "Dr A", {"criterion:c0": True, "criterion:c1": False})])
    assert ingest(empty_project, r, source="r", importer="t").added == {"ratings": 1}
    assert not ingest(empty_project, r, source="r", importer="t").added
    changed = located([rating("a", "m", "Dr A", {"criterion:c0": False, "criterion:c1": False})])
    assert ingest(empty_project, changed, source="r2", importer="t").added == {"ratings": 1}
    with empty_project.read() as s:
        assert s.scalar(select(func.count()).select_from(JudgmentRevisionRow)) == 2
    assert _counts(empty_project)["judgments"] == 1


def test_ratings_need_a_rubric(empty_project: Project) -> None:
    ingest(empty_project, located([case("a"), output("a", "m", "x")]), source="f", importer="t")
    with pytest.raises(ImportFailed, match="no rubric"):
        ingest(
            empty_project, located([rating("a", "m", "Dr A", {"q": 1})]), source="r", importer="t"
        )
