"""inspect-ai logs: .json and .eval give the same records; bad logs are named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from medreview.domain.records import CaseRecord, Message, OutputRecord, RatingRecord
from medreview.errors import ImportFailed
from medreview.importers.inspect_ai import parse_inspect_log
from tests.importers.helpers import by_type


def test_json_log_records(data_dir: Path) -> None:
    located = list(parse_inspect_log(data_dir / "inspect_medqa.json"))
    groups = by_type(located)
    # 5 samples = 3 ids; one sample errored, so 4 outputs, each with one scorer rating
    assert (len(groups["case"]), len(groups["output"]), len(groups["rating"])) == (3, 4, 4)
    assert [loc.line for loc in groups["output"]] == [1, 2, 3, 5]

    case1, case2, case3 = (loc.record for loc in groups["case"])
    assert isinstance(case1, CaseRecord) and isinstance(case2, CaseRecord)
    assert isinstance(case3, CaseRecord)
    assert case1.external_id == "1"
    assert case1.reference_answer == "Graves disease"
    assert case1.metadata == {"specialty": "endocrinology"}
    # attachment:// text is resolved; a list target becomes lines and is kept whole
    assert case2.messages == (
        Message("system", "Answer as a clinician."),
        Message(
            "user", "A 70-year-old with fever, confusion and neck stiffness. First antibiotic?"
        ),
    )
    assert case2.reference_answer == "Start IV ceftriaxone\nGive ceftriaxone"
    assert case2.metadata["targets"] == ["Start IV ceftriaxone", "Give ceftriaxone"]
    assert case3.messages == (
        Message("user", "65M, CXR attached. What is the most likely diagnosis?\n\n[image]"),
    )

    out1, out2, _out3, out4 = (loc.record for loc in groups["output"])
    assert isinstance(out1, OutputRecord) and isinstance(out2, OutputRecord)
    assert isinstance(out4, OutputRecord)
    assert out1.model == "openai/gpt-4o"
    assert out1.external_id == "aaaa1111bbbb2222cccc3"
    assert out1.metadata["epoch"] == 1 and out2.metadata["epoch"] == 2
    assert out1.metadata["output_model"] == "gpt-4o-2024-08-06"
    assert out1.metadata["task"] == "medqa_open"
    # empty `completion`: the text comes from the first choice, reasoning dropped
    assert out4.text == "Likely right lower lobe pneumonia."

    r1, r2, _r3, r4 = (loc.record for loc in groups["rating"])
    assert isinstance(r1, RatingRecord) and isinstance(r2, RatingRecord)
    assert isinstance(r4, RatingRecord)
    assert (r1.rater, r1.rater_kind) == ("model_graded_qa", "judge")
    assert r1.answers == {"score": "C", "answer": "Graves disease (autoimmune hyperthyroidism)."}
    assert r1.rationale == "GRADE: C - matches the target."
    assert r1.output_external_id == out1.external_id
    assert r1.created_at == "2025-05-01T10:00:05+00:00"
    assert r2.answers == {"score": "I"}
    assert r4.answers == {"score": "C", "answer": "RLL pneumonia"}


def test_eval_and_json_give_identical_records(data_dir: Path) -> None:
    from_json = [
        (loc.record, loc.line) for loc in parse_inspect_log(data_dir / "inspect_medqa.json")
    ]
    from_eval = [
        (loc.record, loc.line) for loc in parse_inspect_log(data_dir / "inspect_medqa.eval")
    ]
    assert from_eval == from_json
    assert len(from_json) == 11


def test_legacy_eval_layout(data_dir: Path) -> None:
    groups = by_type(parse_inspect_log(data_dir / "inspect_legacy.eval"))
    assert (len(groups["case"]), len(groups["output"]), len(groups["rating"])) == (1, 2, 2)


def test_samples_without_uuid_are_keyed_by_id_and_epoch(tmp_path: Path, data_dir: Path) -> None:
    log = json.loads((data_dir / "inspect_medqa.json").read_text(encoding="utf-8"))
    for s in log["samples"]:
        s.pop("uuid")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(log), encoding="utf-8")
    ids = [
        loc.record.external_id
        for loc in parse_inspect_log(path)
        if isinstance(loc.record, OutputRecord)
    ]
    assert ids == ["1:epoch1", "1:epoch2", "2:epoch1", "cxr-017:epoch1"]


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_bad_eval_zip(tmp_path: Path, data_dir: Path) -> None:
    path = _zip(tmp_path / "x.eval", {"samples/1_epoch_1.json": "{}"})
    with pytest.raises(ImportFailed, match=r"no header\.json or start\.json") as exc:
        list(parse_inspect_log(path))
    assert exc.value.source == str(path)

    header = json.dumps({"version": 2, "status": "success", "eval": {"model": "m", "task": "t"}})
    path = _zip(
        tmp_path / "y.eval",
        {
            "header.json": header,
            "samples/1_epoch_1.json": '{"id": 1, "input": "Q"}',
            "samples/2_epoch_1.json": "{oops",
        },
    )
    with pytest.raises(ImportFailed, match="malformed JSON") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (2, "samples/2_epoch_1.json")

    path = _zip(tmp_path / "z.eval", {"header.json": header, "samples/1_epoch_1.json": '{"id": 1}'})
    with pytest.raises(ImportFailed, match="sample has no 'input'") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (1, "1")


def test_bad_json_log(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"version": 2, "results": {}}', encoding="utf-8")
    with pytest.raises(ImportFailed, match="not an inspect-ai log"):
        list(parse_inspect_log(path))
    log = {
        "version": 2,
        "status": "success",
        "eval": {"model": "m"},
        "samples": [
            {"id": 1, "input": "Q", "target": "A"},
            {"id": 1, "input": "different", "target": "A", "epoch": 2},
        ],
    }
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(ImportFailed, match="duplicate sample id with a different input") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (2, "1")
    log["samples"] = [{"id": 1, "input": "Q", "target": 7}]
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(ImportFailed, match="'target' must be a string or list"):
        list(parse_inspect_log(path))
    log["samples"] = [
        {
            "id": 1,
            "input": "Q",
            "output": {"completion": "A"},
            "scores": {"s": {"explanation": "no value"}},
        }
    ]
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(ImportFailed, match="score has no 'value'") as exc:
        list(parse_inspect_log(path))
    assert exc.value.item == "1 scores.s"
