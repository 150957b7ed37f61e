"""inspect-ai logs: .json and .eval give the same records; bad logs are named."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    Message,
    OutputRecord,
    RatingRecord,
)
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
    # the score answers the question made from the scorer; an extracted answer that is not
    # the output text itself is kept under the explanation (r4)
    assert r1.answers == {"inspect.model_graded_qa": "C"}
    assert r1.rationale == "GRADE: C - matches the target."
    assert r1.output_external_id == out1.external_id
    assert r1.created_at == "2025-05-01T10:00:05+00:00"
    assert r2.answers == {"inspect.model_graded_qa": "I"}
    assert r4.answers == {"inspect.model_graded_qa": "C"}
    assert r4.rationale == "Matches.\n\nAnswer extracted by the scorer: RLL pneumonia"


def test_eval_and_json_give_identical_records(data_dir: Path) -> None:
    def records(path: Path) -> list[tuple[object, int]]:
        out: list[tuple[object, int]] = []
        for loc in parse_inspect_log(path):
            rec = loc.record
            if isinstance(rec, AttachmentRecord):
                # the image is written to a temporary file per read: compare its bytes
                rec = dataclasses.replace(rec, path=Path(rec.path).read_bytes().hex())
            out.append((rec, loc.line))
        return out

    from_json = records(data_dir / "inspect_medqa.json")
    from_eval = records(data_dir / "inspect_medqa.eval")
    assert from_eval == from_json
    assert len(from_json) == 12  # 3 cases, the inline image of cxr-017, 4 outputs, 4 ratings


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
            "samples/1_epoch_1.json": '{"id": 1, "input": "Q", "output": {"completion": "A"}}',
            "samples/2_epoch_1.json": "{oops",
        },
    )
    with pytest.raises(ImportFailed, match="malformed JSON") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (2, "samples/2_epoch_1.json")

    path = _zip(tmp_path / "z.eval", {"header.json": header, "samples/1_epoch_1.json": '{"id": 1}'})
    with pytest.raises(ImportFailed, match="sample has no 'input'") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (1, "samples/1_epoch_1.json")


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
            {"id": 1, "input": "Q", "target": "A", "output": {}},
            {"id": 1, "input": "different", "target": "A", "epoch": 2, "output": {}},
        ],
    }
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(ImportFailed, match="duplicate sample id with a different input") as exc:
        list(parse_inspect_log(path))
    assert (exc.value.line, exc.value.item) == (2, "1")
    log["samples"] = [{"id": 1, "input": "Q", "target": 7, "output": {}}]
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
    assert exc.value.item == "samples[0] scores.s"


# --- .eval archives as current inspect-ai writes them (zstd members), and hostile ones ---

_HEADER = json.dumps(
    {"version": 2, "status": "success", "eval": {"model": "m", "task": "t"}}
).encode()
_SAMPLE = json.dumps(
    {"id": 1, "epoch": 1, "input": "Q", "output": {"completion": "A"},
     "scores": {"match": {"value": True, "explanation": "same"}}}
).encode()


def _zstd_zip(path: Path, members: dict[str, bytes], *, method: int = 93,
              declared_size: int | None = None) -> Path:
    """A ZIP whose members are zstd frames (method 93), built by patching a stored ZIP.

    ``zipfile`` writes the compressed bytes as a stored member; the method, CRC and
    uncompressed size are then rewritten in the local header and the central directory to
    those of the plain data, as a zstd-capable writer would have written them.
    """
    import struct
    import zlib

    import zstandard

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, zstandard.ZstdCompressor().compress(data))
    raw = bytearray(path.read_bytes())
    for name, data in members.items():
        crc, size = zlib.crc32(data), len(data) if declared_size is None else declared_size
        encoded = name.encode()
        local = raw.index(b"PK\x03\x04")
        while raw[local + 30 : local + 30 + len(encoded)] != encoded:
            local = raw.index(b"PK\x03\x04", local + 4)
        struct.pack_into("<H", raw, local + 8, method)
        struct.pack_into("<I", raw, local + 14, crc)
        struct.pack_into("<I", raw, local + 22, size)
        central = raw.index(b"PK\x01\x02")
        while raw[central + 46 : central + 46 + len(encoded)] != encoded:
            central = raw.index(b"PK\x01\x02", central + 4)
        struct.pack_into("<H", raw, central + 10, method)
        struct.pack_into("<I", raw, central + 16, crc)
        struct.pack_into("<I", raw, central + 24, size)
    path.write_bytes(bytes(raw))
    return path


def test_zstd_eval_members(tmp_path: Path) -> None:
    path = _zstd_zip(
        tmp_path / "z.eval", {"header.json": _HEADER, "samples/1_epoch_1.json": _SAMPLE}
    )
    groups = by_type(parse_inspect_log(path))
    [out] = [loc.record for loc in groups["output"]]
    [rating] = [loc.record for loc in groups["rating"]]
    assert isinstance(out, OutputRecord) and out.text == "A"
    # a boolean score answers a yes/no question
    assert isinstance(rating, RatingRecord)
    assert (rating.rater, rating.answers, rating.rationale) == (
        "match", {"inspect.match": "yes"}, "same"
    )


def _fails(path: Path, *parts: str) -> ImportFailed:
    with pytest.raises(ImportFailed) as exc:
        list(parse_inspect_log(path))
    message = str(exc.value)
    assert str(path) in message and "\n" not in message
    for part in parts:
        assert part in message, message
    return exc.value


def test_hostile_eval_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medreview.importers import eval_zip

    members = {"header.json": _HEADER, "samples/1_epoch_1.json": _SAMPLE}
    good = _zstd_zip(tmp_path / "good.eval", members)

    text = tmp_path / "text.eval"
    text.write_text("not a zip at all", encoding="utf-8")
    _fails(text, "not a readable ZIP archive")

    cut = tmp_path / "cut.eval"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _fails(cut, "not a readable ZIP archive")

    # a member's data damaged in place: zstd refuses it or the CRC does not match
    damaged = bytearray(good.read_bytes())
    at = damaged.index(b"samples/1_epoch_1.json") + len("samples/1_epoch_1.json") + 6
    damaged[at : at + 8] = b"\xff" * 8
    broken = tmp_path / "damaged.eval"
    broken.write_bytes(bytes(damaged))
    _fails(broken, "samples/1_epoch_1.json")

    _fails(_zstd_zip(tmp_path / "m.eval", members, method=97),
           "header.json", "unsupported ZIP compression method 97")

    _fails(_zstd_zip(tmp_path / "nohead.eval", {"samples/1_epoch_1.json": _SAMPLE}),
           "no header.json or start.json")

    no_output = json.dumps({"id": 1, "input": "Q"}).encode()
    _fails(_zstd_zip(tmp_path / "noout.eval",
                     {"header.json": _HEADER, "samples/1_epoch_1.json": no_output}),
           "samples/1_epoch_1.json", "sample has no 'output'")

    # a zip bomb whose central directory declares 10 bytes: the bound is on what comes out
    monkeypatch.setattr(eval_zip, "MAX_MEMBER_BYTES", 1 << 20)
    bomb = _zstd_zip(
        tmp_path / "bomb.eval",
        {"header.json": _HEADER, "samples/1_epoch_1.json": b" " * (8 << 20)},
        declared_size=10,
    )
    assert bomb.stat().st_size < 10_000
    _fails(bomb, "samples/1_epoch_1.json", "decompresses to more than 1 MiB")
    monkeypatch.setattr(eval_zip, "MAX_MEMBER_BYTES", 256 << 20)
    monkeypatch.setattr(eval_zip, "MAX_TOTAL_BYTES", 300)
    _fails(good, "more than")


def test_epochs_with_the_same_answer_are_one_output(tmp_path: Path) -> None:
    def sample(epoch: int, text: str, grade: str) -> dict[str, object]:
        return {"id": "c1", "epoch": epoch, "uuid": f"u{epoch}", "input": "Q",
                "output": {"completion": text},
                "scores": {"qa": {"value": grade, "explanation": f"e{epoch}"},
                           "f1": {"value": {"precision": 0.5, "recall": 1}}}}

    log = {"version": 2, "status": "success",
           "eval": {"model": "m", "scorers": [{"name": "qa", "options": {"model": "g/1"}}]},
           "samples": [sample(1, "A", "C"), sample(2, "B", "I"), sample(3, "A", "I")]}
    path = tmp_path / "epochs.json"
    path.write_text(json.dumps(log), encoding="utf-8")
    groups = by_type(parse_inspect_log(path))
    outputs = [loc.record for loc in groups["output"]]
    assert [(o.external_id, o.text, o.metadata.get("epochs")) for o in outputs
            if isinstance(o, OutputRecord)] == [("u1", "A", [1, 3]), ("u2", "B", None)]
    ratings = [loc.record for loc in groups["rating"] if isinstance(loc.record, RatingRecord)]
    # epoch 3 repeated epoch 1's text: the first epoch's scores stand for that output
    assert [(r.rater, r.output_external_id, r.answers) for r in ratings] == [
        ("qa (g/1)", "u1", {"inspect.qa": "C"}),
        ("f1", "u1", {"inspect.f1.precision": 0.5, "inspect.f1.recall": 1}),
        ("qa (g/1)", "u2", {"inspect.qa": "I"}),
        ("f1", "u2", {"inspect.f1.precision": 0.5, "inspect.f1.recall": 1}),
    ]
