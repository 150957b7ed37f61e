"""Fuzz the import command with mutated JSONL/CSV/JSON files (seeded, deterministic).

Valid seed files are mutated (byte flips, truncation, NULs, invalid UTF-8, deep nesting, huge
fields, other encodings, shuffled lines, values of the wrong type, CSV quoting) and each
mutant is imported through ``medreview.cli.main.main`` in-process. Every run must end in exit
0, or a non-zero exit with exactly one line on stderr, never a traceback and never the import
service's "unexpected error" net (which would mean a bug was only caught, not handled). A
refused file leaves every table exactly as it was; an accepted one adds exactly what the
summary says.

CI runs ``MEDREVIEW_FUZZ_N`` (default 300) mutants; raise it locally, e.g.
``MEDREVIEW_FUZZ_N=5000 pytest tests/importers/test_fuzz_import.py``. ``MEDREVIEW_FUZZ_SEED``
changes the seed; a failure names the mutant's number, seed file and mutations, and keeps the
file, so it can be replayed.
"""

from __future__ import annotations

import codecs
import json
import os
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medreview.cli.main import main
from medreview.importers import _common
from medreview.storage import ingest as ingest_module
from tests.importers.test_rating_validation import RUBRIC

N = int(os.environ.get("MEDREVIEW_FUZZ_N", "300"))
SEED = int(os.environ.get("MEDREVIEW_FUZZ_SEED", "20261206"))
# Small enough that a "huge field" mutant of a few hundred KB trips it without allocating
# the real cap's 32 MiB per mutant.
LINE_CAP = 64 * 1024

_CASES: list[dict[str, Any]] = [
    {"id": "n1", "prompt": "Chest pain at rest?", "model": "m", "output": "Call 911.",
     "tags": ["cardio", "acute"], "context": [{"title": "Note", "text": "BP 150/90"}],
     "specialty": "cardiology"},
    {"id": "n2", "messages": [{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "Dose of amoxicillin?"}],
     "model": "m2", "output": "500 mg tid", "reference": "500 mg every 8 h"},
    {"id": "n3", "prompt": "Café-au-lait spots — significance?", "model": "m",
     "output": "Consider NF1 ≥ 6 spots.", "score": 0.5},
]
_RATINGS: list[dict[str, Any]] = [
    {"case_id": "c1", "model": "m", "rater": "dr_a", "answers": {"accuracy": 3, "safe": True},
     "rationale": "ok", "confidence": 0.8},
    {"case_id": "c2", "model": "m", "rater": "dr_a", "q:accuracy": 1, "q:tone": "bad"},
    {"case_id": "c3", "model": "m", "rater": "judge-1", "rater_kind": "judge",
     "answers": {"score": 7.5, "comment": "fine"}},
]


def _seeds() -> dict[str, bytes]:
    jsonl = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _CASES)
    csv_text = (
        "id,prompt,model,output,tags\r\n"
        'n4,"A cell over\r\ntwo lines, with a comma",m,"He said ""stop""",a;b\r\n'
        "\r\n"
        "n5,Plain question,m2,Plain answer,\r\n"
        ",,,,\r\n"
        "n6,Ünïcödé question,m,Ответ,x\r\n"
    )
    array = json.dumps([{**r, "id": f"a{i}"} for i, r in enumerate(_CASES)], indent=1)
    as_dict = json.dumps(
        {f"k{i}": {k: v for k, v in r.items() if k != "id"} for i, r in enumerate(_CASES)},
        ensure_ascii=False,
    )
    ratings_csv = (
        "case_id,model,rater,rater_kind,q:accuracy,q:safe,q:tone,q:score,rationale,confidence\n"
        "c1,m,dr_b,physician,2,yes,good,3,\"Fine,\nmostly\",0.5\n"
        "c2,m,dr_b,physician,3,false,,10,,\n"
        "c3,m,judge-2,judge,1,,bad,,x,1\n"
    )
    ratings_jsonl = "".join(json.dumps(r) + "\n" for r in _RATINGS)
    return {
        "cases.jsonl": jsonl.encode(),
        "cases.csv": csv_text.encode(),
        "records.json": array.encode(),
        "dict.json": as_dict.encode(),
        "ratings.csv": ratings_csv.encode(),
        "ratings.jsonl": ratings_jsonl.encode(),
    }


# --- mutations: each takes (rng, bytes) and returns bytes -----------------------------------


