"""Speed measures of the import that must not change what is stored or leak out of it.

An output's text is hashed once (``records.text_sha256`` remembers the last text by identity)
and the garbage collector's full passes skip the objects that existed before an import
(``gc.freeze`` for its duration, undone however it ends). Real SQLite projects.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from medreview.domain.records import Located, text_sha256
from medreview.errors import ImportFailed
from medreview.importers.jsonl_csv import parse_jsonl
from medreview.storage.ingest import ingest
from medreview.storage.models import OutputRow
from medreview.storage.project import Project
from tests.storage.helpers import case, output


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_text_sha256_is_the_sha256_of_each_text_whatever_came_before() -> None:
    a = "same words"
    b = "".join(["same ", "words"])  # equal, another object
    assert a is not b
    for text in (a, a, b, "other", a, "", "é ✓", b):
        assert text_sha256(text) == _sha(text)


def test_duplicate_outputs_still_told_apart_by_text_and_metadata(tmp_path: Path) -> None:
    lines = [
        '{"id": "c1", "prompt": "p", "model": "m", "output": "x", "latency_ms": 1}',
        '{"id": "c1", "prompt": "p", "model": "m", "output": "x", "latency_ms": 1}',  # repeat
        '{"id": "c2", "prompt": "p", "model": "m", "output": "x"}',
        '{"id": "c2", "prompt": "p", "model": "m", "output": "x", "latency_ms": 2}',
    ]
    src = tmp_path / "o.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as info:
        list(parse_jsonl(src))
    assert info.value.line == 4 and "than on line 3" in info.value.message
    src.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    outputs = [r for r in parse_jsonl(src) if hasattr(r.record, "text")]
    assert [r.line for r in outputs] == [1, 3]


def test_stored_text_sha256_is_right_when_records_arrive_out_of_order(
    empty_project: Project,
) -> None:
    texts = ["first answer", "second answer", "third answer"]
    recs = [case("a"), *(output("a", f"m{i}", t) for i, t in enumerate(texts))]
    text_sha256("an unrelated text hashed last")
    ingest(empty_project, [Located(r, "f.jsonl", i) for i, r in enumerate(recs, 1)],
           source="f.jsonl", importer="t")
    with empty_project.read() as s:
        stored = dict(s.execute(select(OutputRow.text, OutputRow.text_sha256)).all())
    assert stored == {t: _sha(t) for t in texts}


def test_gc_is_unfrozen_after_an_import_whether_it_succeeds_or_fails(
    empty_project: Project,
) -> None:
    before = gc.get_freeze_count()
    ingest(empty_project, [Located(case("a"), "f.jsonl", 1)], source="f.jsonl", importer="t")
    assert gc.get_freeze_count() == before

    def bad() -> Iterator[Located]:
        yield Located(case("b"), "g.jsonl", 1)
        assert gc.get_freeze_count() > 0  # the import runs with the old objects set aside
        raise ImportFailed("malformed JSON", source="g.jsonl", line=2)

    with pytest.raises(ImportFailed):
        ingest(empty_project, bad(), source="g.jsonl", importer="t")
    assert gc.get_freeze_count() == before
