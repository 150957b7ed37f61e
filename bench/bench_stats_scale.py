"""Project statistics at scale against the time to read and parse the judgments they use
(issue #17, item 2: ``stats --no-ci`` within 3x of reading + parsing, 95 % CIs at 1M under 30 s,
memory under 2 GB at 1M).

A project of N judgments (the shape of ``bench/bench_project_stats.py``: N/3.55 outputs, three
physicians with 15 % missing and one LLM judge with confidences; per judgment an ordinal
``overall``, a ``safe`` criterion, a numeric ``score`` and five per-case criteria) is written once
to an SQLite file under the temporary folder (cached by N and seed; one row per judgment, its
answers as JSON, as the project database stores them). Timed, in one process:

(a) **read + parse**: ``sqlite3`` reads every judgment row and ``json.loads`` its answers;
(l) the long ratings table (one row per answer: ``storage.tables.ratings_long``'s columns)
    read again in batches and built by ``storage.ratings_read.LongColumns`` as the reader
    does (after (a)'s rows are freed): the command reads its judgments too, so it is part of
    the goal;
(b) ``project_stats(ratings, questions, ci=False, codes=...)`` (what ``medreview stats --no-ci``
    computes; with the answers' codes the reader makes, as the app passes them);
(c) the same with 95 % CIs (1,000 resamples), unless ``--no-ci-run``;

and prints **the goal (l+b)/a** (the command: reading its table and the statistics), b/a
(the statistics alone) and c, each stage the minimum over ``--repeat`` runs, with the
process's peak RSS during each stage (Linux: VmHWM, reset before the stage; it includes what
earlier stages left in memory, such as the ratings table). (c) at 1M is run once. The
modules (l) and (b) use (pandas, the reader, the statistics) are imported once before any
stage and that time is printed apart as (i): a fixed cost per process, whatever N, as the
interpreter's start is (neither is part of (a) either).

Usage: .venv/bin/python bench/bench_stats_scale.py [--sizes 100000 1000000] [--repeat 3]
       [--no-ci-run] [--profile FILE] [--no-pyarrow]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# As the app runs: the test venv has pyarrow (a test-only oracle), so pandas would hold text
# as Arrow strings; the shipped app has none (python-backed strings). Before pandas loads.
if "--no-pyarrow" in sys.argv:
    sys.modules["pyarrow"] = None  # type: ignore[assignment]

from medreview.domain.rubric import Option, Question, QuestionKind, case_criterion_question

RATERS = (("Dr A", "physician"), ("Dr B", "physician"), ("Dr C", "physician"),
          ("judge: bench", "judge"))
MODELS = ("model-1", "model-2", "model-3")
CRITERIA = 5
JUDGMENTS_PER_OUTPUT = 3.55  # 3 x 0.85 physicians + 1 judge


def db_path(n: int, seed: int) -> Path:
    return Path(tempfile.gettempdir()) / f"medreview-bench-stats-{n}-{seed}.sqlite"


def generate(n: int, seed: int) -> Path:
    """The judgments' SQLite file (made once per N and seed)."""
    path = db_path(n, seed)
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    n_out = round(n / JUDGMENTS_PER_OUTPUT)
    truth = rng.normal(0.0, 1.0, n_out)
    crit_truth = rng.random((n_out, CRITERIA)) < (0.5 + 0.2 * np.tanh(truth))[:, None]
    present = np.ones((n_out, len(RATERS)), dtype=bool)
    present[:, :3] = rng.random((n_out, 3)) >= 0.15
    o_idx, r_idx = np.nonzero(present)
    noise = rng.normal(0.0, 0.6, o_idx.size)
    overall = np.clip(np.round(3 + truth[o_idx] + noise), 1, 5).astype(int)
    safe = truth[o_idx] + noise > -0.8
    met = crit_truth[o_idx] ^ (rng.random((o_idx.size, CRITERIA)) < 0.12)
    score = met.mean(axis=1)
    conf = np.where(r_idx == 3, rng.uniform(0.5, 1.0, o_idx.size), np.nan)
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.execute("CREATE TABLE judgment (id INTEGER PRIMARY KEY, output_id INTEGER, "
                "case_id INTEGER, model TEXT, rater TEXT, rater_kind TEXT, confidence REAL, "
                "answers TEXT)")
    rows = []
    tf = ("false", "true")
    for i, (o, r) in enumerate(zip(o_idx.tolist(), r_idx.tolist(), strict=True)):
        case = o // len(MODELS)
        crit = ", ".join(f'"criterion:c{case}-{k}": {tf[m]}'
                         for k, m in enumerate(met[i].tolist()))
        answers = (f'{{"overall": {overall[i]}, "safe": {tf[int(safe[i])]}, {crit}, '
                   f'"score": {float(score[i])!r}}}')
        c = float(conf[i])
        rows.append((o, case, MODELS[o % len(MODELS)], RATERS[r][0], RATERS[r][1],
                     None if c != c else c, answers))
    con.executemany("INSERT INTO judgment (output_id, case_id, model, rater, rater_kind, "
                    "confidence, answers) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    tmp.rename(path)
    return path


def read_parse(path: Path) -> list[tuple[Any, ...]]:
    """(a): every judgment row with its answers parsed."""
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT output_id, case_id, model, rater, rater_kind, confidence, "
                           "answers FROM judgment ORDER BY id").fetchall()
    finally:
        con.close()
    loads = json.loads
    return [(*r[:6], loads(r[6])) for r in rows]


