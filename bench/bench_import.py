"""Import speed: ``medreview import`` of a JSONL of N outputs against raw sqlite3 executemany.

For each size (10k and 100k outputs; 1M with ``--full``) one JSONL file is written (N/2 cases
x 2 models; id, prompt, model, output of ~570 characters, tags, reference, latency_ms, as in
/work/shared/design/performance-notes.md §4). Then, in one run and alternating:

- ``medreview import``: ``medreview.cli.main.main(["import", PROJECT, FILE, "--json"])`` in
  this process into a new project (the real path: CLI -> services.importing -> importer ->
  storage.ingest, batches and all; no interpreter start-up);
- the baseline: read the same file, ``json.loads`` each line, build the same ``case`` and
  ``output`` rows (messages JSON, canonical content sha256, text sha256, metadata JSON, created
  timestamps) and ``executemany`` them with plain ``sqlite3`` into a new project's database
  (same schema, indexes and unique constraints; WAL, ``synchronous=FULL``, foreign keys on),
  in one transaction.

Prints both times (min and median of ``--repeat`` runs), outputs/s, the ratio of rates
(baseline time / import time; goal >= 0.5), the time per output (linear growth means a flat
time per output), the load average, and the same for CPU time (less sensitive to load).
Run:
    .venv/bin/python bench/bench_import.py [--full] [--repeat 3] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

WORDS = [
    "patient", "dose", "mg", "daily", "aspirin", "chest", "pain", "emergency", "review",
    "follow", "up", "blood", "pressure", "renal", "hepatic", "risk", "onset", "history",
    "exam", "troponin", "ecg",
]


def write_jsonl(path: Path, n: int, seed: int = 17) -> None:
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            c = i // 2
            text = " ".join(rnd.choice(WORDS) for _ in range(85))
            f.write(json.dumps({
                "id": f"case-{c:07d}",
                "prompt": f"Case {c}: what should a {40 + c % 40}-year-old with chest pain do?",
                "model": ("model-a", "model-b")[i % 2],
                "output": text,
                "tags": ["cardiology"],
                "reference": "Call EMS.",
                "latency_ms": 500 + i % 300,
            }) + "\n")


def _sha(obj: Any) -> str:
    # storage.ingest.canonical_sha, inlined so the baseline depends on nothing of ours.
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def raw_baseline(db: Path, src: Path, chunk: int = 50_000) -> int:
    """Read, parse and insert the file's rows into ``db`` with sqlite3 executemany.

    One transaction; lines are handled in chunks (so 1M outputs fit in memory), case ids are
    numbered here (the database is empty) so outputs need no lookup.
    """
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    case_ids: dict[str, int] = {}
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    source = str(src)
    con.execute("BEGIN IMMEDIATE")
    with src.open(encoding="utf-8") as f:
        while True:
            lines = [line for _, line in zip(range(chunk), f, strict=False)]
            if not lines:
                break
            cases: list[tuple[Any, ...]] = []
            outputs: list[tuple[Any, ...]] = []
            for line in lines:
                obj = json.loads(line)
                key = obj["id"]
                cid = case_ids.get(key)
                if cid is None:
                    cid = case_ids[key] = len(case_ids) + 1
                    messages = [{"role": "user", "content": obj["prompt"]}]
                    content = {"messages": messages, "context": [], "criteria": [],
                               "reference": obj["reference"], "title": ""}
                    cases.append((cid, key, "", json.dumps(messages), "[]",
                                  json.dumps(obj["tags"]), "{}", obj["reference"],
                                  _sha(content), source, now))
                text = obj["output"]
                outputs.append((cid, None, obj["model"], text,
                                hashlib.sha256(text.encode("utf-8")).hexdigest(),
                                json.dumps({"latency_ms": obj["latency_ms"]}), source, now))
            con.executemany(
                'INSERT INTO "case" (id, external_id, title, messages, context, tags, metadata, '
                "reference_answer, content_sha256, source, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)", cases)
            con.executemany(
                "INSERT INTO output (case_id, external_id, model, text, text_sha256, metadata, "
                "source, created_at) VALUES (?,?,?,?,?,?,?,?)", outputs)
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM output").fetchone()[0]
    con.close()
    return int(n)


def new_project(folder: Path) -> Path:
    """``medreview init FOLDER`` (the schema both sides insert into)."""
    from medreview.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):
        if main(["init", str(folder)]) != 0:
            raise SystemExit("medreview init failed")
    return folder


def medreview_import(project: Path, src: Path) -> dict[str, Any]:
    from medreview.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["import", str(project), str(src), "--json"])
    if code != 0:
        raise SystemExit(f"medreview import failed with code {code}")
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def run(n: int, repeat: int, work: Path) -> None:
    src = work / f"outputs-{n}.jsonl"
    write_jsonl(src, n)
    ours, raw, ours_cpu, raw_cpu = [], [], [], []
    for r in range(repeat):
        p = new_project(work / f"p{n}-{r}")
        t, c = time.perf_counter(), time.process_time()
        result = medreview_import(p, src)
        ours.append(time.perf_counter() - t)
        ours_cpu.append(time.process_time() - c)
        added = result["files"][0]["added"]
        assert added.get("outputs") == n, added
        b = new_project(work / f"b{n}-{r}")
        t, c = time.perf_counter(), time.process_time()
        rows = raw_baseline(b / "project.sqlite", src)
        raw.append(time.perf_counter() - t)
        raw_cpu.append(time.process_time() - c)
        assert rows == n
        shutil.rmtree(p)
        shutil.rmtree(b)
    ours_best, raw_best = min(ours), min(raw)
    ratios = [b / o for o, b in zip(ours, raw, strict=True)]
    load = os.getloadavg()[0]
    print(f"{n:>9,} outputs  medreview import min {ours_best:7.2f} s / med "
          f"{statistics.median(ours):7.2f} s ({n / ours_best:9,.0f}/s, "
          f"{ours_best / n * 1e6:5.1f} us/output)   raw executemany min {raw_best:6.2f} s / med "
          f"{statistics.median(raw):6.2f} s ({n / raw_best:9,.0f}/s)   ratio of rates "
          f"{raw_best / ours_best:.2f} (per run {', '.join(f'{x:.2f}' for x in ratios)})   "
          f"load {load:.1f}", flush=True)
    # CPU time of this process: what load on a shared machine changes least.
    print(f"{'':>9}          CPU min: import {min(ours_cpu) / n * 1e6:5.1f} us/output, raw "
          f"{min(raw_cpu) / n * 1e6:5.1f} us/output, ratio {min(raw_cpu) / min(ours_cpu):.2f}",
          flush=True)
    src.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also 1,000,000 outputs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="10000,100000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.full:
        sizes.append(1_000_000)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} CPUs; goal: ratio >= 0.5")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        warm = _warm(work)
        medreview_import(new_project(work / "warm"), warm)  # imports, first-use costs
        raw_baseline(new_project(work / "warm-raw") / "project.sqlite", warm)
        same_rows(work / "warm" / "project.sqlite", work / "warm-raw" / "project.sqlite")
        for n in sizes:
            run(n, args.repeat, work)


def same_rows(ours: Path, raw: Path) -> None:
    """The baseline writes the very rows the import writes (ids and timestamps aside)."""
    def rows(db: Path) -> list[Any]:
        con = sqlite3.connect(db)
        got = [con.execute(
            f'SELECT * FROM "{t}" ORDER BY id').fetchall() for t in ("case", "output")]
        con.close()
        return [[r[1:-1] for r in table] for table in got]  # not id, not created_at

    if rows(ours) != rows(raw):
        raise SystemExit("the baseline's rows differ from the import's: fix the baseline")
    print("baseline rows = import rows (case, output; ids and timestamps aside): yes")


def _warm(work: Path) -> Path:
    src = work / "warm.jsonl"
    write_jsonl(src, 10)
    return src


if __name__ == "__main__":
    main()
