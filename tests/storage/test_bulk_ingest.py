"""The batched ingest: errors keep file order, cancel and progress work, batches stay atomic.

Cases and outputs are collected per batch and checked when the batch is written
(``storage.bulk_ingest``); these tests pin what that must not change: the first bad record is
the one reported even if a later line breaks first, a cancel leaves nothing, progress is
reported while records are read, and a project that already holds part of a file gets only
the rest. Real SQLite projects throughout.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from medreview.domain.records import Located
from medreview.errors import ImportFailed
from medreview.progress import Cancelled, CancelToken
from medreview.services.projects import project_info
from medreview.storage.ingest import ingest
from medreview.storage.models import ImportLogRow, OutputRow
from medreview.storage.project import Project
from tests.storage.helpers import case, located, output


def _counts(project: Project) -> dict[str, int]:
    return project_info(project).counts


def _many(n_cases: int, models: tuple[str, ...] = ("m1", "m2")) -> list[Located]:
    recs = []
    for i in range(n_cases):
        recs.append(case(f"k{i}"))
        recs.extend(output(f"k{i}", m, f"answer {i} by {m}") for m in models)
    return located(recs, source="many.jsonl")


def test_an_earlier_bad_record_is_reported_before_a_later_broken_line(
    empty_project: Project,
) -> None:
    def records() -> Iterator[Located]:
        yield Located(case("a"), "f.jsonl", 1)
        yield Located(output("nope", "m", "x"), "f.jsonl", 2)  # waits in the batch
        yield Located(output("a", "m", "y"), "f.jsonl", 3)
        raise ImportFailed("malformed JSON", source="f.jsonl", line=4)

    with pytest.raises(ImportFailed) as info:
        ingest(empty_project, records(), source="f.jsonl", importer="t")
    assert info.value.line == 2 and "nope" in info.value.message
    assert _counts(empty_project)["cases"] == 0


def test_a_later_broken_line_is_reported_when_the_batch_is_good(empty_project: Project) -> None:
    def records() -> Iterator[Located]:
        yield Located(case("a"), "f.jsonl", 1)
        yield Located(output("a", "m", "y"), "f.jsonl", 2)
        raise ImportFailed("malformed JSON", source="f.jsonl", line=3)

    with pytest.raises(ImportFailed) as info:
        ingest(empty_project, records(), source="f.jsonl", importer="t")
    assert info.value.line == 3
    assert _counts(empty_project)["outputs"] == 0


def test_cancel_after_committed_batches_leaves_nothing(empty_project: Project) -> None:
    token = CancelToken()
    recs = _many(20)

    def records() -> Iterator[Located]:
        for n, rec in enumerate(recs):
            if n == 41:
                token.cancel()
            yield rec

    before = _counts(empty_project)
    with pytest.raises(Cancelled):
        ingest(empty_project, records(), source="many.jsonl", importer="t", token=token,
               batch_records=7)
    assert _counts(empty_project) == before
    with empty_project.read() as s:
        assert s.scalar(select(func.count()).select_from(ImportLogRow)) == 0


def test_progress_is_reported_while_reading(empty_project: Project) -> None:
    seen: list[int] = []
    ingest(empty_project, _many(200), source="many.jsonl", importer="t",
           progress=lambda n, _total, _text: seen.append(n))
    assert seen == [200, 400, 600]


def test_part_of_a_file_already_there_adds_only_the_rest(empty_project: Project) -> None:
    recs = _many(30, ("m1", "m2", "m3"))
    first = ingest(empty_project, recs[:50], source="many.jsonl", importer="t", batch_records=9)
    second = ingest(empty_project, recs, source="many.jsonl", importer="t", batch_records=9)
    assert first.added["outputs"] + second.added["outputs"] == 90
    assert second.skipped["outputs"] == first.added["outputs"]
    assert second.skipped["cases"] == first.added["cases"]
    with empty_project.read() as s:
        n = s.scalar(select(func.count()).select_from(OutputRow))
        pairs = s.execute(select(OutputRow.case_id, OutputRow.model, OutputRow.text_sha256)).all()
    assert n == 90 and len(set(pairs)) == 90


def test_an_output_before_its_case_in_the_same_batch_is_refused(empty_project: Project) -> None:
    recs = located([output("a", "m", "x"), case("a")])
    with pytest.raises(ImportFailed, match="neither in this file before it") as info:
        ingest(empty_project, recs, source="f", importer="t")
    assert info.value.line == 1


def test_the_same_case_twice_in_a_batch_with_other_content_is_refused(
    empty_project: Project,
) -> None:
    recs = located([case("a", "one prompt"), output("a", "m", "x"), case("a", "another")])
    with pytest.raises(ImportFailed, match="different content") as info:
        ingest(empty_project, recs, source="f", importer="t")
    assert info.value.line == 3
    assert _counts(empty_project)["cases"] == 0
