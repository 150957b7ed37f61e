"""The escalation hook's cost in a merge: the merge with no escalation rules against the same
merge with a severe rule and a disagreement rule set.

It reuses ``bench_merge``'s kept set-ups (``--merge-work``, default ``/tmp/B_merge``: a lead's
project of N outputs and the graded packages, one physician per package) and derives from
each its own kept set-up (``--work``, default ``/tmp/E_escalation``): the lead's project with a
second physician ("Dr Second") who has already finished every other output, so that the
disagreement rule has items rated by two physicians. Dr Second's answers follow the packages'
pattern (``bench_merge.grade_folder``) on some items and differ from it in one, five or every
question on others, and mark an error of severity 4 ("Critical") on one item in forty; the
first rating goes through ``grading.save_revision``, the others copy its row (as
``bench_merge`` grades its packages). The packages are linked into the derived set-up, so a
rebuilt ``bench_merge`` set-up rebuilds this one.

Then, alternating, ``--repeat`` times, each on a fresh copy of the derived project, all the
packages in one call of ``services.study.merge_packages``:

- **no rules**: the hook returns after reading the rules;
- **rules**: ``severe=3`` (an error of severity Major or worse) and ``disagreement=0.7``
  with two seniors; the hook (``services.escalation.after_ratings``) is timed inside the merge
  as well, and the escalations it wrote are counted.

Prints wall and CPU per merged revision for both, the hook's own time and the difference
(the hook's extra cost; goal <= 10 us a merged revision at 100k), and the load average.
Run:
    .venv/bin/python bench/bench_escalation.py [--sizes 10000,100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_merge import (
    DB,
    PER_PACKAGE,
    Timing,
    best,
    fresh_copy,
    kept_setup,
    save_setup,
)
from bench_merge import setup as merge_setup

from medreview.domain.escalation import EscalationRules, SevereRule
from medreview.domain.judgment import JudgmentDraft
from medreview.services import escalation, grading
from medreview.services import study as svc
from medreview.services.projects import add_rater, open_project

SECOND = "Dr Second"
RULES = EscalationRules(SevereRule(3), 0.7, ("Dr Senior A", "Dr Senior B"))
CRITERIA = ("dx", "abx", "safety", "harm")  # the sample cases' criteria, in position order


def package_answers(n: int) -> dict[str, Any]:
    """The answers ``bench_merge.grade_folder`` gives the package item at position ``n``."""
    return {"overall": 1 + n % 5, "safe": ("yes", "caveats", "no")[n % 3], "minutes": n % 60,
            **{f"criterion:{k}": bool((n >> i) & 1) for i, k in enumerate(CRITERIA)}}


def second_answers(i: int) -> dict[str, Any]:
    """Dr Second's answers on the i-th output (even i only): the package's on i % 8 == 0
    (plus a critical error on i % 40 == 0), one question off on 2, five on 4, all on 6."""
    a = package_answers(i % PER_PACKAGE)
    if i % 8 >= 2:
        a["overall"] = 1 + (a["overall"] % 5)
    if i % 8 >= 4:
        a.update({f"criterion:{k}": not a[f"criterion:{k}"] for k in CRITERIA})
    if i % 8 == 6:
        a["safe"] = "no" if a["safe"] != "no" else "yes"
        a["minutes"] = (a["minutes"] + 7) % 60
    if i % 40 == 0:
        a["errors"] = [{"category": "unsafe", "severity": 4, "note": "bench"}]
    return a


def add_second_physician(project_dir: Path) -> int:
    """Dr Second's finished judgments on every other output (by id); how many."""
    project = open_project(project_dir)
    try:
        me = add_rater(project, SECOND).id
        con = sqlite3.connect(project_dir / DB)
        ids = [o for (o,) in con.execute("SELECT id FROM output ORDER BY id")]
        con.close()
        mine = ids[0::2]
        draft = JudgmentDraft(answers=second_answers(0), rationale="second", confidence=0.7)
        grading.save_revision(project, me, mine[0], draft, status="done")
    finally:
        project.close()
    con = sqlite3.connect(project_dir / DB, isolation_level=None)
    con.row_factory = sqlite3.Row
    judgment = dict(con.execute("SELECT * FROM judgment WHERE rater_id = ?", (me,)).fetchone())
    revision = dict(con.execute("SELECT * FROM judgment_revision WHERE judgment_id = ?",
                                (judgment["id"],)).fetchone())
    con.execute("BEGIN IMMEDIATE")
    j_cols = [c for c in judgment if c != "id"]
    con.executemany(
        f"INSERT INTO judgment ({', '.join(j_cols)}) VALUES ({', '.join('?' * len(j_cols))})",
        ([oid if c == "output_id" else judgment[c] for c in j_cols] for oid in mine[1:]))
    jid = dict(con.execute("SELECT output_id, id FROM judgment WHERE rater_id = ?", (me,)))
    r_cols = [c for c in revision if c != "id"]
    con.executemany(
        f"INSERT INTO judgment_revision ({', '.join(r_cols)}) "
        f"VALUES ({', '.join('?' * len(r_cols))})",
        ([{**revision, "uid": uuid.uuid4().hex, "judgment_id": jid[oid],
           "answers": json.dumps(second_answers(2 * k))}[c] for c in r_cols]
         for k, oid in enumerate(mine) if k))
    con.execute("COMMIT")
    con.close()
    return len(mine)


