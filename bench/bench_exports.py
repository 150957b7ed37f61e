"""Exports on a real project against the raw read + parse of its judgments (issue #17).

Set-up (once per ``--work DIR``, reused): a copy of a real project with gold labels.

- ``--size 100k``: a copy of ``/tmp/D/big`` (100,000 outputs, 100,000 finished physician
  judgments, one rater per output; ``--source`` for another);
- ``--size 1m``: a copy of ``/tmp/C_merge1m/n1000000/project`` and ``medreview merge`` of its
  ``p*-graded.mrpkg`` packages (1,000,000 judgments; ~80 s, 1.4 GB plus growth);

then ``medreview adjudicate PROJECT --auto`` (with one rater per output every answer is
"unanimous" gold: the training exports have work). The project is never written afterwards.

Timed, each in a fresh child process (so each peak RSS is that export's own; the modules are
imported before the clock starts, as a running app has them): ``medreview.cli.main.main(
["export", PROJECT, OUT, ...])`` for tables (csv, parquet), audit (csv), sft, dpo, criteria and
training (the three together), and the **baseline**: plain ``sqlite3`` reading every finished
judgment's current revision (output, rater, answers, annotations, rationale, confidence, time)
and ``json.loads`` of its answers and annotations. Printed: wall, CPU (user + system), peak RSS
(VmHWM), the ratio wall / baseline wall, the load average. Each line is the minimum over
``--repeat`` runs (peak: its maximum).

Usage: .venv/bin/python bench/bench_exports.py [--size 100k|1m] [--work DIR] [--repeat 1]
       [--only KIND ...] [--profile KIND]
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = {"100k": Path("/tmp/D/big"), "1m": Path("/tmp/C_merge1m/n1000000")}
EXPORTS: dict[str, list[str]] = {
    "tables-csv": ["--kind", "tables", "--format", "csv"],
    "tables-parquet": ["--kind", "tables", "--format", "parquet"],
    "audit-csv": ["--kind", "audit", "--format", "csv"],
    "sft": ["--kind", "sft"],
    "dpo": ["--kind", "dpo"],
    "criteria": ["--kind", "criteria"],
    "training": ["--kind", "training"],
}
BASELINE = "read+parse"


def cli(args: list[str]) -> None:
    from medreview.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    if code not in (0, None):
        raise SystemExit(f"medreview {' '.join(args)} exited {code}")


def setup(size: str, work: Path, source: Path | None) -> Path:
    project = work / "project"
    done = work / "setup.done"
    if done.is_file():
        return project
    shutil.rmtree(project, ignore_errors=True)
    src = source or SOURCES[size]
    t0 = time.perf_counter()
    if size == "1m":
        shutil.copytree(src / "project", project)
        packages = sorted(str(p) for p in src.glob("p*-graded.mrpkg"))
        print(f"set-up: merging {len(packages)} packages into {project} ...", flush=True)
        cli(["merge", str(project), *packages])
    else:
        shutil.copytree(src, project)
    print(f"set-up: auto gold ({time.perf_counter() - t0:.0f} s so far) ...", flush=True)
    con = sqlite3.connect(database(project))
    had_gold = con.execute("SELECT count(*) FROM gold_label").fetchone()[0]
    con.close()
    with batched_gold_writes() if not had_gold else contextlib.nullcontext():
        cli(["adjudicate", str(project), "--auto", "--by", "bench"])
    done.write_text(json.dumps({"size": size, "source": str(src),
                                "seconds": round(time.perf_counter() - t0, 1)}))
    return project


@contextlib.contextmanager
def batched_gold_writes() -> Iterator[None]:
    """``adjudicate --auto`` with its labels inserted in batches, not one ORM flush each.

    Auto gold appends each label by ``storage.adjudication._append``: a SELECT of the label's
    highest revision and a flush per label, ~1 ms each (100k outputs: ~800,000 labels, more
    than 15 minutes; 1M: hours). The set-up's project has no gold before, so every label is
    revision 1: the same rows (uid, output, question, value, provenance, rationale, revision,
    time) are inserted 50,000 at a time, the rest in the same transaction before it commits."""
    import uuid

    from sqlalchemy import event, insert
    from sqlalchemy.orm import Session

    from medreview.storage import adjudication
    from medreview.storage.base import utcnow
    from medreview.storage.gold import StoredGold
    from medreview.storage.models import GoldLabelRow

    pending: list[dict[str, Any]] = []

    def flush(s: Session) -> None:
        if pending:
            s.execute(insert(GoldLabelRow), pending)
            pending.clear()

    def append(s: Session, output_id: int, question_id: str, value: Any, provenance: str,
               rationale: str, adjudicator_id: int | None) -> StoredGold:
        pending.append({"uid": uuid.uuid4().hex, "output_id": output_id,
                        "question_id": question_id, "value": value, "provenance": provenance,
                        "rationale": rationale, "adjudicator_id": adjudicator_id,
                        "revision_no": 1, "created_at": utcnow()})
        if len(pending) >= 50_000:
            flush(s)
        return StoredGold(output_id, question_id, value, provenance, 1, rationale)

    real = adjudication._append
    adjudication._append = append
    event.listen(Session, "before_commit", flush)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", flush)
        adjudication._append = real


def database(project: Path) -> Path:
    return project / "project.sqlite"


def read_parse(project: Path) -> int:
    """The baseline: every finished judgment's current revision read and its JSON parsed."""
    con = sqlite3.connect(f"file:{database(project)}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT j.output_id, r.name, v.answers, v.annotations, v.rationale, v.confidence, "
            "v.created_at FROM judgment_revision v JOIN judgment j ON j.id = v.judgment_id "
            "AND j.current_revision_no = v.revision_no JOIN rater r ON r.id = j.rater_id "
            "WHERE j.status = 'done' ORDER BY j.output_id, r.id").fetchall()
        loads = json.loads
        parsed = [(o, name, loads(a), loads(n), why, conf, at)
                  for o, name, a, n, why, conf, at in rows]
    finally:
        con.close()
    return len(parsed)


