"""``medreview assign PROJECT --raters A,B,C --per-output K [--overlap F] [--seed N]``."""

from __future__ import annotations

import argparse

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("assign", help="assign outputs to physician raters (creates raters)")
    p.add_argument("project", type=project_arg)
    p.add_argument("--raters", required=True, help="comma-separated rater names")
    p.add_argument("--per-output", type=int, default=1, metavar="K",
                   help="raters per output (per multi-rated output with --overlap)")
    p.add_argument("--overlap", type=float, default=None, metavar="FRACTION",
                   help="fraction of outputs rated by K raters; the rest by one")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (recorded)")
    p.add_argument("--cases", choices=("apart", "together"), default="apart",
                   help="a case's answers from different models: together (same raters, "
                        "consecutive) or apart (spread out)")
    p.add_argument("--no-stratify", action="store_true",
                   help="do not stratify by model and case tag")
    p.add_argument("--retest-fraction", type=float, default=None, metavar="F",
                   help="serve this fraction of each rater's items to them again, blind "
                        "(see medreview retest)")
    p.add_argument("--retest-delay-days", type=float, default=7.0, metavar="D",
                   help="days between finishing an item and its retest (default 7)")
    p.add_argument("--check-rate", type=float, default=0.0, metavar="SHARE",
                   help="then mix hidden gold items into each rater's queue at this share "
                        "(as `medreview checks --rate`)")
    p.add_argument("--attention-rate", type=float, default=0.0, metavar="SHARE",
                   help="likewise attention items (as `medreview checks --attention-rate`)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.services.projects import open_project
    from medreview.services.retests import check_design as check_retest_design
    from medreview.services.retests import choose_retests
    from medreview.services.study import AssignmentDesign, assign

    names = tuple(n.strip() for n in args.raters.split(",") if n.strip())
    design = AssignmentDesign(
        raters=names, per_output=args.per_output, overlap=args.overlap, seed=args.seed,
        case_grouping=args.cases, stratify_by=() if args.no_stratify else ("model", "tag"))
    from medreview.services import checks

    check_design = checks.CheckDesign(rate=args.check_rate, attention_rate=args.attention_rate,
                                      seed=args.seed, raters=names)
    check_design.validate()
    if args.retest_fraction is not None:
        check_retest_design(args.retest_fraction, args.retest_delay_days)
    with open_project(args.project) as project:
        summary, _ = assign(project, design)
        retests: dict[str, int] = {}
        if args.retest_fraction is not None:
            retests, _ = choose_retests(project, fraction=args.retest_fraction,
                                        delay_days=args.retest_delay_days, seed=args.seed,
                                        raters=names)
        mixed = (checks.mix(project, check_design)[0]
                 if check_design.rate or check_design.attention_rate else None)
    if summary.created_raters:
        print("new raters: " + ", ".join(summary.created_raters))
    print(f"{summary.added} assignments added (seed {args.seed}); "
          f"{summary.multi_rated_outputs} outputs have two or more raters")
    for name, n in summary.per_rater.items():
        print(f"  {name}: {n} items")
    if args.retest_fraction is not None:
        print(f"{sum(retests.values())} retest items added ({args.retest_delay_days:g} days "
              "after each is finished)")
    for line in checks.summary_lines(mixed) if mixed else ():
        print(line)
    return 0
