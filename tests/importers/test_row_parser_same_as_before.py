"""The one-pass JSONL/CSV row reader gives the records and errors the field-by-field one gave.

``_RowParser`` reads a line's fields in one pass, compares a repeated case by a digest of its
validated values (reusing the previous line's when it is the same case) and builds records
without a call per field. The reader it replaced is kept below as the reference (``_OldRows``,
as it was, on ``pick`` and ``content_hash``); random files with every role in varied names,
orders, types, blanks and repeats (identical, conflicting, 1 / 1.0 / true in metadata) must
give equal records, lines and one-line errors through both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord, text_sha256
from medreview.errors import ImportFailed
from medreview.importers._common import (
    Seen,
    as_id,
    as_str,
    content_hash,
    fail,
    iter_csv,
    maybe_json,
    parse_context,
    parse_messages,
    parse_tags,
    pick,
    quick_constructor,
    read_records,
    without_na,
)
from medreview.importers.jsonl_csv import FieldMapping, parse_csv, parse_jsonl
from medreview.progress import no_progress


@dataclass
class _OldRows:
    """The row reader before the one-pass rewrite (medreview 1e42db7), unchanged."""

    path: Path
    mapping: FieldMapping
    na: frozenset[str] = frozenset()
    cases: Seen = field(init=False)
    outputs: Seen = field(init=False)
    known: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.cases = Seen(self.path, "case")
        self.outputs = Seen(self.path, "output")
        self.known = self.mapping.known()

    def case_id(self, row: dict[str, Any], line: int, key: str | None = None) -> str:
        name, value = pick(row, self.mapping.case_id)
        if name is None and key is not None:
            return as_id(key, "(record key)", self.path, line)
        if name is None:
            raise fail(
                f"missing required field: one of {', '.join(self.mapping.case_id)}", self.path, line
            )
        return as_id(value, name, self.path, line)

    def case(
        self, row: dict[str, Any], line: int, case_id: str, extras: dict[str, Any]
    ) -> CaseRecord | None:
        m, path = self.mapping, self.path
        msg_name, msgs = pick(row, m.messages)
        prompt_name, prompt = pick(row, m.prompt)
        if msg_name is not None:
            messages = parse_messages(msgs, msg_name, path, line, case_id)
        elif prompt_name is not None:
            decoded = maybe_json(prompt)
            if isinstance(decoded, list) and all(
                isinstance(m, dict) and "role" in m for m in decoded
            ):
                prompt = decoded
            if isinstance(prompt, list):
                messages = parse_messages(prompt, prompt_name, path, line, case_id)
            else:
                messages = (Message("user", as_str(prompt, prompt_name, path, line, case_id)),)
        else:
            names = ", ".join((*m.prompt, *m.messages))
            raise fail(f"missing required field: one of {names}", path, line, case_id)
        sys_name, system = pick(row, m.system)
        if sys_name is not None:
            messages = (Message("system", as_str(system, sys_name, path, line, case_id)), *messages)
        title_name, title = pick(row, m.title)
        ctx_name, ctx = pick(row, m.context)
        tag_name, tags = pick(row, m.tags)
        ref_name, ref = pick(row, m.reference)
        record = CaseRecord(
            external_id=case_id,
            messages=messages,
            title=as_str(title, title_name, path, line, case_id) if title_name else "",
            context=parse_context(ctx, ctx_name, path, line) if ctx_name else (),
            tags=parse_tags(tags, tag_name, path, line) if tag_name else (),
            metadata=extras,
            reference_answer=as_str(ref, ref_name, path, line, case_id) if ref_name else None,
        )
        content = {
            "messages": [(x.role, x.content) for x in record.messages],
            "title": record.title,
            "context": [(d.title, d.text, d.kind) for d in record.context],
            "tags": record.tags,
            "reference": record.reference_answer,
            "metadata": extras,
        }
        if self.cases.is_new(case_id, content, line, differs="a different prompt or case fields"):
            return record
        return None

    def rows(self, row: dict[str, Any], line: int, key: str | None = None) -> Iterator[Located]:
        m, path = self.mapping, self.path
        row = without_na(row, self.na)
        case_id = self.case_id(row, line, key)
        out_name, text = pick(row, m.output)
        extras = {k: maybe_json(v) for k, v in row.items() if k not in self.known and v != ""}
        case_extras = {k: v for k, v in extras.items() if k in m.case_metadata}
        output_extras = {k: v for k, v in extras.items() if k not in m.case_metadata}
        if out_name is None:
            case_extras = extras
        case = self.case(row, line, case_id, case_extras)
        if case is not None:
            yield Located(case, str(path), line)
        if out_name is None:
            return
        text = as_str(text, out_name, path, line, case_id)
        model_name, model = pick(row, m.model)
        if model_name is not None:
            model = as_str(model, model_name, path, line, case_id).strip()
        elif m.default_model:
            model = m.default_model
        else:
            raise fail(
                f"line has an output but no model: add one of {', '.join(m.model)} "
                "or give a default model",
                path,
                line,
                case_id,
            )
        oid_name, oid = pick(row, m.output_id)
        output_id = as_id(oid, oid_name, path, line) if oid_name else None
        key = f"{case_id} / {model}" + (f" / {output_id}" if output_id else "")
        sha = text_sha256(text)
        digest = content_hash([sha, output_extras]) if output_extras else sha
        if self.outputs.is_new_digest(key, digest, line, "a different text"):
            yield Located(
                OutputRecord(case_id, model, text, external_id=output_id, metadata=output_extras),
                str(path), line,
            )


def _old_parse_jsonl(path: Path, mapping: FieldMapping, na: frozenset[str]) -> Iterator[Located]:
    parser = _OldRows(path, mapping, na)
    for line, key, obj in read_records(path):
        yield from parser.rows(obj, line, key)


def _outcome(records: Iterator[Located]) -> tuple[list[tuple[Any, str, int]], str | None]:
    got: list[tuple[Any, str, int]] = []
    try:
        for loc in records:
            got.append((loc.record, loc.source, loc.line))
    except ImportFailed as exc:
        return got, f"{exc.line}: {exc.item}: {exc.message}"
    return got, None


_PROMPTS = ["What dose?", "  What dose?", "[1] a list-looking prose", "", "   ",
            '[{"role": "user", "content": "hi"}]', None, 3]
_LONG = "x" * 200  # metadata longer than the digest keeps as text


def _value(rnd: random.Random, choices: list[Any]) -> Any:
    """Mostly the first (valid) choice, so that many files get far; else any of them."""
    return choices[0] if rnd.random() < 0.85 else rnd.choice(choices)


def _case_fields(rnd: random.Random, case: int) -> dict[str, Any]:
    """A case's fields in a random shape: each role under one of its names, missing or blank."""
    row: dict[str, Any] = {}
    cid = _value(rnd, [f"c{case}", f" c{case} ", case, "", None, True])
    row[rnd.choice(["id", "case_id", "prompt_id"])] = cid
    if rnd.random() < 0.2:
        row["case_id"] = f"c{case}"  # a second name of the role: the first in the list wins
    if rnd.random() < 0.15:
        row["messages"] = _value(rnd, [[{"role": "user", "content": "m"}],
                                       [{"role": "user", "content": [{"type": "text",
                                                                      "text": "p"}]}],
                                       [], "[]", [{"content": "no role"}]])
    row[rnd.choice(["prompt", "question", "input"])] = _value(rnd, _PROMPTS)
    for name, choices, p in (
        ("system", ["Be brief.", "", 4], 0.2),
        ("title", ["T", " ", None, 1], 0.2),
        ("context", ["a note", ["n1", {"text": "n2", "title": "Lab"}], {"text": "n3"},
                     [{"title": "no text"}], 5, ""], 0.3),
        ("tags", [["a", " b ", ""], "x; y;;", ["a", 1], '["j"]', ""], 0.5),
        ("reference", ["Call EMS.", "", 2], 0.4),
        ("key_slice", [1, 1.0, True, "1", {"s": 2}], 0.25),
    ):
        if rnd.random() < p:
            row[name] = _value(rnd, choices)
    return row