def peak_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(kind: str, project: Path, out: Path, profile: str | None) -> dict[str, Any]:
    """Child process: import what the command uses, then time it once."""
    import importlib

    # imported before the clock, as in a running app (the heavy modules load lazily)
    for name in ("medreview.cli.main", "medreview.exporters.bundle", "pandas",
                 "medreview.exporters.tables", "medreview.services.study", "fastparquet"):
        importlib.import_module(name)

    shutil.rmtree(out, ignore_errors=True)
    c0, t0 = os.times(), time.perf_counter()
    if kind == BASELINE:
        n = read_parse(project)
    else:
        args = ["export", str(project), str(out), *EXPORTS[kind]]
        if profile:
            import cProfile

            cProfile.runctx("cli(args)", globals(), {"args": args}, profile)
        else:
            cli(args)
        n = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    shutil.rmtree(out, ignore_errors=True)
    return {"kind": kind, "wall": wall, "cpu": cpu, "peak_mb": peak_mb(), "n": n}


def measure(kind: str, project: Path, work: Path, profile: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, "--project", str(project),
           "--out", str(work / f"out-{kind}")]
    if profile:
        cmd += ["--profile-file", profile]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind}: failed\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(project: Path, work: Path, kinds: list[str], repeat: int) -> None:
    judgments = sqlite3.connect(f"file:{database(project)}?mode=ro", uri=True).execute(
        "SELECT count(*) FROM judgment WHERE status = 'done'").fetchone()[0]
    print(f"project {project}: {judgments:,} finished judgments; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in [BASELINE, *kinds]}
    for round_no in range(repeat):  # alternate: each kind's runs see the same mix of load
        for kind in results:
            r = measure(kind, project, work)
            results[kind].append(r)
            # as it comes (a 1M run takes long): the summary below is the one to quote
            print(f"  {round_no + 1}/{repeat} {kind}: wall {r['wall']:.2f} s, CPU "
                  f"{r['cpu']:.2f} s, peak {r['peak_mb']:.0f} MB; load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    base = min(r["wall"] for r in results[BASELINE])
    base_cpu = min(r["cpu"] for r in results[BASELINE])
    print(f"{'what':16} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'x base':>7} "
          f"{'x CPU':>6} {'written MB':>10}")
    for kind, rs in results.items():
        wall, cpu = min(r["wall"] for r in rs), min(r["cpu"] for r in rs)
        peak = max(r["peak_mb"] for r in rs)
        size = "" if kind == BASELINE else f"{rs[0]['n'] / 1e6:10.1f}"
        print(f"{kind:16} {wall:8.2f} {cpu:8.2f} {peak:8.0f} {wall / base:7.1f} "
              f"{cpu / base_cpu:6.1f} {size}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SOURCES), default="100k")
    ap.add_argument("--work", type=Path, default=None, help="set-up folder (reused)")
    ap.add_argument("--source", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", nargs="*", choices=sorted(EXPORTS), default=None)
    ap.add_argument("--profile", choices=sorted(EXPORTS), default=None,
                    help="cProfile one export into WORK/<kind>.prof instead of the table")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--project", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--profile-file", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one(a.child, a.project, a.out, a.profile_file)))
        return
    work = (a.work or Path(f"/tmp/Q2/bench-{a.size}")).absolute()
    work.mkdir(parents=True, exist_ok=True)
    project = setup(a.size, work, a.source)
    if a.profile:
        prof = str(work / f"{a.profile}.prof")
        r = measure(a.profile, project, work, prof)
        print(f"{a.profile}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU; profile in {prof}")
        return
    run(project, work, a.only or list(EXPORTS), a.repeat)


if __name__ == "__main__":
    main()
