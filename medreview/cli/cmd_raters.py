"""``medreview raters PROJECT``: per physician, test-retest agreement, drift against the rest
of the panel per window (flagged below ``--threshold``) and time per item."""

from __future__ import annotations

import argparse

from medreview.cli.common import print_json, print_table, project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "raters", help="rater quality: test-retest, drift per window, time per item",
        description="Per physician: Cohen's kappa, Krippendorff's alpha and ICC(3,1)/ICC(A,1) "
        "of their blind re-ratings (retest revisions at least --min-delay days after the "
        "first answer), kappa against the leave-one-out majority of the other physicians per "
        "window with 95 %% CIs (flagged below --threshold), the median and IQR of their "
        "time on task, and their accuracy on hidden gold items and attention pass rate with "
        "95 %% CIs (`medreview checks`).")
    p.add_argument("project", type=project_arg)
    p.add_argument("--question", default=None,
                   help="question id (default: the categorical question with most answers)")
    p.add_argument("--window", default="week",
                   help="'week' (ISO calendar week) or a number of items in the rater's own "
                        "order (default week)")
    p.add_argument("--threshold", type=float, default=0.6,
                   help="flag a window whose kappa is below this (default 0.6)")
    p.add_argument("--min-delay", type=float, default=7.0, metavar="DAYS",
                   help="minimum days between a first answer and its retest (default 7)")
    p.add_argument("--no-ci", action="store_true", help="point estimates only")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.services.projects import open_project
    from medreview.services.rater_quality import (
        DRIFT_HEADER,
        GOLD_HEADER,
        GOLD_QUESTION_HEADER,
        SUMMARY_HEADER,
        check_threshold,
        drift_rows,
        gold_question_rows,
        gold_rows,
        parse_window,
        rater_report,
        summary_rows,
    )

    window, size = parse_window(args.window)
    check_threshold(args.threshold)
    with open_project(args.project) as project:
        report = rater_report(project, question=args.question, window=window, size=size,
                              threshold=args.threshold, min_delay_days=args.min_delay,
                              ci=not args.no_ci)
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"question: {report.question_id or '-'} ({report.scale or 'none'}); window: "
          f"{report.window}; threshold: {report.threshold}; retest delay >= "
          f"{report.min_delay_days:g} days")
    print_table("Raters", SUMMARY_HEADER, summary_rows(report))
    drows = drift_rows(report)
    if drows:
        print_table("Drift (kappa against the other physicians' majority)", DRIFT_HEADER, drows)
    grows = gold_rows(report)
    if grows:
        print_table("Hidden gold and attention items", GOLD_HEADER, grows)
        print_table("Accuracy on gold per question", GOLD_QUESTION_HEADER,
                    gold_question_rows(report))
    for note in report.notes:
        print(f"note: {note}")
    return 0
