"""The import's speed measures write what the plain paths wrote, and leave the process as it was.

- ``domain.jsontext``: one reusable C encoder writes the text ``json.dumps`` writes;
- ``bulk_ingest._bind_processor``: SQLite JSON columns get the text SQLAlchemy's own bind
  processor makes (and anything else goes to that processor);
- ``ingest._old_objects_frozen``: the collector is off during an import and back as it was
  (on or off, nothing left frozen) however the import ends, and the cycles a batch leaves are
  collected between batches. Real SQLite projects.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, null
from sqlalchemy.dialects import sqlite

from medreview.domain.jsontext import dumps_default, make_dumps
from medreview.domain.records import Located
from medreview.errors import ImportFailed
from medreview.storage import ingest as ingest_module
from medreview.storage.bulk_ingest import CASES, OUTPUTS, _bind_processor
from medreview.storage.ingest import ingest
from medreview.storage.project import Project
from tests.storage.helpers import case, output

VALUES: list[Any] = [
    {}, [], "", "plain", "é ✓ \u2028 \"q\" \\ \x01", 0, -1, 10**40, 1.5, -0.0, 1e300, True, None,
    {"b": 1, "a": [1, 1.0, True, None, "x"], "é": {"z": [], "y": {}}},
    [[[[]]]], {"n": float("nan"), "i": float("inf")}, {"3": 1, "10": 2}, ["\ud800"],
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"sort_keys": True, "ensure_ascii": False, "default": str},
    {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "default": str},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_make_dumps_writes_what_json_dumps_writes(options: dict[str, Any]) -> None:
    dumps = make_dumps(**options)
    for value in VALUES:
        assert dumps(value) == json.dumps(value, **options), value
        assert dumps(value) == dumps(value)  # nothing carried over from the call before


def test_make_dumps_default_hook_and_refusals_match_json_dumps() -> None:
    odd = {"when": dt.date(2026, 12, 7), "amount": Decimal("1.10")}
    as_text = make_dumps(sort_keys=True, default=str)
    assert as_text(odd) == json.dumps(odd, sort_keys=True, default=str)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_default(odd)
    assert math.isnan(json.loads(dumps_default(float("nan"))))


def test_sqlite_json_columns_get_the_text_sqlalchemy_writes() -> None:
    dialect = sqlite.dialect()
    for column in (CASES.c.messages, CASES.c.context, CASES.c.tags, CASES.c.metadata,
                   OUTPUTS.c.metadata):
        ours = _bind_processor(column, dialect)
        core = column.type.dialect_impl(dialect).bind_processor(dialect)
        assert ours is not None and core is not None
        for value in [*VALUES, JSON.NULL, null()]:
            if isinstance(value, dict | list) and value == ["\ud800"]:
                continue  # not text SQLite could store either way
            assert ours(value) == core(value), value
    # Columns that are not JSON keep SQLAlchemy's processor (or none).
    stamp = dt.datetime(2026, 12, 7, 1, 2, 3, 4, tzinfo=dt.UTC)
    created = _bind_processor(CASES.c.created_at, dialect)
    core_created = CASES.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert created is not None and core_created is not None
    assert created(stamp) == core_created(stamp)
    assert _bind_processor(OUTPUTS.c.text, dialect) is None


def _records(n: int) -> list[Located]:
    recs: list[Located] = []
    for i in range(n):
        recs.append(Located(case(f"c{i}"), "f.jsonl", 2 * i + 1))
        recs.append(Located(output(f"c{i}", "m", f"answer {i}"), "f.jsonl", 2 * i + 2))
    return recs


@pytest.mark.parametrize("collector_on", [True, False])
def test_collector_state_restored_after_an_import_that_succeeds_or_fails(
    empty_project: Project, collector_on: bool
) -> None:
    was_on, frozen = gc.isenabled(), gc.get_freeze_count()
    (gc.enable if collector_on else gc.disable)()
    try:
        ingest(empty_project, _records(5), source="f.jsonl", importer="t", batch_records=3)
        assert gc.isenabled() is collector_on and gc.get_freeze_count() == frozen

        def failing() -> Iterator[Located]:
            yield from _records(4)[:3]
            assert not gc.isenabled()  # off while the import runs
            raise ImportFailed("malformed JSON", source="g.jsonl", line=4)

        with pytest.raises(ImportFailed):
            ingest(empty_project, failing(), source="g.jsonl", importer="t", batch_records=2)
        assert gc.isenabled() is collector_on and gc.get_freeze_count() == frozen
    finally:
        (gc.enable if was_on else gc.disable)()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_made_during_an_import_are_collected_between_batches(
    empty_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the collector off, only the collection between batches frees cycles: a record
    stream that leaves one per record must not keep them all until the import ends."""
    import weakref

    alive: list[weakref.ref[_Cycle]] = []
    seen_alive: list[int] = []

    def records() -> Iterator[Located]:
        for n, loc in enumerate(_records(60)):
            cycle = _Cycle()
            alive.append(weakref.ref(cycle))
            del cycle
            if n % 10 == 9:
                seen_alive.append(sum(r() is not None for r in alive))
            yield loc

    calls: list[int] = []
    real = ingest_module._old_objects_frozen

    def counting() -> Any:
        manager = real()

        class _Wrap:
            def __enter__(self) -> Any:
                collect = manager.__enter__()

                def counted() -> None:
                    calls.append(1)
                    collect()
                return counted

            def __exit__(self, *exc: Any) -> Any:
                return manager.__exit__(*exc)
        return _Wrap()

    monkeypatch.setattr(ingest_module, "_old_objects_frozen", counting)
    ingest(empty_project, records(), source="f.jsonl", importer="t", batch_records=20)
    assert len(calls) >= 5  # 120 records in batches of 20
    assert max(seen_alive) <= 30  # at most a batch (and a bit) of cycles waits at any time
