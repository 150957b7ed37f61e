"""Generic JSONL / CSV cases and outputs: mapping, dedup, metadata, errors, streaming."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from medreview.domain.records import CaseRecord, ContextDocument, Message, OutputRecord
from medreview.errors import ImportFailed
from medreview.importers.jsonl_csv import FieldMapping, parse_csv, parse_jsonl, parse_wide_csv
from medreview.progress import Cancelled, CancelToken
from tests.importers.helpers import by_type, write


def test_jsonl_happy_path(data_dir: Path) -> None:
    located = list(parse_jsonl(data_dir / "cases.jsonl"))
    groups = by_type(located)
    assert len(groups["case"]) == 3  # case-001 repeated on two lines is emitted once
    assert len(groups["output"]) == 3
    assert [loc.line for loc in located] == [1, 1, 2, 3, 3, 5]  # line 4 is blank
    assert all(loc.source == str(data_dir / "cases.jsonl") for loc in located)

    c1 = groups["case"][0].record
    assert isinstance(c1, CaseRecord)
    assert c1.external_id == "case-001"
    assert c1.tags == ("cardiology", "emergency")
    assert c1.reference_answer == "Call EMS immediately."
    assert c1.metadata == {}  # the extra field describes the outputs, not the case

    c2 = groups["case"][1].record
    assert isinstance(c2, CaseRecord)
    assert c2.messages == (
        Message("system", "You are a careful clinician."),
        Message("user", "Is ibuprofen safe in the third trimester?"),
    )
    assert c2.context == (ContextDocument("Context", "G1P0, 32 weeks."),)
    assert c2.tags == ("obstetrics", "pharmacology")

    c3 = groups["case"][2].record
    assert isinstance(c3, CaseRecord)
    assert c3.metadata == {"specialty": "urology"}  # case-only line: extras go on the case
    assert c3.context == (ContextDocument("Allergies", "Penicillin (rash)"),)

    outs = [loc.record for loc in groups["output"]]
    assert [(o.case_external_id, o.model) for o in outs if isinstance(o, OutputRecord)] == [
        ("case-001", "gpt-4o"),
        ("case-001", "claude-3-5-sonnet"),
        ("case-002", "gpt-4o"),
    ]
    first = outs[0]
    assert isinstance(first, OutputRecord)
    assert first.metadata == {"latency_ms": 812}
    third = outs[2]
    assert isinstance(third, OutputRecord)
    assert third.external_id == "out-9"


def test_csv_happy_path_multiline_cell_and_semicolon_tags(data_dir: Path) -> None:
    located = list(parse_csv(data_dir / "cases.csv"))
    groups = by_type(located)
    assert len(groups["case"]) == 2
    assert len(groups["output"]) == 3
    # The first data row spans lines 2-3, so the next rows start on lines 4 and 5.
    assert [loc.line for loc in groups["output"]] == [2, 4, 5]
    case = groups["case"][0].record
    assert isinstance(case, CaseRecord)
    assert case.tags == ("infectious disease", "emergency")
    assert case.reference_answer == "Treat as bacterial meningitis"
    out = groups["output"][0].record
    assert isinstance(out, OutputRecord)
    assert (
        out.text == "Urgent evaluation for meningitis:\nblood cultures, then empirical antibiotics."
    )
    assert out.metadata == {"reviewer_note": "first pass"}
    second = groups["output"][1].record
    assert isinstance(second, OutputRecord)
    assert second.metadata == {}  # an empty cell is no value


def test_wide_csv_one_column_per_model(data_dir: Path) -> None:
    located = list(
        parse_wide_csv(data_dir / "wide.csv", model_columns=["gpt-4o", "claude-3-5-sonnet"])
    )
    groups = by_type(located)
    assert len(groups["case"]) == 2
    outs = [loc.record for loc in groups["output"]]
    assert [(o.case_external_id, o.model) for o in outs if isinstance(o, OutputRecord)] == [
        ("w1", "gpt-4o"),
        ("w1", "claude-3-5-sonnet"),
        ("w2", "gpt-4o"),  # the empty claude cell is no answer
    ]
    case = groups["case"][1].record
    assert isinstance(case, CaseRecord)
    assert case.metadata == {"specialty": "pediatrics"}


def test_wide_csv_default_takes_unknown_columns_as_models(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", "case_id,question,model-a,model-b\nk1,Q?,A1,B1\n")
    models = [
        loc.record.model for loc in parse_wide_csv(path) if isinstance(loc.record, OutputRecord)
    ]
    assert models == ["model-a", "model-b"]


def test_wide_csv_unknown_model_column(tmp_path: Path) -> None:
    path = write(tmp_path / "w.csv", "id,prompt,a\nk1,Q?,A1\n")
    with pytest.raises(ImportFailed, match="not in the header: b") as exc:
        list(parse_wide_csv(path, model_columns=["a", "b"]))
    assert exc.value.line == 1


def test_mapping_override(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.jsonl",
        json.dumps({"uid": 7, "body": "Q?", "engine": "m1", "text": "A."}) + "\n",
    )
    mapping = FieldMapping.from_overrides(
        {"case_id": "uid", "prompt": ["body"], "model": "engine", "output": "text"}
    )
    recs = [loc.record for loc in parse_jsonl(path, mapping)]
    assert recs == [
        CaseRecord("7", (Message("user", "Q?"),)),
        OutputRecord("7", "m1", "A."),
    ]
    with pytest.raises(ValueError, match="unknown field role"):
        FieldMapping.from_overrides({"nonsense": "x"})


def test_default_model_and_case_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "id,prompt,output,specialty,score\nk,Q?,A.,cardiology,3\n")
    mapping = FieldMapping(default_model="m0", case_metadata=("specialty",))
    case, out = (loc.record for loc in parse_csv(path, mapping))
    assert isinstance(case, CaseRecord) and isinstance(out, OutputRecord)
    assert case.metadata == {"specialty": "cardiology"}
    assert out.model == "m0"
    assert out.metadata == {"score": "3"}


def test_csv_prompt_cell_with_json(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv",
        'id,prompt\na,"[{""role"": ""user"", ""content"": ""Hi""}]"\nb,"[1, 2] are the options"\n'
        'c,"[""x""]"\n',
    )
    cases = [loc.record for loc in parse_csv(path)]
    assert [c.messages for c in cases if isinstance(c, CaseRecord)] == [
        (Message("user", "Hi"),),
        (Message("user", "[1, 2] are the options"),),
        (Message("user", '["x"]'),),
    ]


def test_prompt_as_message_list(tmp_path: Path) -> None:
    row = {"id": "k", "prompt": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
    path = write(tmp_path / "x.jsonl", json.dumps(row) + "\n")
    (loc,) = parse_jsonl(path)
    assert isinstance(loc.record, CaseRecord)
    assert loc.record.messages == (Message("user", "Hi"),)


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        (['{"id": "a", "prompt": "Q"', ""], 1, "malformed JSON"),
        (['{"id": "a", "prompt": "Q"}', "[1, 2]"], 2, "expected a JSON object"),
        (['{"prompt": "Q"}'], 1, "missing required field: one of case_id, id, prompt_id"),
        (['{"id": "a"}'], 1, "missing required field: one of prompt"),
        (['{"id": "a", "prompt": 5}'], 1, "field 'prompt' must be a string, got number"),
        (['{"id": true, "prompt": "Q"}'], 1, "field 'id' must be a string or integer"),
        (['{"id": "a", "prompt": "Q", "output": "A"}'], 1, "has an output but no model"),
        (
            ['{"id": "a", "prompt": "Q", "output": ["A"], "model": "m"}'],
            1,
            "'output' must be a string",
        ),
        (['{"id": "a", "messages": [{"content": "x"}]}'], 1, "messages[0] has no 'role'"),
        (['{"id": "a", "prompt": "Q", "tags": [1]}'], 1, "'tags' must be a list of strings"),
        (
            [
                '{"id": "a", "prompt": "Q"}',
                '{"id": "b", "prompt": "R"}',
                '{"id": "a", "prompt": "Z"}',
            ],
            3,
            "duplicate case id with a different prompt or case fields than on line 1",
        ),
        (
            [
                '{"id": "a", "prompt": "Q", "model": "m", "output": "A1"}',
                '{"id": "a", "prompt": "Q", "model": "m", "output": "A2"}',
            ],
            2,
            "duplicate output id with a different text than on line 1",
        ),
    ],
)
def test_jsonl_bad_input_names_file_line_and_reason(
    tmp_path: Path, lines: list[str], line: int, reason: str
) -> None:
    path = write(tmp_path / "bad.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as exc:
        list(parse_jsonl(path))
    assert exc.value.source == str(path)
    assert exc.value.line == line
    assert reason in exc.value.reason
    assert str(path) in str(exc.value) and f"line {line}" in str(exc.value)


def test_duplicate_identical_output_is_dropped(tmp_path: Path) -> None:
    row = json.dumps({"id": "a", "prompt": "Q", "model": "m", "output": "A"})
    path = write(tmp_path / "x.jsonl", f"{row}\n{row}\n")
    assert len(list(parse_jsonl(path))) == 2  # one case, one output


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "empty file"),
        ("id,prompt\na,Q,extra\n", 2, "row has 3 cells but the header has 2 columns"),
        ("id,prompt,id\na,Q,b\n", 1, "column 'id' appears twice"),
        ('id,prompt\na,Q\nb,"unterminated\n', 3, "malformed CSV"),
        ("id,prompt\na,Q\n,R\n", 3, "missing required field"),
    ],
)
def test_csv_bad_input(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(ImportFailed) as exc:
        list(parse_csv(path))
    assert exc.value.source == str(path)
    assert exc.value.line == line
    assert reason in exc.value.reason


def test_csv_invalid_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,prompt\na,Q\nb,caf\xe9\n")
    with pytest.raises(ImportFailed, match="not valid UTF-8") as exc:
        list(parse_csv(path))
    assert exc.value.line == 3


def test_tsv_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_bytes("\ufeffid\tprompt\na\tQ, with comma\n".encode())
    (loc,) = parse_csv(path)
    assert isinstance(loc.record, CaseRecord)
    assert loc.record.messages == (Message("user", "Q, with comma"),)


def test_large_jsonl_streams_lazily(tmp_path: Path) -> None:
    """50k lines parse one at a time: the first records arrive before the bad last line is read."""
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(50_000):
            fh.write(
                json.dumps({"id": f"k{i}", "prompt": f"Q{i}", "model": "m", "output": "A"}) + "\n"
            )
        fh.write("{broken\n")
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int | None = None, message: str = "") -> None:
        seen.append((done, total or 0))

    gen = parse_jsonl(path, progress=progress)
    first = [next(gen) for _ in range(4)]
    assert [loc.line for loc in first] == [1, 1, 2, 2]
    count = 4
    with pytest.raises(ImportFailed) as exc:
        for _ in gen:
            count += 1
    assert count == 100_000  # every good line produced a case and an output before the failure
    assert exc.value.line == 50_001
    size = path.stat().st_size
    assert seen and all(0 < done <= size and total == size for done, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cancel_stops_parsing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.jsonl", "".join(f'{{"id": "k{i}", "prompt": "Q"}}\n' for i in range(10))
    )
    token = CancelToken()
    gen = parse_jsonl(path, token=token)
    next(gen)
    token.cancel()
    with pytest.raises(Cancelled):
        next(gen)


def test_field_mapping_is_frozen_and_replaceable() -> None:
    m = dataclasses.replace(FieldMapping(), output=("text",))
    assert m.output == ("text",)
    assert "text" in m.known() and "answer" not in m.known()


def test_key_slice_describes_the_case_even_beside_an_output(tmp_path: Path) -> None:
    # The viewer opens a case's series at its key slice; a line with an answer must not carry
    # it off onto the output.
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"case_id": "ct-1", "prompt": "Read the CT", "model": "m",
                                "output": "bleed", "key_slice": 14, "latency_ms": 5}) + "\n")
    groups = by_type(parse_jsonl(path))
    [case] = [loc.record for loc in groups["case"]]
    [output] = [loc.record for loc in groups["output"]]
    assert isinstance(case, CaseRecord) and isinstance(output, OutputRecord)
    assert case.metadata == {"key_slice": 14}
    assert output.metadata == {"latency_ms": 5}