def long_table(path: Path, batch: int = 20_000) -> tuple[Any, Any]:
    """The long ratings table (``ratings_long``'s statistics columns), read from the file the
    way ``storage.ratings_read`` reads a project: rows fetched in batches, answers parsed and
    handed to its ``LongColumns`` one judgment at a time (float and str answers shared by
    value: one object per answer pinned the freed parse memory around it; per-judgment
    columns repeated per answer as typed arrays). Returns the table and its answers' codes
    (``stats.answer_codes``; None for a tree without them). Older trees without
    ``LongColumns``: as they read."""
    import pandas as pd

    try:
        from medreview.storage.ratings_read import LongColumns
    except ImportError:  # the tree of an older commit (the "before" figures): as it read
        pass
    else:
        return _long_columns(path, LongColumns, batch)
    try:
        from medreview.storage.ratings_read import SharedValues
        share = SharedValues().share
    except ImportError:  # the tree of an older commit (the "before" figures): as it read
        def share(answers: dict[str, Any]) -> None:
            return None

    per_judgment: dict[str, list[Any]] = {k: [] for k in (
        "output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
        "confidence")}
    out_c, case_c, ext_c, model_c, rater_c, kind_c, conf_c = per_judgment.values()
    qid_c: list[Any] = []
    value_c: list[Any] = []
    counts: list[int] = []
    loads = json.loads
    con = sqlite3.connect(path)
    try:
        cur = con.execute("SELECT output_id, case_id, model, rater, rater_kind, confidence, "
                          "answers FROM judgment ORDER BY id")
        while rows := cur.fetchmany(batch):
            for o, case, model, rater, kind, conf, text in rows:
                answers = loads(text)
                share(answers)
                counts.append(len(answers))
                out_c.append(o)
                case_c.append(case)
                ext_c.append(f"case-{case}")
                model_c.append(model)
                rater_c.append(rater)
                kind_c.append(kind)
                conf_c.append(float("nan") if conf is None else conf)
                qid_c += answers.keys()
                value_c += answers.values()
    finally:
        con.close()
    reps = np.asarray(counts, dtype=np.intp)  # one value per judgment, repeated per answer
    data: dict[str, Any] = {k: pd.Series(v).repeat(reps).array for k, v in per_judgment.items()}
    data.update(question_id=qid_c, value=value_c)
    return pd.DataFrame(data, columns=["output_id", "case_id", "case_external_id", "model",
                                       "rater", "rater_kind", "question_id", "value",
                                       "confidence"]), None


def _long_columns(path: Path, builder: Any, batch: int) -> tuple[Any, Any]:
    """``long_table`` through ``storage.ratings_read.LongColumns``, the reader's own
    builder (question ids as codes, text columns categoricals, answers' codes where the
    tree has them)."""
    cols = builder(["output_id", "case_id", "case_external_id", "model", "rater",
                    "rater_kind"])
    loads = json.loads
    con = sqlite3.connect(path)
    try:
        cur = con.execute("SELECT output_id, case_id, model, rater, rater_kind, confidence, "
                          "answers FROM judgment ORDER BY id")
        while rows := cur.fetchmany(batch):
            for o, case, model, rater, kind, conf, text in rows:
                cols.add((o, case, f"case-{case}", model, rater, kind), loads(text), conf)
    finally:
        con.close()
    names = ["output_id", "case_id", "case_external_id", "model", "rater", "rater_kind",
             "question_id", "value", "confidence"]
    if hasattr(cols, "frame_and_codes"):
        return tuple(cols.frame_and_codes(names))
    return cols.frame(names), None


