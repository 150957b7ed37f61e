"""Exports written a chunk at a time (``exporters.table_stream``, the training windows and
spools) give the files the whole-frame code gave: chunks of a few rows, windows of a few
outputs, on the hostile random project of ``test_exports_identical``; a column whose types
differ between chunks (ints here, floats or None there; datetimes with and without
microseconds, or at midnight; a column all None in one chunk; huge ints) is written as the
whole frame formats it; a failure midway leaves no file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from medreview.exporters import table_stream
from medreview.exporters.tables import write_table
from medreview.storage.project import Project
from tests.services.test_exports_identical import REQUESTS, _build_random, _compare


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk, window and spool a few rows: the streamed paths all run."""
    monkeypatch.setattr(table_stream, "ROWS", 5)
    monkeypatch.setattr("medreview.exporters.loaded.WINDOW", 3)
    monkeypatch.setattr("medreview.exporters.training._PAIRS", 2)
    monkeypatch.setattr("medreview.exporters.bundle._SPOOLED", 3)
    monkeypatch.setattr("medreview.storage.exports.BATCH", 4)


def test_a_hostile_project_exported_in_small_chunks_is_byte_identical(
        tmp_path: Path, small_chunks: None) -> None:
    project = _build_random(tmp_path / "p", 11)
    try:
        for i, (kinds, options) in enumerate(REQUESTS):
            if options.get("fmt") == "parquet":  # row groups: compared by value below
                continue
            _compare(project, tmp_path, kinds, options, f"s{i}")
    finally:
        project.close()


def test_the_demo_project_in_small_windows_is_byte_identical(
        demo_copy: Path, tmp_path: Path, small_chunks: None) -> None:
    """The demo's attention items (never exported) and its gold, windows of 3 outputs."""
    from medreview.storage.project import open_project
    from medreview.study.adjudicate import auto_gold

    project = open_project(demo_copy)
    try:
        auto_gold(project)
        for i in (0, 4, 6, 8):  # tables, audit, training, dpo with margins (seconds each)
            kinds, options = REQUESTS[i]
            _compare(project, tmp_path, kinds, options, f"d{i}")
    finally:
        project.close()


def test_parquet_in_row_groups_reads_back_as_the_whole_table(
        tmp_path: Path, small_chunks: None) -> None:
    import pyarrow.parquet as pq

    from medreview.services.exporting import ExportRequest, run_export
    from tests.exporters.reference_exports import old_exporting

    project = _build_random(tmp_path / "p", 12)
    try:
        for kinds in (("tables",), ("audit",)):
            new, old = tmp_path / f"new-{kinds[0]}", tmp_path / f"old-{kinds[0]}"
            run_export(project, ExportRequest(new, kinds, fmt="parquet"))
            old_exporting.run_export(project, old_exporting.ExportRequest(old, kinds,
                                                                          fmt="parquet"))
            names = sorted(p.relative_to(new) for p in new.rglob("*.parquet"))
            assert names == sorted(p.relative_to(old) for p in old.rglob("*.parquet"))
            for name in names:
                mine, theirs = pq.read_table(new / name), pq.read_table(old / name)
                assert mine.schema.types == theirs.schema.types, name
                assert mine.to_pylist() == theirs.to_pylist(), name
                if mine.num_rows > table_stream.ROWS:
                    assert pq.ParquetFile(new / name).num_row_groups > 1  # it did stream
    finally:
        project.close()


def _mixed_rows() -> list[tuple[Any, ...]]:
    """Columns whose types differ between chunks of 3 rows."""
    at = dt.datetime(2026, 12, 7, 5, 30, 1)
    return [
        # id, int-or-float, int-or-None, all-None-at-first, big int, datetime, bool-or-int
        (1, 5, 1, None, 7, at, True),
        (2, 6, 2, None, 8, at.replace(second=2), False),
        (3, 7, 3, None, 9, at.replace(second=3), True),
        (4, 2.5, None, "text", 2 ** 63, at.replace(microsecond=120), 1),
        (5, 8, 4, "=risky", 10, at.replace(microsecond=0), 0),
        (6, -1, 5, None, 11, dt.datetime(2026, 12, 8), True),
        (7, 9, 6, "more", 12, None, False),
    ]


_COLUMNS = ("id", "num", "maybe", "text", "big", "at", "flag")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_columns_whose_types_differ_between_chunks_are_written_as_the_whole_frame(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, size: int) -> None:
    monkeypatch.setattr(table_stream, "ROWS", size)
    rows = _mixed_rows()
    whole = write_table(pd.DataFrame(rows, columns=list(_COLUMNS)), tmp_path / "whole", fmt)
    passes: list[int] = []

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        passes.append(1)
        for at in range(0, len(rows), 3):
            yield rows[at:at + 3]

    streamed = write_table(table_stream.TableRows(_COLUMNS, chunks), tmp_path / "streamed", fmt)
    if fmt == "parquet":  # row groups: the same values and types read back
        back, expected = pd.read_parquet(streamed), pd.read_parquet(whole)
        assert list(back.dtypes) == list(expected.dtypes)
        assert back.equals(expected)
    else:
        assert streamed.read_bytes() == whole.read_bytes()
    if size < 7:  # a chunk alone formats otherwise (5 vs 5.0, the time's resolution, ...)
        assert len(passes) == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_consistent_chunks_are_written_in_one_pass(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   fmt: str) -> None:
    monkeypatch.setattr(table_stream, "ROWS", 2)
    rows = [(i, f"t{i}", i / 4, dt.datetime(2026, 1, 1, 0, 0, i, 1000 * i + 1))
            for i in range(9)]
    columns = ("id", "text", "x", "at")
    whole = write_table(pd.DataFrame(rows, columns=list(columns)), tmp_path / "whole", fmt)
    passes: list[int] = []

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        passes.append(1)
        yield from (rows[at:at + 2] for at in range(0, len(rows), 2))

    streamed = write_table(table_stream.TableRows(columns, chunks), tmp_path / "s", fmt)
    assert len(passes) == 1
    if fmt == "parquet":
        assert pd.read_parquet(streamed).equals(pd.read_parquet(whole))
    else:
        assert streamed.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_failure_midway_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         fmt: str) -> None:
    monkeypatch.setattr(table_stream, "ROWS", 1)

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        yield [(1, "a")]
        yield [(2, "b")]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        write_table(table_stream.TableRows(("id", "text"), chunks), tmp_path / "t", fmt)
    assert list(tmp_path.iterdir()) == []


def test_the_audit_service_writes_what_the_orm_histories_gave(tmp_path: Path) -> None:
    """``services.study.export_audit`` (``adjudicate --history``) is the streamed export
    now: the files its ORM path wrote, byte for byte."""
    from medreview.exporters.not_assessed import audit_columns
    from medreview.services.study import export_audit
    from medreview.storage.audit import gold_history, judgment_history

    project: Project = _build_random(tmp_path / "p", 13)
    try:
        for fmt in ("csv", "jsonl", "parquet"):
            new = export_audit(project, tmp_path / f"new-{fmt}", fmt)
            old_dir = tmp_path / f"old-{fmt}"
            old_dir.mkdir()
            old = [write_table(pd.DataFrame(audit_columns(judgment_history(
                       project, pseudonymise=True))), old_dir / "judgment_history", fmt),
                   write_table(pd.DataFrame(gold_history(project, pseudonymise=True)),
                               old_dir / "gold_history", fmt)]
            assert [p.name for p in new] == [p.name for p in old]
            for a, b in zip(new, old, strict=True):
                assert a.read_bytes() == b.read_bytes(), (fmt, a.name)
    finally:
        project.close()
