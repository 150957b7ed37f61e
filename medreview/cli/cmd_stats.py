"""``medreview stats PROJECT``: the methods-section tables, as text, JSON or an HTML report."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from medreview.cli.common import print_table, project_arg

# What the text table shows per block; the JSON and the report carry everything.
JUDGE_STATS = ("accuracy", "macro_f1", "cohen_kappa", "spearman", "kendall_tau_b",
               "mean_signed_difference")
ERROR_STATS = ("krippendorff_alpha_nominal", "gwet_ac1")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("stats", help="inter-rater agreement and judge calibration")
    p.add_argument("project", type=project_arg)
    p.add_argument("--by", choices=("question", "model", "rater"), default="question",
                   help="break agreement down per model or per rater pair")
    p.add_argument("--json", action="store_true", help="every table as JSON")
    p.add_argument("--report", type=Path, metavar="FILE.html", help="write an HTML report")
    p.add_argument("--no-ci", action="store_true", help="point estimates only (fast)")
    p.add_argument("--per-criterion", action="store_true",
                   help="also one block per per-case criterion (point estimates)")
    p.add_argument("--real-names", action="store_true", help="rater names instead of pseudonyms")
    p.set_defaults(run=run)


def _fmt(v: Any) -> str:
    if _missing(v):
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _count(v: Any) -> str:
    return "—" if _missing(v) else str(int(v))


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


class _Reasons:
    """Numbered footnotes saying why a statistic is undefined (same reason, same number)."""

    def __init__(self) -> None:
        self.notes: dict[str, int] = {}

    def value(self, row: dict[str, Any], key: str = "value") -> str:
        """The value cell: the number, or "undefined [n]" pointing at the row's note."""
        v = row.get(key)
        if not _missing(v):
            return _fmt(v)
        note = str(row.get("note") or "").strip()
        if not note:
            return "—"
        note = note.removeprefix("undefined: ")
        n = self.notes.setdefault(note, len(self.notes) + 1)
        return f"undefined [{n}]"

    def print(self) -> None:
        """Print the footnotes collected since the last call (under the table they belong to)."""
        for note, n in self.notes.items():
            print(f"  [{n}] {note}")
        self.notes = {}


def _ci(row: dict[str, Any]) -> str:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return "—"
    return f"{lo:.3f} to {hi:.3f}"


def _print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    if rows:
        print_table(title, header, rows, indent="", rule=True)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.services.dashboard import compute, load_inputs, render_report
    from medreview.services.projects import open_project

    by = None if args.by == "question" else args.by
    with open_project(args.project) as project:
        inputs = load_inputs(project, pseudonymise=not args.real_names)
    if inputs.ratings.empty:
        print("no finished judgments yet: nothing to compute", file=sys.stderr)
        return 1
    with ProgressBar("statistics") as bar:
        stats = compute(inputs, by=by, ci=not args.no_ci, progress=bar)
    if args.report:
        html = render_report(inputs, stats)
        args.report.write_text(html, encoding="utf-8")
        print(f"report written to {args.report}", file=sys.stderr)
    if args.json:
        stats.write_json(sys.stdout)  # a slice at a time: the score table can be ~1 GB
        sys.stdout.write("\n")
        return 0
    why = _Reasons()
    agreement = [
        [r["question_id"], r["group"] or r["scope"], r["statistic"], why.value(r), _ci(r),
         str(r["n_items"]), str(r["n_raters"])]
        for r in stats.agreement.to_dict("records")
    ]
    _print_table("Agreement among physicians",
                 ["question", "scope", "statistic", "value", "95% CI", "items", "raters"],
                 agreement)
    why.print()
    errors = [
        [r["category"], _fmt(r["prevalence"]), r["statistic"], why.value(r), _ci(r),
         str(r["n_items"]), str(r["n_raters"])]
        for r in stats.errors.to_dict("records") if r["statistic"] in ERROR_STATS
    ]
    _print_table("Agreement per error category (presence per output)",
                 ["category", "prevalence", "statistic", "value", "95% CI", "items", "raters"],
                 errors)
    why.print()
    # A judge block that could not be computed at all is one "error" row: show it with its
    # reason rather than drop it.
    judge = [
        [r["question_id"], r["judge"], r["reference"], r["variant"], r["statistic"],
         why.value(r), _ci(r), _count(r.get("n_items"))]
        for r in stats.judge.to_dict("records")
        if r["statistic"] in JUDGE_STATS or r["statistic"] == "error"
    ]
    _print_table("Judge versus physicians",
                 ["question", "judge", "reference", "variant", "statistic", "value", "95% CI",
                  "items"], judge)
    why.print()
    ceiling = [
        [r["question_id"], r["judge"], r["statistic"], _fmt(r["judge_value"]),
         _fmt(r["physician_mean"]),
         f"{_fmt(r['physician_min'])} to {_fmt(r['physician_max'])}", str(r["n_items"])]
        for r in stats.ceiling.to_dict("records")
    ]
    _print_table("Judge next to the physician ceiling (same items)",
                 ["question", "judge", "statistic", "judge", "physician mean",
                  "physician range", "items"], ceiling)
    cal = stats.calibration
    if not cal.empty:
        rows = []
        for (qid, jname), g in cal.groupby(["question_id", "judge"]):
            n = g["count"].sum()
            ece = (g["count"] * (g["observed_rate"] - g["mean_confidence"]).abs()).sum() / n \
                if n else float("nan")
            rows.append([str(qid), str(jname), _fmt(float(ece)), str(int(n))])
        _print_table("Judge calibration", ["question", "judge", "ECE", "items"], rows)
    na = stats.not_assessed
    if na is not None and not na.empty:
        _print_table("Not assessed (left out of every statistic above)",
                     ["", "question / reason", "raters", "count"],
                     [["not applicable" if r["what"] == "not_applicable" else "cannot assess",
                       r["question_id"] or r["label"], r["rater_kind"], str(r["count"])]
                      for r in na.to_dict("records")])
    print("\nMethods\n" + stats.methods_table())
    return 0
