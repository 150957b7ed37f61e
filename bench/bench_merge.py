"""Merge speed: ``medreview``'s merge of graded rater packages against raw sqlite3 executemany.

For each size N (10k and 100k revisions; 1M with ``--full``) a project of N outputs (N/2 cases
x 2 models, the sample rubric with per-case criteria) is built through the real services; the
outputs are assigned in slices of 25,000 to physicians (storage's assignment writer; the
planner is quadratic in a rater's items), and each physician's package is built, all its items
are graded inside it and it is sealed (the first item through ``grading.save_revision``, as the
app's save does; the others copy that row's shape with varied answers straight into the
package database, since grading 1M items one by one would take the bench an hour). A package
holds at most 25,000 items because its manifest lists every item and a manifest over 8 MB
(about 80,000 items) is refused as a bomb. Then, in one run, each on its own copy of the
project, all the packages at once:

- **merge**: ``services.study.merge_packages`` (the real path: zip checksums, seal, every
  revision's checks, scoring, the writes in one transaction). From ``MIN_BYTES`` of packages
  up (about 5,000 revisions) the merge runs on two cores (``study.merge_pipeline``: a worker
  process reads, checks and scores chunk k+1 while this process writes chunk k), so its CPU
  time (this process and the worker) exceeds its wall time; the goal is the rate, i.e. wall
  time, against the single-threaded raw baseline. The app takes two cores only if the load
  average leaves one free; ``--path single`` or ``--path pipelined`` forces either. Its
  writes are timed too (``apply_packages``, or the pipeline's ``apply_chunk`` calls: this
  process's share, the worker's checks and scoring excluded);
- **baseline**: plain ``sqlite3``: extract each package database from its zip, read its
  revision rows, map the package's tokens to this project's outputs (the issue record) and
  ``executemany`` the same judgment and revision rows (a constant for the score) into
  the project's database, in one transaction (WAL, ``synchronous=FULL``, foreign keys on).

Prints wall and CPU time of each (the machine is shared: CPU time is what the process itself
spent), the ratios (baseline time / merge time; goal >= 0.5), the CPU time per revision
(linear growth means a flat time per revision) and the load average. A re-merge of
the same packages (idempotent: nothing added) is timed as well.
Run:
    .venv/bin/python bench/bench_merge.py [--full] [--repeat 3] [--sizes 10000,100000]
        [--work DIR] [--setup-only] [--path app|single|pipelined]

``--work DIR`` keeps each size's set-up in ``DIR/n<N>`` (the lead's project and the graded
packages, with ``setup.json`` written last) and reuses it on later runs, ``--full`` included:
the 1M set-up is built once (7.5 minutes of CPU, 9.7 minutes of wall time on this shared
2-core machine at load 1.6-3.4) and the merge re-measured at will.
A set-up is reused only if its ``setup.json`` is there and every file it lists has the size
and time recorded after the build; otherwise it is built again. Each merge and each baseline
run works on its own fresh copy of the lead's project, never on the kept one.
``--setup-only`` builds (or checks) the set-ups and stops, so that the measurement can run in
a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medreview.domain.judgment import JudgmentDraft
from medreview.services import grading
from medreview.services import study as svc
from medreview.services.projects import list_raters, open_project
from medreview.services.sample_project import build_sample_project
from medreview.storage.assignments import NewAssignment, output_infos, write_assignment
from medreview.storage.merging import _MERGE_CACHE_KIB

# Items per package: a package's manifest lists each item, and a manifest over 8 MB (about
# 80k items) is refused as a bomb (study/package_zip.MAX_MANIFEST_BYTES).
PER_PACKAGE = 25_000
DB = "project.sqlite"
SETUP = "setup.json"  # written last: a set-up without it was interrupted and is built again


def grade_folder(folder: Path) -> int:
    """Grade every item of the unpacked package: one through the core API, the rest copied."""
    project = open_project(folder)
    try:
        (me,) = [r for r in list_raters(project) if r.kind == "physician"]
        rows = grading.load_queue(project, me.id)
        draft = JudgmentDraft(answers={"overall": 3, "safe": "yes", "minutes": 5},
                              rationale="bench", confidence=0.8)
        grading.save_revision(project, me.id, rows[0].output_id, draft, status="done")
        rest = [r.output_id for r in rows[1:]]
    finally:
        project.close()
    con = sqlite3.connect(folder / DB, isolation_level=None)
    con.row_factory = sqlite3.Row
    judgment = dict(con.execute("SELECT * FROM judgment").fetchone())
    revision = dict(con.execute("SELECT * FROM judgment_revision").fetchone())
    criteria = [k for (k,) in con.execute(
        "SELECT c.key FROM case_criterion c JOIN output o ON o.case_id = c.case_id "
        "WHERE o.id = ? ORDER BY c.position", (rows[0].output_id,))]
    con.execute("BEGIN IMMEDIATE")
    j_cols = [c for c in judgment if c != "id"]
    con.executemany(
        f"INSERT INTO judgment ({', '.join(j_cols)}) VALUES ({', '.join('?' * len(j_cols))})",
        ([oid if c == "output_id" else judgment[c] for c in j_cols] for oid in rest))
    ids = dict(con.execute("SELECT output_id, id FROM judgment"))
    r_cols = [c for c in revision if c != "id"]

    def rev(n: int, oid: int) -> list[Any]:
        answers = {"overall": 1 + n % 5, "safe": ("yes", "caveats", "no")[n % 3],
                   "minutes": n % 60, **{f"criterion:{k}": bool((n >> i) & 1)
                                         for i, k in enumerate(criteria)}}
        values = {**revision, "uid": uuid.uuid4().hex, "judgment_id": ids[oid],
                  "answers": json.dumps(answers), "rationale": f"bench {n}"}
        return [values[c] for c in r_cols]
    con.executemany(
        f"INSERT INTO judgment_revision ({', '.join(r_cols)}) "
        f"VALUES ({', '.join('?' * len(r_cols))})",
        (rev(n, oid) for n, oid in enumerate(rest, start=1)))
    con.execute("COMMIT")
    con.close()
    return len(rows)


class Steps:
    """Wall seconds per set-up step, summed over the packages."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(("project", "assign", "build", "unpack", "grade", "seal"),
                                     0.0)

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] += time.perf_counter() - t


