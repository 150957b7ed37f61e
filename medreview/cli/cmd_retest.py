"""``medreview retest PROJECT --fraction F --delay-days D [--seed S] [--raters A,B]``: serve a
seeded fraction of each physician's assigned items to them again, blind, D days after they
finished each (intra-rater test-retest); ``--status`` shows how far the retests have come."""

from __future__ import annotations

import argparse

from medreview.cli.common import print_table, project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "retest", help="serve a fraction of each physician's items again after a delay",
        description="Choose a seeded fraction of each physician's assigned items; each comes "
        "back to them as a blank item --delay-days after they finished it. The answer is kept "
        "as a retest revision: only the test-retest statistics (medreview raters) read it.")
    p.add_argument("project", type=project_arg)
    p.add_argument("--fraction", type=float, default=None, metavar="F",
                   help="fraction of each physician's items to retest (0 < F <= 1)")
    p.add_argument("--delay-days", type=float, default=7.0, metavar="D",
                   help="days between finishing an item and its retest (default 7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the choice (default 0)")
    p.add_argument("--raters", default=None, help="comma-separated physicians (default: all "
                   "with assignments)")
    p.add_argument("--status", action="store_true", help="show the retests per physician")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.errors import InputError
    from medreview.services.projects import open_project
    from medreview.services.retests import check_design, choose_retests, retest_overview

    if args.status == (args.fraction is not None):
        raise InputError("give --fraction F (with --delay-days) or --status")
    raters = (tuple(n.strip() for n in args.raters.split(",") if n.strip())
              if args.raters else None)
    if not args.status:
        check_design(args.fraction, args.delay_days)
    with open_project(args.project) as project:
        if args.status:
            rows = retest_overview(project)
            print_table("Retests", ("rater", "items", "waiting", "due now", "done"),
                        [(r.rater, str(r.items), str(r.waiting), str(r.open), str(r.done))
                         for r in rows])
            return 0
        added, _ = choose_retests(project, fraction=args.fraction, delay_days=args.delay_days,
                                  seed=args.seed, raters=raters)
    print(f"{sum(added.values())} retest items added (seed {args.seed}, "
          f"{args.delay_days:g} days after each is finished)")
    for name, n in added.items():
        print(f"  {name}: {n}")
    return 0
