"""``medreview adjudicate --auto`` (gold labels that need no adjudicator) at 100k and 1M
judgments, against reading and parsing those judgments and against SQLite's own insert of the
labels it writes (issue #17).

Set-ups (read, never written: each run works on a copy made before its clock starts):

- 100k: ``bench_commands.py``'s ``big_overlap`` (``--work`` of that bench, default /tmp/Q1):
  100,000 outputs, five physicians, a second physician on every 10th output and a judge on
  every 20th (115,000 judgments; 780,624 labels, 19,360 items left to a person);
- 1M: its ``big1m`` (1,000,000 outputs, one physician each: 7,999,840 ``single_rater`` labels).

Timed, each in a fresh child process (its own peak RSS; Linux ``ru_maxrss``):

(a) **read + parse**: ``bench_commands.raw_read``: plain ``sqlite3`` reads every finished
    judgment's current revision with its rater and output, ``json.loads`` of its answers and
    annotations;
(i) **raw insert**: plain ``sqlite3`` inserts the rows the command wrote (read back from its
    copy outside the clock) into another copy of the set-up: ``uuid.uuid4().hex`` per row,
    executemany of 400,000 rows at a time in one transaction, commit; the project's pragmas
    (WAL, ``synchronous=FULL``, foreign keys on) and SQLite's default page cache;
(g) ``services.study.auto_gold`` alone, and (c) the command, ``medreview.cli.main.main(
    ["adjudicate", COPY, "--auto"])`` (auto gold, then the queue listing), its output captured.

Printed: wall and CPU seconds, peak RSS, and the ratios of (g) and (c) to (a) and to (a)+(i).
Heavy modules are imported in each child before its clock. The copies are deleted afterwards
(a 1M copy is 1.9 GB before and ~3.6 GB after the labels; ``df -h`` the work folder first).

Usage: .venv/bin/python bench/bench_auto_gold.py [--sets /tmp/Q1] [--work /tmp/A17/bench]
       [--sizes 100000 1000000] [--only raw,auto,command,insert]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import raw_read  # the same (a) as the commands' bench

NAMES = {100_000: "big_overlap", 1_000_000: "big1m"}
RAW_CHUNK = 400_000
INSERT = ("INSERT INTO gold_label (uid, output_id, question_id, value, provenance, rationale, "
          "adjudicator_id, revision_no, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _copy(source: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    return target


def run_auto(project: Path, command: bool) -> dict[str, Any]:
    """(g) or (c) in this process."""
    import numpy  # noqa: F401  # imported before the clock: a fixed cost per process
    import pandas  # noqa: F401
    import sqlalchemy  # noqa: F401

    import medreview.services.study as study
    from medreview.cli.main import main
    from medreview.services.projects import open_project

    buf, err = io.StringIO(), io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    code: Any = 0
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        if command:
            try:
                code = main(["adjudicate", str(project), "--auto"])
            except SystemExit as exc:
                code = exc.code
        else:
            with open_project(project) as p:
                summary, _ = study.auto_gold(p)
            print(f"gold labels added: {summary.added}; {summary.skipped_disagreements} left")
    out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
           "rss_mb": _peak_mb(), "exit": code, "first_line": buf.getvalue().split("\n")[0]}
    if code:
        out["stderr"] = err.getvalue()[-500:]
    return out


def raw_insert(written: Path, fresh: Path) -> dict[str, Any]:
    """(i): the gold rows of ``written`` inserted into ``fresh`` with plain sqlite3 (reading
    them from ``written`` is outside the clock)."""
    src = sqlite3.connect(f"file:{written / 'project.sqlite'}?mode=ro", uri=True)
    dst = sqlite3.connect(fresh / "project.sqlite", isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=FULL"):
        dst.execute(f"PRAGMA {pragma}")
    (start,) = dst.execute("SELECT coalesce(max(id), 0) FROM gold_label").fetchone()
    rows = src.execute("SELECT output_id, question_id, value, provenance, rationale, "
                       "created_at FROM gold_label WHERE id > ? ORDER BY id", (start,))
    wall = cpu = 0.0
    n = 0
    dst.execute("BEGIN IMMEDIATE")
    while chunk := rows.fetchmany(RAW_CHUNK):
        w, c = time.perf_counter(), time.process_time()
        dst.executemany(INSERT, [(uuid.uuid4().hex, o, q, v, p, r, None, 1, at)
                                 for o, q, v, p, r, at in chunk])
        wall += time.perf_counter() - w
        cpu += time.process_time() - c
        n += len(chunk)
    w, c = time.perf_counter(), time.process_time()
    dst.execute("COMMIT")
    wall += time.perf_counter() - w
    cpu += time.process_time() - c
    src.close()
    dst.close()
    return {"wall": wall, "cpu": cpu, "rss_mb": _peak_mb(), "rows": n}


def child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _line(name: str, r: dict[str, Any], raw: dict[str, Any] | None,
          both: dict[str, float] | None) -> str:
    text = (f"    {name:<28}: {r['wall']:8.2f} s wall {r['cpu']:8.2f} s CPU  peak "
            f"{r['rss_mb']:6.0f} MB")
    if raw:
        text += f"  /(a) {r['wall'] / raw['wall']:5.1f}x (CPU {r['cpu'] / raw['cpu']:4.1f}x)"
    if both:
        text += (f"  /((a)+(i)) {r['wall'] / both['wall']:4.2f}x "
                 f"(CPU {r['cpu'] / both['cpu']:4.2f}x)")
    if r.get("exit"):
        text += f"  EXIT {r['exit']}: {r.get('stderr', '')}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--sets", type=Path, default=Path("/tmp/Q1"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/A17/bench"))
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--only", default="raw,auto,command,insert")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, *paths = args.child
        if what == "raw":
            result = raw_read(Path(paths[0]))
        elif what == "insert":
            result = raw_insert(Path(paths[0]), Path(paths[1]))
        else:
            result = run_auto(Path(paths[0]), command=what == "command")
        print(json.dumps(result))
        return
    only = args.only.split(",")
    args.work.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        source = args.sets / NAMES[n]
        if not (source / "project.sqlite").exists():
            sys.exit(f"no set-up {source}: build it with bench/bench_commands.py "
                     f"(--overlap for 100k)")
        load = os.getloadavg()
        print(f"\n== {n:,} outputs: {source}  (load average {load[0]:.2f} {load[1]:.2f} "
              f"{load[2]:.2f})", flush=True)
        raw = child("raw", str(source)) if "raw" in only else None
        if raw:
            print(f"(a) read + parse {raw['rows']:>9,} judgments: {raw['wall']:7.2f} s wall "
                  f"{raw['cpu']:7.2f} s CPU  peak {raw['rss_mb']:6.0f} MB", flush=True)
        written = None
        results = {}
        for what in ("auto", "command"):
            if what not in only:
                continue
            copy = _copy(source, args.work / f"{NAMES[n]}-{what}")
            results[what] = child(what, str(copy))
            print(f"    {what}: {results[what]['first_line']}", flush=True)
            if written is None:
                written = copy
            else:
                shutil.rmtree(copy)
        both = None
        if "insert" in only and written is not None:
            fresh = _copy(source, args.work / f"{NAMES[n]}-raw-insert")
            ins = child("insert", str(written), str(fresh))
            shutil.rmtree(fresh)
            print(f"(i) raw insert of {ins['rows']:,} labels: {ins['wall']:7.2f} s wall "
                  f"{ins['cpu']:7.2f} s CPU  peak {ins['rss_mb']:6.0f} MB", flush=True)
            if raw:
                both = {k: raw[k] + ins[k] for k in ("wall", "cpu")}
        if written is not None:
            shutil.rmtree(written)
        for what, r in results.items():
            name = "(g) auto_gold" if what == "auto" else "(c) adjudicate --auto"
            print(_line(name, r, raw, both), flush=True)
        print(f"    load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
