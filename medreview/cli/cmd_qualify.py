"""``medreview qualify PROJECT``: the qualification round. Set it up
(``--raters A,B (--outputs ID,...|--from-gold N [--seed S]) [--pass-mark 0.8]``), read it
(``--status [--json]``), or open a rater's queue whatever their score (``--waive RATER``)."""

from __future__ import annotations

import argparse

from medreview.cli.common import print_json, print_table, project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "qualify", help="qualification round on gold items before a rater's queue opens",
        description="A physician's queue shows only their qualification items (outputs with "
        "gold labels) until every one is done and their share of gold questions answered as "
        "the gold reaches the pass mark. Feedback (the gold next to their answers) is shown "
        "in the app after each item; offline packages get none.")
    p.add_argument("project", type=project_arg)
    p.add_argument("--raters", default=None, help="comma-separated physicians (created if new)")
    p.add_argument("--outputs", default=None, metavar="ID,...",
                   help="the qualification items: output ids with gold labels")
    p.add_argument("--from-gold", type=int, default=None, metavar="N",
                   help="draw N outputs with gold labels (with --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --from-gold (default 0)")
    p.add_argument("--pass-mark", type=float, default=None, metavar="F",
                   help="share of gold questions to answer as the gold (default 0.8)")
    p.add_argument("--status", action="store_true", help="per rater: done, score, state")
    p.add_argument("--json", action="store_true", help="--status as JSON")
    p.add_argument("--waive", default=None, metavar="RATER",
                   help="open this rater's queue whatever their score")
    p.set_defaults(run=run)


def _ids(text: str) -> tuple[int, ...]:
    from medreview.errors import InputError

    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 18:
            raise InputError("an output id is a whole number", item=part[:40])
        out.append(int(part))
    return tuple(out)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def _ci(ci: tuple[float, float] | None) -> str:
    return "-" if ci is None else f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f} %"


def run(args: argparse.Namespace) -> int:
    from medreview.errors import InputError
    from medreview.services.projects import open_project
    from medreview.services.qualification import round_status, set_up_round, waive

    setting_up = args.raters is not None
    if sum((setting_up, args.status, args.waive is not None)) != 1:
        raise InputError("give one of --raters (set up the round), --status or --waive RATER")
    with open_project(args.project) as project:
        if args.waive is not None:
            waive(project, args.waive.strip())
            print(f"{args.waive.strip()}: qualification waived, their queue is open")
            return 0
        if setting_up:
            raters = tuple(n.strip() for n in args.raters.split(",") if n.strip())
            summary, _ = set_up_round(
                project, raters, output_ids=_ids(args.outputs) if args.outputs else (),
                from_gold=args.from_gold, seed=args.seed, pass_mark=args.pass_mark)
            if summary.created_raters:
                print("new raters: " + ", ".join(summary.created_raters))
            print(f"{summary.added} qualification items added ({len(summary.items)} gold "
                  f"items per rater); pass mark {_pct(summary.pass_mark)}")
            return 0
        rounds = round_status(project)
    if args.json:
        print_json([r.to_dict() for r in rounds])
        return 0
    if not rounds:
        print("no qualification round in this project")
        return 0
    print_table("Qualification", ("rater", "done", "score", "95 % CI", "pass mark", "state"),
                [(r.rater, f"{r.done}/{r.items}", _pct(r.score), _ci(r.ci), _pct(r.pass_mark),
                  r.state) for r in rounds])
    rows = [(r.rater, q.question_id, f"{q.matched}/{q.total}", _pct(q.score), _ci(q.ci))
            for r in rounds for q in r.per_question]
    if rows:
        print_table("Per question (answered as the gold)",
                    ("rater", "question", "same", "share", "95 % CI"), rows)
    return 0
