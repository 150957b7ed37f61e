"""The fixed cost of every command (issue #17): opening a project and starting the CLI.

Timed, each in a fresh child process, alternating so both sides see the same load:

(o) ``open_project(DIR).close()`` in a child that imported everything first: with an empty
    user cache folder ("scan": ``PRAGMA quick_check`` over the whole file, as every open did
    before the integrity cache) and with a cache that remembers the file ("hit");
(c) ``medreview stats DIR --no-ci`` end to end (``--stats``), scan and hit;
(v) ``medreview --version`` and ``medreview stats --help``: start-up alone.

``--before TREE`` (a ``git archive`` of an older commit) times (o), (c) and (v) on that code too,
in the same alternation (its opens always scan). Children run outside the checkout with
``PYTHONPATH`` set to the code they time.

The projects are only read (SQLite's own locks, an empty ``-wal`` it removes on close). A
file modified less than 3 s ago is never remembered (``storage/integrity_cache.RACY_NS``): run
on a settled project. Printed: wall (and for (c) CPU) seconds per run, medians, the load.

Usage: .venv/bin/python bench/bench_open.py DIR [DIR ...] [--runs 3] [--stats] [--before TREE]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPEN_CHILD = """
import sys, time
import medreview.services.projects  # everything an open needs, before the clock
from medreview.storage.project import open_project
t = time.perf_counter()
open_project(sys.argv[1]).close()
print(time.perf_counter() - t)
"""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


HERE = Path(__file__).resolve().parents[1]


def _child(args: list[str], home: Path, tree: Path = HERE) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one child process running the code in ``tree``."""
    env = {**os.environ, "MEDREVIEW_HOME": str(home), "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False,
                          cwd=home.parent)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}: {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f}"


def _sides(before: Path | None, work: Path) -> list[tuple[str, Path, Path | None]]:
    """(label, code tree, user home or None for a fresh one per run)."""
    sides: list[tuple[str, Path, Path | None]] = [("scan", HERE, None), ("hit", HERE,
                                                                          work / "warm")]
    if before is not None:
        sides.insert(0, ("before", before, None))
    return sides


def bench_project(project: Path, runs: int, with_stats: bool, work: Path,
                  before: Path | None) -> None:
    sides = _sides(before, work)
    _child([sys.executable, "-c", OPEN_CHILD, str(project)], work / "warm")  # remembers it
    opens: dict[str, list[float]] = {label: [] for label, _, _ in sides}
    cmds: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in sides}
    for i in range(runs):
        for label, tree, home in sides:
            out = _child([sys.executable, "-c", OPEN_CHILD, str(project)],
                         home or work / f"open-{label}-{i}", tree)[2]
            opens[label].append(float(out))
            print(f"  {project.name} open_project {label}: {opens[label][-1]:.3f} s", flush=True)
    for i in range(runs if with_stats else 0):
        for label, tree, home in sides:
            wall, cpu, _ = _child([sys.executable, "-m", "medreview.cli.main", "stats",
                                   str(project), "--no-ci"],
                                  home or work / f"stats-{label}-{i}", tree)
            cmds[label].append((wall, cpu))
            print(f"  {project.name} stats --no-ci {label}: {wall:.2f} s wall, {cpu:.2f} s CPU "
                  f"(load {_load()})", flush=True)
    for label, _, _ in sides:
        line = f"{project}: {label}: open_project median {_median(opens[label])} s"
        if with_stats:
            line += (f"; stats --no-ci median {_median([w for w, _ in cmds[label]])} s wall, "
                     f"{_median([c for _, c in cmds[label]])} s CPU")
        print(line, flush=True)


def bench_start(runs: int, work: Path, before: Path | None) -> None:
    trees = [("before", before), ("now", HERE)] if before is not None else [("now", HERE)]
    for args in (["--version"], ["stats", "--help"]):
        walls: dict[str, list[float]] = {label: [] for label, _ in trees}
        for _ in range(runs):
            for label, tree in trees:
                assert tree is not None
                walls[label].append(_child([sys.executable, "-m", "medreview.cli.main", *args],
                                           work / "start", tree)[0])
        for label, _ in trees:
            print(f"medreview {' '.join(args)} ({label}): median {_median(walls[label])} s wall "
                  f"({', '.join(f'{w:.3f}' for w in walls[label])})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stats", action="store_true", help="also time stats --no-ci")
    parser.add_argument("--before", type=Path, help="an older tree (git archive) to time too")
    args = parser.parse_args()
    print(f"load before: {_load()}")
    with tempfile.TemporaryDirectory(prefix="bench-open-") as tmp:
        bench_start(args.runs, Path(tmp), args.before)
        for project in args.projects:
            bench_project(project.resolve(), args.runs, args.stats, Path(tmp), args.before)
    print(f"load after: {_load()}")


if __name__ == "__main__":
    main()
