"""The study lead's commands on a real project against the time to read and parse the judgments
they use (issue #17: ``stats --no-ci`` within 3x of reading + parsing, at 100k and 1M).

Set-ups (built once under ``--work``, then reused; never written to by the timed runs except
by SQLite's own read locks):

- ``big`` (100k): the ``bench/bench_merge.py`` set-up of 100,000 outputs
  (``/tmp/B_merge/n100000``): its ``project`` copied, then ``medreview merge`` of its
  ``p*-graded.mrpkg``: 100,000 outputs of 50,000 cases (two criteria each), five physicians,
  one finished judgment per output (one rater per output: no overlap, so the adjudication
  queue is empty and drift compares nothing; the readers' work is all there is).
- ``big1m`` (1M): the same from ``/tmp/C_merge1m/n1000000`` (about 80 s to merge, 1.4 GB).

Timed, each in a fresh child process (so each peak RSS is its own; Linux ``ru_maxrss``):

(a) **read + parse**: plain ``sqlite3``: every finished judgment's current revision joined to
    its rater and output, ``json.loads`` of its answers and annotations;
(s) ``medreview stats DIR --no-ci`` (the goal's command; ``stats-json``: with ``--json``,
    every score written out too), (j) ``medreview adjudicate DIR`` (the queue listing),
    (r) ``medreview raters DIR``: each through ``medreview.cli.main.main([...])`` in the
    child, its standard output captured.

Heavy modules (pandas, numpy, sqlalchemy, the services) are imported in the child before the
clock starts: a fixed cost per process (about a second), whatever the size. Printed: wall and
CPU seconds (the machine has two cores shared with others: CPU time is steadier), peak RSS,
the ratio of each command's wall time to (a), and the load average before the run.

Usage: .venv/bin/python bench/bench_commands.py [--work /tmp/Q1] [--sizes 100000 1000000]
       [--repeat 1] [--only stats,adjudicate,raters]
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
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {100_000: Path("/tmp/B_merge/n100000"), 1_000_000: Path("/tmp/C_merge1m/n1000000")}
NAMES = {100_000: "big", 1_000_000: "big1m"}
COMMANDS = {
    "stats": ["stats", "{dir}", "--no-ci"],  # the goal: the text report
    "stats-json": ["stats", "{dir}", "--no-ci", "--json"],
    "adjudicate": ["adjudicate", "{dir}"],
    "raters": ["raters", "{dir}"],
}

RAW_SQL = """
SELECT j.output_id, o.case_id, r.name, r.kind, v.answers, v.annotations, v.confidence,
       v.overall_score, v.created_at