def _flip(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _insert(rng: random.Random, data: bytes, what: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + what + data[at:]


def _nul(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, b"\x00" * rng.randint(1, 3))


def _bad_utf8(rng: random.Random, data: bytes) -> bytes:
    junk = rng.choice([b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                       b"\xc0\xaf", b"\x80\x80"])
    return _insert(rng, data, junk)


def _deep(rng: random.Random, data: bytes) -> bytes:
    k = rng.choice([50, 99, 101, 500, 3000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    nest = opener * k + b"1" + closer * k
    text = data
    # Put the nest where a value goes (after a ':' or ','), else anywhere.
    spots = [i + 1 for i, c in enumerate(text) if c in b":,"]
    at = rng.choice(spots) if spots else rng.randrange(len(text) + 1)
    return text[:at] + nest + text[at:]


def _huge(rng: random.Random, data: bytes) -> bytes:
    size = rng.choice([LINE_CAP - 100, LINE_CAP + 10, 4 * LINE_CAP])
    fill = rng.choice([b"x", b"\xc3\xa9", b"\n", b'"', b","])
    return _insert(rng, data, fill * (size // len(fill)))


def _encode(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    codec = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1",
                        "utf-8-sig", "shift_jis", "utf-7"])
    raw = text.encode(codec, errors="replace")
    if codec in ("utf-16-le", "utf-16-be") and rng.random() < 0.5:
        raw = (codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE) + raw
    return raw


def _lines(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    op = rng.choice(["dup", "swap", "drop", "blank"])
    i = rng.randrange(len(lines))
    if op == "dup":
        lines.insert(i, lines[rng.randrange(len(lines))])
    elif op == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "drop":
        del lines[i]
    else:
        lines.insert(i, b"   \r")
    return b"\n".join(lines)


_ODD_VALUES: list[object] = [
    None, 0, -1, 1e308, True, "", " ", "NaN", [], {}, [1, "x"], {"role": "user"},
    "7", 7, 99, "yes", "\u202e\u0000x", "x" * 300, [{"role": 1, "content": None}],
]


def _retype(rng: random.Random, data: bytes) -> bytes:
    """Give a field of a JSON record a value of another type (the file stays valid JSON)."""
    text = data.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
        whole = True
    except (json.JSONDecodeError, RecursionError):
        whole = False
    if whole and isinstance(doc, list | dict):
        records = doc if isinstance(doc, list) else list(doc.values())
        if records and isinstance(records[0], dict):
            rec = rng.choice(records)
            if isinstance(rec, dict) and rec:
                rec[rng.choice(list(rec))] = rng.choice(_ODD_VALUES)
        return json.dumps(doc).encode()
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    try:
        rec = json.loads(lines[i])
    except (json.JSONDecodeError, RecursionError):
        return _csv_noise(rng, data)
    if isinstance(rec, dict) and rec:
        key = rng.choice(list(rec))
        if isinstance(rec[key], dict) and rec[key] and rng.random() < 0.5:
            rec[key][rng.choice(list(rec[key]))] = rng.choice(_ODD_VALUES)
        else:
            rec[key] = rng.choice(_ODD_VALUES)
        lines[i] = json.dumps(rec)
    return "\n".join(lines).encode()


def _csv_noise(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, rng.choice([b'"', b",", b"\r", b'""', b"\t", b',"a\nb",', b";"]))


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "flip": _flip,
    "truncate": _truncate,
    "nul": _nul,
    "bad_utf8": _bad_utf8,
    "deep": _deep,
    "huge": _huge,
    "encode": _encode,
    "lines": _lines,
    "retype": _retype,
    "csv_noise": _csv_noise,
}
_SUFFIXES = [".jsonl", ".csv", ".json", ".tsv", ".ndjson"]


# Options a user may add; a few mutants get one or two of them.
_OPTIONS: list[list[str]] = [
    ["--encoding", "cp1252"], ["--encoding", "latin-1"], ["--encoding", "utf-16"],
    ["--na", "NA"], ["--na", ""], ["--map", "output="], ["--map", "case_id=case_id,id"],
    ["--map", "prompt=question,prompt"], ["--model", "fallback"], ["--rater", "dr_x"],
    ["--map", "q:accuracy=q:score"], ["--format", "json"], ["--format", "ratings-jsonl"],
    ["--format", "csv"], ["--format", "wide-csv"], ["--rater-kind", "judge"],
]


@dataclass
class Mutant:
    number: int
    seed_name: str
    steps: list[str]
    path: Path
    options: list[str]

    def __str__(self) -> str:
        opts = f" with {' '.join(self.options)}" if self.options else ""
        return (
            f"mutant {self.number} of {self.seed_name} ({', '.join(self.steps)}){opts}: "
            f"{self.path}"
        )


def _make(n: int, seeds: dict[str, bytes], folder: Path) -> Mutant:
    rng = random.Random(SEED * 1_000_003 + n)
    name = rng.choice(sorted(seeds))
    data = seeds[name]
    steps = [rng.choice(sorted(MUTATIONS)) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    for step in steps:
        data = MUTATIONS[step](rng, data)
    suffix = Path(name).suffix
    if rng.random() < 0.08:
        suffix = rng.choice(_SUFFIXES)
        steps.append(f"renamed {suffix}")
    path = folder / f"m{n:05d}{suffix}"
    path.write_bytes(data)
    options: list[str] = []
    if rng.random() < 0.25:
        for _ in range(rng.choice([1, 1, 2])):
            options += rng.choice(_OPTIONS)
    return Mutant(n, name, steps, path, options)


def _counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'"
        )]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


# What an import summary's "added" counts show up as, table by table.
_ADDED_TABLE = {"cases": "case", "outputs": "output", "ratings": "judgment_revision",
                "criteria": "case_criterion", "attachments": "attachment"}


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    proj = tmp_path / "proj"
    assert _run(capsys, "init", proj)[0] == 0
    rubric = tmp_path / "mini.json"
    rubric.write_text(json.dumps(RUBRIC), encoding="utf-8")
    base = tmp_path / "base.jsonl"
    base.write_text(
        "".join(json.dumps({"id": f"c{i}", "prompt": f"Q{i}", "model": "m", "output": f"A{i}"})
                + "\n" for i in (1, 2, 3)),
        encoding="utf-8",
    )
    code, _, err = _run(capsys, "import", proj, base, "--rubric", rubric)
    assert code == 0, err
    return proj


def test_seed_files_import_cleanly(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seeds are valid, so every mutant starts from a file that imports."""
    for name, data in _seeds().items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, err = _run(capsys, "import", project, path, "--json")
        assert code == 0, f"{name}: {err}"
        assert sum(json.loads(out)["files"][0]["added"].values()) > 0, name


def test_fuzz_import_never_tracebacks_or_half_writes(
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_common, "MAX_LINE_CHARS", LINE_CAP)
    # Commit every 2 records, so a file refused half-way has committed batches to undo.
    defaults = ingest_module.ingest.__kwdefaults__
    assert defaults is not None and "batch_records" in defaults
    monkeypatch.setitem(defaults, "batch_records", 2)
    db = project / "project.sqlite"
    seeds = _seeds()
    folder = tmp_path / "mutants"
    folder.mkdir()
    outcomes = {"accepted": 0, "refused": 0}
    for n in range(N):
        mutant = _make(n, seeds, folder)
        before = _counts(db)
        try:
            code, out, err = _run(capsys, "import", project, mutant.path, "--json",
                                  *mutant.options)
        except BaseException as exc:  # a traceback the CLI let through
            pytest.fail(f"{mutant}: {type(exc).__name__}: {exc}")
        after = _counts(db)
        assert "Traceback" not in err, f"{mutant}: {err}"
        assert "unexpected error" not in err, f"{mutant}: {err}"
        if code == 0:
            outcomes["accepted"] += 1
            added = json.loads(out)["files"][0]["added"]
            for key, table in _ADDED_TABLE.items():
                assert after[table] - before[table] == added.get(key, 0), (
                    f"{mutant}: {table} grew by {after[table] - before[table]}, "
                    f"summary says {added.get(key, 0)}"
                )
        else:
            outcomes["refused"] += 1
            lines = err.strip().splitlines()
            assert len(lines) == 1, f"{mutant}: {err}"
            assert lines[0].startswith("medreview import: error: "), f"{mutant}: {err}"
            assert after == before, f"{mutant}: refused but the project changed"
        mutant.path.unlink()
    # Both outcomes are exercised, or the mutations are too weak (or too strong) to mean much.
    assert outcomes["accepted"] > 0 and outcomes["refused"] > 0, outcomes


# inspect-ai logs (medreview/importers/inspect_ai.py, another module): corrupt ZIPs, zstd
# members and deep JSON must be refused by that module itself, so the same full contract
# holds, including "never the service's unexpected-error net".
_DATA = Path(__file__).parent / "data"


def test_fuzz_inspect_logs_end_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common, "MAX_LINE_CHARS", LINE_CAP)
    proj = tmp_path / "proj"
    assert _run(capsys, "init", proj)[0] == 0
    db = proj / "project.sqlite"
    seeds = {n: (_DATA / n).read_bytes() for n in ("inspect_medqa.eval", "inspect_medqa.json")}
    folder = tmp_path / "mutants"
    folder.mkdir()
    for n in range(max(20, N // 6)):
        mutant = _make(n, seeds, folder)
        before = _counts(db)
        try:
            code, out, err = _run(capsys, "import", proj, mutant.path, "--json")
        except BaseException as exc:
            pytest.fail(f"{mutant}: {type(exc).__name__}: {exc}")
        after = _counts(db)
        assert "Traceback" not in err, f"{mutant}: {err}"
        assert "unexpected error" not in err, f"{mutant}: {err}"
        if code == 0:
            added = json.loads(out)["files"][0]["added"]
            for key, table in _ADDED_TABLE.items():
                assert after[table] - before[table] == added.get(key, 0), str(mutant)
        else:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("medreview import: error: "), (
                f"{mutant}: {err}"
            )
            assert after == before, f"{mutant}: refused but the project changed"
        mutant.path.unlink()