def _row(rnd: random.Random, case: dict[str, Any], n: int) -> dict[str, Any]:
    """A line: its case's fields (now and then redrawn: a conflicting repeat), maybe an output
    with its own fields, in a random order."""
    row = dict(case) if rnd.random() < 0.96 else _case_fields(rnd, n)
    for name, choices, p in (
        ("output_id", [f"o{n}", 7, "", None, 1.5], 0.2),
        ("latency_ms", [1, 1.0, True, None, "", _LONG], 0.3),
        ("note", ['{"a": 1}', "[1, 2", "plain"], 0.1),
    ):
        if rnd.random() < p:
            row[name] = _value(rnd, choices)
    if rnd.random() < 0.85:
        row[rnd.choice(["output", "response", "answer"])] = _value(
            rnd, ["Answer A", "Answer B", "", 9])
        if rnd.random() < 0.97:
            row[rnd.choice(["model", "model_name"])] = _value(rnd, ["m1", " m2 ", "m1", "", 3])
    keys = list(row)
    rnd.shuffle(keys)
    return {k: row[k] for k in keys}


def _file(rnd: random.Random) -> list[dict[str, Any]]:
    cases = [_case_fields(rnd, n) for n in range(3)]
    rows = []
    for _ in range(rnd.randrange(2, 9)):
        n = rnd.randrange(3)
        rows.append(_row(rnd, cases[n], n))
    for _ in range(rnd.randrange(4)):  # exact repeats, next to the original or further on
        at = rnd.randrange(len(rows))
        rows.insert(rnd.choice([at + 1, len(rows)]), dict(rows[at]))
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_random_jsonl_files_read_as_the_old_reader_read_them(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    mappings = [FieldMapping(), FieldMapping(default_model="dflt"),
                FieldMapping.from_overrides({"output": "answer,response", "model": "model_name"})]
    errors = 0
    for i in range(120):
        path = tmp_path / f"f{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in _file(rnd)), encoding="utf-8")
        mapping = rnd.choice(mappings)
        na = frozenset({"NA"}) if rnd.random() < 0.2 else frozenset()
        new = _outcome(parse_jsonl(path, mapping, na=na))
        old = _outcome(_old_parse_jsonl(path, mapping, na))
        assert new == old, path.read_text()
        errors += old[1] is not None
    assert errors > 10 and 120 - errors > 10  # both kinds of file were made


def test_csv_rows_read_as_the_old_reader_read_them(tmp_path: Path) -> None:
    rnd = random.Random(99)
    for i in range(60):
        rows = [{"id": f"c{rnd.randrange(3)}", "prompt": rnd.choice(["P", "Q", "", '[{"role": '
                 '"user", "content": "x"}]']), "model": rnd.choice(["a", "b", ""]),
                 "output": rnd.choice(["x", "y", ""]), "tags": rnd.choice(["t1;t2", "", "[1]"]),
                 "key_slice": rnd.choice(["", "3", "[1]"]), "extra": rnd.choice(["", "e"])}
                for _ in range(rnd.randrange(2, 7))]
        path = tmp_path / f"f{i}.csv"
        header = list(rows[0])
        path.write_text(",".join(header) + "\n" + "".join(
            ",".join(json.dumps(r[h]) if r[h] else "" for h in header) + "\n" for r in rows),
            encoding="utf-8")
        assert _outcome(parse_csv(path)) == _outcome(_old_parse_csv(path)), path.read_text()


def _old_parse_csv(path: Path) -> Iterator[Located]:
    parser = _OldRows(path, FieldMapping())
    _header, rows = iter_csv(path, no_progress, None)
    for line, row in rows:
        yield from parser.rows(row, line)


def test_a_case_repeated_with_metadata_1_or_1_0_or_true_is_a_conflict(tmp_path: Path) -> None:
    base = {"id": "c", "prompt": "p", "model": "m", "output": "o"}
    for a, b in ((1, 1.0), (1, True), (1.0, True)):
        lines = [{**base, "key_slice": a}, {**base, "model": "n", "key_slice": b}]
        path = tmp_path / "k.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
        with pytest.raises(ImportFailed) as info:
            list(parse_jsonl(path))
        assert info.value.line == 2 and "different prompt or case fields" in info.value.message
    lines = [{**base, "key_slice": 1}, {**base, "model": "n", "key_slice": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    assert len([r for r in parse_jsonl(path) if isinstance(r.record, CaseRecord)]) == 1


def test_output_repeats_told_apart_by_long_and_short_metadata(tmp_path: Path) -> None:
    base = {"id": "c", "prompt": "p", "model": "m", "output": "o"}
    for meta_a, meta_b in (({"n": _LONG}, {"n": _LONG + "y"}), ({"n": 1}, {"n": 1.0}),
                           ({"n": "|x"}, {"n": "|x", "o": 1})):
        path = tmp_path / "o.jsonl"
        path.write_text(json.dumps({**base, **meta_a}) + "\n" + json.dumps({**base, **meta_a})
                        + "\n" + json.dumps({**base, **meta_b}) + "\n", encoding="utf-8")
        with pytest.raises(ImportFailed) as info:
            list(parse_jsonl(path))
        assert info.value.line == 3 and "than on line 1" in info.value.message


@dataclass(frozen=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


def test_quick_constructor_makes_the_same_records() -> None:
    new_output = quick_constructor(OutputRecord)
    a = new_output("c", "m", "t", None, {"k": 1})
    b = OutputRecord("c", "m", "t", external_id=None, metadata={"k": 1})
    assert a == b and repr(a) == repr(b) and type(a) is OutputRecord
    assert quick_constructor(Located)(b, "f", 3) == Located(b, "f", 3)
    assert hash(quick_constructor(Message)("user", "x")) == hash(Message("user", "x"))
    with pytest.raises(AttributeError):
        a.text = "changed"  # type: ignore[misc]  # still frozen
    with pytest.raises(ValueError):
        new_output("c", "m")  # every field, in order
    # A class that checks its values in __post_init__ keeps its own constructor.
    assert quick_constructor(_Checked) is _Checked