FROM judgment_revision v
JOIN judgment j ON j.id = v.judgment_id AND j.current_revision_no = v.revision_no
JOIN rater r ON r.id = j.rater_id
JOIN output o ON o.id = j.output_id
WHERE j.status = 'done'
"""


def setup(work: Path, n: int) -> Path:
    """The project of size ``n`` under ``work``, built by a merge once."""
    target = work / NAMES[n]
    if (target / "project.sqlite").exists():
        return target
    source = SOURCES[n]
    partial = work / f"{NAMES[n]}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source / "project", partial)
    packages = sorted(str(p) for p in source.glob("p*-graded.mrpkg"))
    subprocess.run([str(ROOT / ".venv/bin/medreview"), "merge", str(partial), *packages],
                   check=True, stdout=subprocess.DEVNULL)
    partial.rename(target)
    return target


OVERLAP_EVERY, JUDGE_EVERY = 10, 20  # the overlap set-up's second physician and judge


def setup_overlap(work: Path, n: int) -> Path:
    """``big`` plus overlap: on every 10th output a second physician (one of the five,
    not the first rater) answers as the first with each answer changed with chance 0.3, and
    a judge on every 20th; written through ``storage.rating_batches`` (one transaction)."""
    import random

    from medreview.storage.project import open_project
    from medreview.storage.rating_batches import BatchRating, FinishedJudgeRun, RatingBatch
    from medreview.storage.rating_batches import write_rating_batch as write
    from medreview.storage.revisions import RevisionContent
    from medreview.storage.tables import current_revisions

    target = work / f"{NAMES[n]}_overlap"
    if (target / "project.sqlite").exists():
        return target
    partial = work / f"{NAMES[n]}_overlap.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(setup(work, n), partial)
    rng = random.Random(17)
    project = open_project(partial)
    try:
        firsts = current_revisions(project, rater_kind="physician")
        names = sorted({r["rater"] for r in firsts})
        ratings = []
        for i, r in enumerate(firsts):
            kinds: tuple[tuple[int, Literal["import", "judge"]], ...] = (
                (OVERLAP_EVERY, "import"), (JUDGE_EVERY, "judge"))
            for every, source in kinds:
                if i % every:
                    continue
                answers = {k: (_changed(rng, v) if rng.random() < 0.3 else v)
                           for k, v in r["answers"].items()}
                rater = "judge: bench" if source == "judge" else rng.choice(
                    [x for x in names if x != r["rater"]])
                ratings.append(BatchRating(rater, r["case_external_id"], r["model"],
                                           RevisionContent(answers=answers, status="done",
                                                           time_on_task_s=60.0), source))
        run = FinishedJudgeRun("bench-overlap-run", "bench-model", "http://127.0.0.1",
                               "bench", 1, "0" * 64)
        write(project, RatingBatch(tuple(names), tuple(ratings), "judge: bench", run))
    finally:
        project.close()
    partial.rename(target)
    return target


def _changed(rng: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return max(1, min(5, value + rng.choice((-2, -1, 1, 2))))
    if value in ("yes", "no", "caveats"):
        return rng.choice([v for v in ("yes", "no", "caveats") if v != value])
    return value


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def raw_read(project: Path) -> dict[str, Any]:
    """(a): the judgments the commands use, read and parsed with nothing in between."""
    loads = json.loads
    wall, cpu = time.perf_counter(), time.process_time()
    con = sqlite3.connect(f"file:{project / 'project.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute(RAW_SQL).fetchall()
    finally:
        con.close()
    parsed = [(o, c, name, kind, loads(a), loads(n), conf, score, at)
              for o, c, name, kind, a, n, conf, score, at in rows]
    out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
           "rss_mb": _peak_mb(), "rows": len(parsed)}
    del parsed, rows
    return out


def run_command(name: str, project: Path) -> dict[str, Any]:
    """One command in this process, through the CLI's ``main``, its output captured."""
    import numpy  # noqa: F401  # imported before the clock: a fixed cost per process
    import pandas  # noqa: F401
    import sqlalchemy  # noqa: F401

    import medreview.services.dashboard
    import medreview.services.rater_quality
    import medreview.services.study  # noqa: F401
    from medreview.cli.main import main

    args = [a.format(dir=project) for a in COMMANDS[name]]
    buf, err = io.StringIO(), io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    out: dict[str, Any] = {"wall": time.perf_counter() - wall,
                           "cpu": time.process_time() - cpu, "rss_mb": _peak_mb(),
                           "exit": code, "stdout_chars": len(buf.getvalue())}
    if code:
        out["stderr"] = err.getvalue()[-500:]
    return out


def child(what: str, project: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (its own peak RSS)."""
    proc = subprocess.run([sys.executable, __file__, "--child", what, str(project)],
                          check=True, capture_output=True, text=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def best(what: str, project: Path, repeat: int) -> dict[str, Any]:
    """The fastest of ``repeat`` runs (wall time)."""
    runs = [child(what, project) for _ in range(max(1, repeat))]
    return min(runs, key=lambda r: float(r["wall"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/Q1"))
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per measurement")
    ap.add_argument("--only", default=",".join(COMMANDS))
    ap.add_argument("--overlap", action="store_true",
                    help="also the 100k set-up with a second physician and a judge on part")
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "PROJECT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, project = args.child[0], Path(args.child[1])
        result = raw_read(project) if what == "raw" else run_command(what, project)
        print(json.dumps(result))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    runs = [(n, setup(args.work, n)) for n in args.sizes]
    if args.overlap:
        runs.append((100_000, setup_overlap(args.work, 100_000)))
    for n, project in runs:
        load = os.getloadavg()
        print(f"\n== {n:,} outputs: {project}  (load average {load[0]:.2f} {load[1]:.2f} "
              f"{load[2]:.2f})")

        raw = best("raw", project, args.repeat)
        print(f"(a) read + parse {raw['rows']:>9,} judgments: {raw['wall']:7.2f} s wall "
              f"{raw['cpu']:7.2f} s CPU  peak {raw['rss_mb']:6.0f} MB")
        for name in args.only.split(","):
            r = best(name, project, args.repeat)
            status = "" if not r["exit"] else f"  EXIT {r['exit']}: {r.get('stderr', '')}"
            print(f"    {name:<10}: {r['wall']:7.2f} s wall {r['cpu']:7.2f} s CPU  peak "
                  f"{r['rss_mb']:6.0f} MB  ratio to (a) {r['wall'] / raw['wall']:6.1f}x"
                  f"{status}")
        print(f"    load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
