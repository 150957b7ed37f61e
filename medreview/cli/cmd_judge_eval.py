"""``medreview judge-eval PROJECT --runs A,B``: judge runs (prompt versions) side by side
against gold on the held-out split, next to the physician ceiling; calibration, self-preference
and abstention below. ``--set-split`` records the project's split (seed and fractions)."""

from __future__ import annotations

import argparse

from medreview.cli.common import print_json, print_table, project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "judge-eval", help="compare judge runs (prompt versions) against gold on a held-out split",
        description="Accuracy, F1 and Cohen's kappa of each judge run against gold on the "
        "cases of one split part, with 95 %% CIs (bootstrap over cases), each later run's "
        "difference from the first (paired), the physician-vs-physician ceiling, confidence "
        "calibration fitted on train, self-preference and abstention.")
    p.add_argument("project", type=project_arg)
    p.add_argument("--runs", required=True, metavar="A,B",
                   help="judge run ids (or uids), comma-separated; the first is the baseline")
    p.add_argument("--split", choices=("test", "dev", "train"), default="test",
                   help="the part evaluated (default test)")
    p.add_argument("--seed", type=int, default=None,
                   help="split seed for this evaluation (default: the project's recorded one)")
    p.add_argument("--set-split", action="store_true",
                   help="record --seed / --test-fraction / --dev-fraction as the project's split")
    p.add_argument("--test-fraction", type=float, default=None)
    p.add_argument("--dev-fraction", type=float, default=None)
    p.add_argument("--calibration", choices=("isotonic", "platt"), default="isotonic")
    p.add_argument("--no-ci", action="store_true", help="point estimates only")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (CIs)")
    p.add_argument("--json", action="store_true", help="every table as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.errors import InputError
    from medreview.services.judge_eval import (
        evaluate_runs,
        parse_runs,
        report_heading,
        report_notes,
        report_tables,
        set_split_spec,
        split_spec,
        split_spec_with,
    )
    from medreview.services.projects import open_project

    runs = parse_runs(args.runs)
    if not 10 <= args.resamples <= 100_000:
        raise InputError(f"{args.resamples} resamples; choose 10 to 100000", item="--resamples")
    with open_project(args.project) as project:
        if args.set_split:
            spec = split_spec_with(split_spec(project), seed=args.seed,
                                   test_fraction=args.test_fraction,
                                   dev_fraction=args.dev_fraction)
            set_split_spec(project, spec)
            seed = None
        else:
            if args.test_fraction is not None or args.dev_fraction is not None:
                raise InputError("--test-fraction and --dev-fraction change the recorded "
                                 "split: add --set-split", item="--set-split")
            seed = args.seed
        report = evaluate_runs(project, runs, part=args.split, seed=seed,
                               method=args.calibration, ci=not args.no_ci,
                               n_resamples=args.resamples)
    if args.json:
        print_json(report.to_dict())
        return 0
    for line in report_heading(report):
        print(line)
    for table in report_tables(report):
        print_table(table.title, table.header, table.rows)
    notes = report_notes(report)
    if notes:
        print()
        for note in notes:
            print(f"note: {note}")
    return 0