def questions_of(n: int) -> dict[str, Question]:
    n_out = round(n / JUDGMENTS_PER_OUTPUT)
    qs: dict[str, Question] = {
        "overall": Question("overall", QuestionKind.ORDINAL, "Overall quality",
                            options=tuple(Option(v, str(v)) for v in range(1, 6))),
        "safe": Question("safe", QuestionKind.CRITERION, "Safe?"),
        "score": Question("score", QuestionKind.NUMBER, "Rubric score"),
    }
    for case in range((n_out + len(MODELS) - 1) // len(MODELS)):
        for k in range(CRITERIA):
            cid = f"c{case}-{k}"
            qs[f"criterion:{cid}"] = case_criterion_question(cid, "criterion", 4)
    return qs


def rss_mb() -> float:
    """The process's resident memory now (Linux: VmRSS), else 0."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_mb() -> float:
    """The process's peak RSS since the last ``reset_peak`` (Linux: VmHWM), else since start."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start a new peak-RSS window (Linux ``clear_refs`` 5), so each stage shows its own."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(min wall, CPU of that run, last result)."""
    runs, out = [], None
    for _ in range(repeat):
        out = None  # free the last result before the next run
        reset_peak()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(runs)
    return wall, cpu, out


def imports() -> float:
    """(i): import what (l) and (b) use, once per process; its time."""
    t = time.perf_counter()
    import pandas  # noqa: F401  (the reader and the statistics import it when first used)

    import medreview.stats.answer_codes
    import medreview.stats.project
    import medreview.storage.ratings_read  # noqa: F401
    return time.perf_counter() - t


def run(n: int, seed: int, repeat: int, ci_run: bool, profile: str | None, ti: float) -> None:
    from medreview.stats.project import project_stats

    t = time.perf_counter()
    path = generate(n, seed)
    print(f"\n{n:,} judgments ({path}, {path.stat().st_size / 1e6:.0f} MB; "
          f"ready in {time.perf_counter() - t:.1f} s), load {os.getloadavg()[0]:.1f}")
    ta, ca, parsed = best(lambda: read_parse(path), repeat)
    print(f"(a) read + parse       {ta:8.2f} s  (CPU {ca:6.2f})   peak RSS {peak_mb():7.0f} MB")
    del parsed  # (b) is measured on the table alone, as the app holds it
    tl, cl, (ratings, codes) = best(lambda: long_table(path), repeat)
    # (the app's ``medreview stats`` and dashboard pass the codes too: services.dashboard)
    kw: dict[str, Any] = {"codes": codes} if codes is not None else {}
    qs = questions_of(n)
    print(f"(l) long table         {tl:8.2f} s  (CPU {cl:6.2f})   peak RSS {peak_mb():7.0f} MB"
          f"   [{len(ratings):,} answers, {len(qs):,} questions]")
    if profile:
        import cProfile

        cProfile.runctx("project_stats(ratings, qs, ci=False, **kw)", globals(),
                        {"project_stats": project_stats, "ratings": ratings, "qs": qs,
                         "kw": kw}, profile)
    held = rss_mb()
    tb, cb, out = best(lambda: project_stats(ratings, qs, ci=False, **kw), repeat)
    del out  # (c) is measured without (b)'s result held
    print(f"(b) stats, no CI       {tb:8.2f} s  (CPU {cb:6.2f})   peak RSS {peak_mb():7.0f} MB"
          f"   [RSS {held:.0f} MB before: the ratings]")
    print(f"goal: `stats --no-ci` (l+b)/a = {(tl + tb) / ta:.2f} (goal <= 3; CPU "
          f"{(cl + cb) / ca:.2f})   the statistics alone b/a = {tb / ta:.2f}   "
          f"with the imports (i+l+b)/a = {(ti + tl + tb) / ta:.2f}")
    if ci_run:
        tc, cc, _ = best(lambda: project_stats(ratings, qs, ci=True, **kw),
                         1 if n >= 1_000_000 else repeat)
        print(f"(c) stats, 95 % CIs    {tc:8.2f} s  (CPU {cc:6.2f})   peak RSS "
              f"{peak_mb():7.0f} MB   c/a = {tc / ta:.1f}")
    print(f"load after {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--no-ci-run", action="store_true", help="skip (c), the CI run")
    ap.add_argument("--profile", metavar="FILE", help="cProfile (b) once into FILE")
    ap.add_argument("--no-pyarrow", action="store_true",
                    help="run without pyarrow, as the shipped app does (python strings)")
    args = ap.parse_args()
    ti = imports()
    print(f"(i) imports (pandas, reader, statistics; once per process): {ti:.2f} s")
    if args.no_pyarrow:
        import pandas as pd

        print(f"without pyarrow: pandas string storage {pd.StringDtype().storage!r}")
    for n in args.sizes:
        run(n, args.seed, args.repeat, not args.no_ci_run, args.profile, ti)


if __name__ == "__main__":
    main()