def build(root: Path, n: int) -> tuple[Path, list[Path], dict[str, float]]:
    """The lead's project (closed) and the graded packages of its N outputs; seconds per step."""
    step = Steps()
    with step("project"):
        project, _lead = build_sample_project(root / "project", n_cases=n // 2,
                                              outputs_per_case=2, with_dicom=False,
                                              rater="Dr Lead")
    # Each physician gets a slice of PER_PACKAGE outputs, written by storage's assignment
    # writer: the planner (study.assign) spreads a rater's items in quadratic time.
    raters = [f"Dr {i + 1:02d}" for i in range(-(-n // PER_PACKAGE))]
    with step("assign"):
        ids = [o.output_id for o in output_infos(project)]
        write_assignment(project, raters, lambda _state: [
            NewAssignment(raters[i // PER_PACKAGE], oid, i % PER_PACKAGE,
                          f"Response {'AB'[i % 2]}") for i, oid in enumerate(ids)],
            seed=1, design_record={"bench": "merge"})

    sealed = []
    for k, rater in enumerate(raters):
        with step("build"):
            out = svc.build_package(project, rater, root / f"p{k}.mrpkg").path
        with step("unpack"):
            folder = svc.unpack_package(out, root / f"work{k}")
        with step("grade"):
            graded = grade_folder(folder)
        assert graded == min(PER_PACKAGE, n - k * PER_PACKAGE), graded
        with step("seal"):
            sealed.append(svc.seal_package(folder, root / f"p{k}-graded.mrpkg").path)
        shutil.rmtree(folder)
        out.unlink()  # the outbound package: the merge reads the sealed one
    project.close()
    return root / "project", sealed, step.seconds


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _kept_files(root: Path) -> list[Path]:
    return [p for p in sorted((root / "project").rglob("*")) if p.is_file()]


def save_setup(root: Path, n: int, packages: list[Path], steps: dict[str, float]) -> None:
    files = _kept_files(root) + packages
    info = {"n": n, "packages": [p.name for p in packages], "steps_s": steps,
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "files": {p.relative_to(root).as_posix(): _stamp(p) for p in files}}
    (root / SETUP).write_text(json.dumps(info, indent=1))


def kept_setup(root: Path, n: int) -> tuple[Path, list[Path], dict[str, Any]] | None:
    """The set-up kept in ``root`` if it is complete and unchanged since it was built."""
    try:
        info = json.loads((root / SETUP).read_text())
        files = {p.relative_to(root).as_posix(): _stamp(p) for p in _kept_files(root)}
        files.update({name: _stamp(root / name) for name in info["packages"]})
    except (OSError, ValueError, KeyError):
        return None
    if info.get("n") != n or files != info.get("files"):
        print(f"  (the set-up in {root} is incomplete or was changed: building it again)")
        return None
    return root / "project", [root / name for name in info["packages"]], info


def fresh_copy(project_dir: Path, dest: Path) -> Path:
    """A copy of the kept project for one run (the kept one is never opened)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(project_dir, dest)
    return dest


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_raw(package: Path, work: Path) -> tuple[str, dict[int, str], dict[int, Any],
                                                 list[tuple[Any, ...]]]:
    with zipfile.ZipFile(package) as z:
        (member,) = [m for m in z.namelist() if m.endswith("/" + DB)]
        with z.open(member) as src, (work / "pkg.sqlite").open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    pkg = sqlite3.connect(work / "pkg.sqlite")
    settings = json.loads(pkg.execute("SELECT settings FROM project").fetchone()[0])
    token_of = dict(pkg.execute("SELECT id, external_id FROM output"))
    forms = {fid: (key, version) for fid, key, version in
             pkg.execute("SELECT id, key, version FROM form")}
    revs = pkg.execute(
        "SELECT r.uid, j.output_id, r.revision_no, r.form_id, r.taxonomy_id, r.answers, "
        "r.annotations, r.rationale, r.confidence, r.time_on_task_s, r.flagged, r.skipped, "
        "r.status, r.author, r.created_at FROM judgment_revision r "
        "JOIN judgment j ON j.id = r.judgment_id ORDER BY j.output_id, r.revision_no"
    ).fetchall()
    pkg.close()
    (work / "pkg.sqlite").unlink()
    return settings["package"]["package_uid"], token_of, forms, revs


def raw_baseline(project_dir: Path, packages: list[Path], work: Path) -> int:
    """Extract, read and insert the packages' judgments and revisions with plain sqlite3."""
    read = [_read_raw(p, work) for p in packages]
    con = sqlite3.connect(project_dir / DB, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    # The same page cache the merge's write transaction takes (storage.merging), so the
    # ratio compares the work done, not the cache sizes.
    con.execute(f"PRAGMA cache_size = {-_MERGE_CACHE_KIB}")
    con.execute("BEGIN IMMEDIATE")
    form_id = {(k, v): i for i, k, v in con.execute("SELECT id, key, version FROM form")}
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    for package_uid, token_of, forms, revs in read:
        rater_id, issued = con.execute(
            "SELECT rater_id, outputs FROM issued_package WHERE uid = ?",
            (package_uid,)).fetchone()
        ours = {t: int(v["output_id"]) for t, v in json.loads(issued).items()}
        outputs = sorted({ours[token_of[r[1]]] for r in revs})
        con.executemany("INSERT INTO judgment (rater_id, output_id, status, flagged, "
                        "current_revision_no, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                        ((rater_id, oid, "done", 0, 1, now, now) for oid in outputs))
        jid = dict(con.execute("SELECT output_id, id FROM judgment WHERE rater_id = ?",
                               (rater_id,)))

        def row(r: tuple[Any, ...], jid: dict[int, int] = jid, ours: dict[str, int] = ours,
                token_of: dict[int, str] = token_of, forms: dict[int, Any] = forms
                ) -> tuple[Any, ...]:
            uid, out, no, form, tax, answers, ann, rat, conf, tot, fl, sk, st, au, created = r
            score = 0.5  # a constant where the merge stores its computed score
            return (uid, jid[ours[token_of[out]]], no, form_id[forms[form]],
                    form_id[forms[tax]] if tax else None, answers, ann, rat, conf, score, tot,
                    fl, sk, st, au, "merge", created)
        con.executemany(
            "INSERT INTO judgment_revision (uid, judgment_id, revision_no, form_id, "
            "taxonomy_id, answers, annotations, rationale, confidence, overall_score, "
            "time_on_task_s, flagged, skipped, status, author, source, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (row(r) for r in revs))
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM judgment_revision WHERE source = 'merge'").fetchone()[0]
    con.close()
    return int(n)


_APPLY = "apply_packages"  # storage.merging's, as study.merge calls it


class _StorageTimer:
    """Times the real merge's writes (wall and CPU of this process): the single-process
    merge's ``storage.merging.apply_packages``, the pipelined merge's ``apply_chunk`` calls
    (``storage.merge_stream``: each chunk's re-check, numbering and inserts)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self._undo: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> _StorageTimer:
        import medreview.study.merge as merge
        import medreview.study.merge_pipeline as pipeline

        for module, name in ((merge, _APPLY), (pipeline, "apply_chunk")):
            orig = vars(module)[name]
            self._undo.append((module, name, orig))
            setattr(module, name, self._timed(orig))
        return self

    def _timed(self, orig: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return orig(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t
                self.cpu += time.process_time() - c
        return timed

    def __exit__(self, *exc: object) -> None:
        for module, name, orig in self._undo:
            setattr(module, name, orig)


@dataclass
class Timing:
    wall: float
    cpu: float


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the merge's worker process:
    it is joined before the merge returns)."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


PATHS = ("app", "single", "pipelined")


@contextmanager
def _path(path: str) -> Iterator[None]:
    """The merge's own choice ("app": two cores from ``MIN_BYTES`` up if the load average
    leaves a core free), the single-process merge, or the pipelined one whatever the load."""
    import medreview.study.merge_pipeline as pipeline

    before = pipeline.MIN_BYTES, pipeline.spare_core
    if path == "single":
        pipeline.MIN_BYTES = 1 << 62
    elif path == "pipelined":
        pipeline.spare_core = lambda: True
    try:
        yield
    finally:
        pipeline.MIN_BYTES, pipeline.spare_core = before


def merge(project_dir: Path, packages: list[Path], path: str = "app"
          ) -> tuple[Timing, Timing, int, Timing, int]:
    """Merge time (CPU: this process and the worker), its storage part (this process), revisions
    added; then the same for a re-merge."""
    project = open_project(project_dir)
    try:
        with _StorageTimer() as st, _path(path):
            t, c = time.perf_counter(), _cpu()
            report, _ = svc.merge_packages(project, packages)
            first = Timing(time.perf_counter() - t, _cpu() - c)
        with _path(path):
            t, c = time.perf_counter(), _cpu()
            again, _ = svc.merge_packages(project, packages)
            re_merge = Timing(time.perf_counter() - t, _cpu() - c)
    finally:
        project.close()
    return first, Timing(st.seconds, st.cpu), report.added, re_merge, again.added


def best(values: list[Timing]) -> Timing:
    return Timing(min(v.wall for v in values), min(v.cpu for v in values))


def setup(n: int, work: Path) -> tuple[Path, list[Path]]:
    """The size's set-up: the one kept in ``work`` if any, else built (and kept) there."""
    root = work / f"n{n}"
    kept = kept_setup(root, n)
    if kept is not None:
        project_dir, packages, info = kept
        print(f"\n{n:,} revisions (set-up of {info['built_at']} reused from {root}; built in "
              f"{sum(info['steps_s'].values()):.1f} s)")
        return project_dir, packages
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t = time.perf_counter()
    project_dir, packages, steps = build(root, n)
    wall = time.perf_counter() - t
    save_setup(root, n, packages, steps)
    print(f"\n{n:,} revisions (set-up {wall:.1f} s: "
          + ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
          + f"; {len(packages)} packages; peak RSS {peak_rss_mb():,.0f} MB; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return project_dir, packages


def run(n: int, repeat: int, work: Path,
        profile: Callable[[Path, list[Path]], None] | None, path: str = "app") -> None:
    root = work / f"n{n}"
    project_dir, packages = setup(n, work)
    if profile is not None:
        profile(fresh_copy(project_dir, root / "profiled"), packages)
        return
    ours: list[Timing] = []
    storage: list[Timing] = []
    raw: list[Timing] = []
    again: list[Timing] = []
    for r in range(repeat):
        copy = fresh_copy(project_dir, root / f"m{r}")
        first, st, added, re_merge, re_added = merge(copy, packages, path)
        assert added == n and re_added == 0, (added, re_added)
        ours.append(first)
        storage.append(st)
        again.append(re_merge)
        shutil.rmtree(copy)
        base = fresh_copy(project_dir, root / f"b{r}")
        t, c = time.perf_counter(), time.process_time()
        rows = raw_baseline(base, packages, root)
        raw.append(Timing(time.perf_counter() - t, time.process_time() - c))
        assert rows == n, rows
        shutil.rmtree(base)
    o, s, b, a = best(ours), best(storage), best(raw), best(again)
    import medreview.study.merge_pipeline as pipeline

    kind = {"app": "as the app chooses (two cores if the load average leaves one free: "
                   f"{'yes' if pipeline.spare_core() else 'no'} now)",
            "single": "single-process", "pipelined": "pipelined (two cores)"}[path]
    print(f"  merge path: {kind}; merge CPU = this process + its worker process (two cores:"
          " CPU can exceed wall); the goal is the wall-time rate")
    print("                                   wall s      CPU s     rev/s (wall)  us/rev (CPU)")
    for label, x in (("merge (medreview, all checks)", o), ("  of which storage (writes)", s),
                     ("raw sqlite3 executemany", b), ("re-merge (nothing to add)", a)):
        print(f"  {label:<31} {x.wall:8.2f} {x.cpu:10.2f} {n / x.wall:14,.0f} "
              f"{x.cpu / n * 1e6:12.1f}")
    print(f"  ratio raw / merge     wall {b.wall / o.wall:5.2f}  CPU {b.cpu / o.cpu:5.2f}"
          "   (goal >= 0.5)")
    print(f"  ratio raw / storage   wall {b.wall / s.wall:5.2f}  CPU {b.cpu / s.cpu:5.2f}")
    print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"peak RSS {peak_rss_mb():,.0f} MB")


def cprofile(project_dir: Path, packages: list[Path]) -> None:
    import cProfile
    import pstats

    project = open_project(project_dir)
    prof = cProfile.Profile()
    prof.enable()
    svc.merge_packages(project, packages)
    prof.disable()
    project.close()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="also 1,000,000 revisions")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--profile", action="store_true", help="cProfile one merge per size")
    ap.add_argument("--work", type=Path, help="keep (and reuse) projects and packages here")
    ap.add_argument("--path", choices=PATHS, default="app",
                    help="the merge's own choice, or force the single-process or the pipelined "
                         "merge")
    ap.add_argument("--setup-only", action="store_true",
                    help="build (or check) the set-ups in --work and stop")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")] + ([1_000_000] if args.full else [])
    print(f"cpus {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.setup_only and args.work is None:
        ap.error("--setup-only keeps the set-ups: give --work")
    with tempfile.TemporaryDirectory(prefix="medreview-bench-merge-") as tmp:
        for n in sizes:
            if args.setup_only:
                setup(n, args.work)
            else:
                run(n, args.repeat, args.work or Path(tmp),
                    cprofile if args.profile else None, args.path)


if __name__ == "__main__":
    main()
