"""The local copies of a server project's media stay under a size budget, least recently used
copies going first; whatever was evicted is fetched again, verified, on the next read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from medreview.storage import schema
from medreview.storage.engine import make_engine
from medreview.storage.media_cache import DEFAULT_BUDGET_MB, budget_from_env
from medreview.storage.server_media import DatabaseMediaStore

KB = 1024


def _store(tmp_path: Path, budget: int) -> DatabaseMediaStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    schema.upgrade(engine)
    return DatabaseMediaStore(engine, tmp_path / "cache", location="db", cache_budget=budget)


def _cached(store: DatabaseMediaStore) -> set[str]:
    return {p.parent.name + p.name for p in store.cache.glob("*/*") if p.is_file()}


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_the_cache_stays_under_budget_and_keeps_what_was_used_last(tmp_path: Path) -> None:
    store = _store(tmp_path, budget=100 * KB)
    blobs = [store.add_bytes(os.urandom(30 * KB))[0] for _ in range(6)]  # 180 KB in all
    for k, digest in enumerate(blobs[:3]):
        _age(store.open_verified(digest), 100 - k)  # oldest first: 0, 1, 2
    store.open_verified(blobs[0])  # a hit: blob 0 is now the most recently used
    store.open_verified(blobs[3])  # 120 KB > 100 KB: pruned to 90 KB
    assert _cached(store) == {blobs[0], blobs[2], blobs[3]}  # the least recently used went
    for digest in blobs[4:]:
        store.open_verified(digest)
        total = sum(p.stat().st_size for p in store.cache.glob("*/*"))
        assert total <= 100 * KB
    assert blobs[5] in _cached(store)
    # An evicted copy comes back from the database, verified, when it is read again.
    assert store.open_verified(blobs[1]).stat().st_size == 30 * KB
    assert store.path_for(blobs[2]).is_file()


def test_a_copy_bigger_than_the_budget_is_still_served(tmp_path: Path) -> None:
    store = _store(tmp_path, budget=10 * KB)
    digest = store.add_bytes(os.urandom(40 * KB))[0]
    assert store.open_verified(digest).stat().st_size == 40 * KB


@pytest.mark.parametrize("raw, mb", [("", DEFAULT_BUDGET_MB), ("512", 512),
                                     ("-5", DEFAULT_BUDGET_MB), ("1e99", DEFAULT_BUDGET_MB),
                                     ("lots", DEFAULT_BUDGET_MB)])
def test_budget_setting_is_read_defensively(monkeypatch: pytest.MonkeyPatch, raw: str,
                                            mb: int) -> None:
    monkeypatch.setenv("MEDREVIEW_MEDIA_CACHE_MB", raw)
    assert budget_from_env() == mb << 20
