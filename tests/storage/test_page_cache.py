"""The merge's bigger SQLite page cache is set for its write only and put back afterwards,
on success and on a refusal alike (the connection goes back to the pool)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from medreview.storage import merging
from medreview.storage.assignments import find_rater
from medreview.storage.revisions import page_cache
from tests.storage.study_helpers import assign_all, small_study
from tests.storage.test_merging import _incoming, judgment_sha

sqlite_only = pytest.mark.sqlite_only(reason="PRAGMA cache_size is SQLite's")


def _cache_size(s: Session) -> int:
    return int(s.connection().exec_driver_sql("PRAGMA cache_size").scalar_one())


@sqlite_only
def test_page_cache_is_raised_for_the_block_and_put_back(tmp_path: Path) -> None:
    with small_study(tmp_path / "p") as project, project.transaction() as s:
        before = _cache_size(s)
        with page_cache(s, 8 * 1024):
            assert _cache_size(s) == -8 * 1024
        assert _cache_size(s) == before
        with pytest.raises(RuntimeError), page_cache(s, 8 * 1024):
            raise RuntimeError("a refusal inside the write")
        assert _cache_size(s) == before
        s.connection().exec_driver_sql("PRAGMA cache_size = -100000")
        with page_cache(s, 8 * 1024):  # already bigger: left alone
            assert _cache_size(s) == -100000
        assert _cache_size(s) == -100000


@sqlite_only
def test_the_merge_writes_with_its_cache_and_leaves_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = merging._check_against

    def spy(s: Session, pkg: merging.IncomingPackage) -> tuple[set[str], dict[int, int]]:
        seen.append(_cache_size(s))
        return real(s, pkg)
    monkeypatch.setattr(merging, "_check_against", spy)
    with small_study(tmp_path / "p") as project:
        with project.transaction() as s:
            before = _cache_size(s)
        assert merging.apply_packages(project, []) == []  # nothing to check: no spy call
        ids = assign_all(project, "Dr A")
        a = find_rater(project, "Dr A")
        assert a is not None
        pkg = _incoming(project, a.id, ids[0], judgment_sha(project, ids[0]),
                        dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
        (result,) = merging.apply_packages(project, [pkg])
        assert result.added == 1
        assert seen == [-merging._MERGE_CACHE_KIB]
        with project.transaction() as s:
            assert _cache_size(s) == before