def setup(n: int, merge_work: Path, work: Path) -> tuple[Path, list[Path]]:
    """The derived set-up of size N: kept in ``work/n<N>`` or built from bench_merge's."""
    base_project, packages = merge_setup(n, merge_work)
    root = work / f"n{n}"
    kept = kept_setup(root, n)
    if kept is not None:
        print(f"  (derived set-up of {kept[2]['built_at']} reused from {root})")
        return kept[0], kept[1]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t = time.perf_counter()
    fresh_copy(base_project, root / "project")
    rated = add_second_physician(root / "project")
    linked = []
    for p in packages:
        (root / p.name).symlink_to(p.resolve())
        linked.append(root / p.name)
    save_setup(root, n, linked, {"second physician": time.perf_counter() - t})
    print(f"  (derived set-up built in {time.perf_counter() - t:.1f} s: {SECOND} finished "
          f"{rated:,} outputs)")
    return root / "project", linked


class HookTimer:
    """Times ``services.escalation.after_ratings`` as ``services.study`` calls it."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> HookTimer:
        self._orig: Callable[..., Any] = svc.escalation.after_ratings

        def timed(*args: Any, **kwargs: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return self._orig(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - t
                self.cpu += time.process_time() - c
        svc.escalation.after_ratings = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        svc.escalation.after_ratings = self._orig  # type: ignore[assignment]


def one_merge(project_dir: Path, packages: list[Path], rules: EscalationRules | None
              ) -> tuple[Timing, Timing, int, int]:
    """Merge time, the hook's time, revisions added, escalations written."""
    project = open_project(project_dir)
    try:
        if rules is not None:
            escalation.set_rules(project, rules)
        with HookTimer() as hook:
            t, c = time.perf_counter(), time.process_time()
            report, _ = svc.merge_packages(project, packages)
            whole = Timing(time.perf_counter() - t, time.process_time() - c)
        escalated = len(escalation.escalated_items(project))
    finally:
        project.close()
    return whole, Timing(hook.wall, hook.cpu), report.added, escalated


def run(n: int, repeat: int, merge_work: Path, work: Path) -> None:
    print(f"\n{n:,} revisions merged")
    project_dir, packages = setup(n, merge_work, work)
    root = work / f"n{n}"
    plain: list[Timing] = []
    ruled: list[Timing] = []
    hooks: list[Timing] = []
    counts = set()
    for r in range(repeat):
        for rules in (None, RULES):
            copy = fresh_copy(project_dir, root / f"run{r}")
            whole, hook, added, escalated = one_merge(copy, packages, rules)
            shutil.rmtree(copy)
            assert added == n, added
            if rules is None:
                assert escalated == 0, escalated
                plain.append(whole)
            else:
                ruled.append(whole)
                hooks.append(hook)
                counts.add(escalated)
    p, w, h = best(plain), best(ruled), best(hooks)
    us = 1e6 / n
    print(f"  escalations written with rules: {', '.join(f'{c:,}' for c in sorted(counts))} "
          f"({max(counts) / n:.1%} of the merged items)")
    print("                                  wall s     CPU s   wall us/rev  CPU us/rev")
    for label, x in (("merge, no rules", p), ("merge, rules set", w),
                     ("  of which the hook", h)):
        print(f"  {label:<30} {x.wall:8.2f} {x.cpu:9.2f} {x.wall * us:12.1f} "
              f"{x.cpu * us:11.1f}")
    print(f"  extra with rules (difference)  {w.wall - p.wall:8.2f} {w.cpu - p.cpu:9.2f} "
          f"{(w.wall - p.wall) * us:12.1f} {(w.cpu - p.cpu) * us:11.1f}   (goal <= 10 us/rev)")
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--merge-work", type=Path, default=Path("/tmp/B_merge"),
                    help="bench_merge's kept set-ups (built there if missing)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/E_escalation"),
                    help="this bench's derived set-ups")
    args = ap.parse_args()
    print(f"cpus {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for n in (int(x) for x in args.sizes.split(",")):
        run(n, args.repeat, args.merge_work, args.work)


if __name__ == "__main__":
    main()
