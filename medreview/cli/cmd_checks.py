"""``medreview checks PROJECT``: hidden gold and attention items.

``--attention IDS --expect QUESTION=JSON ...`` makes outputs attention items with their
expected answer; ``--rate R [--attention-rate A]`` mixes hidden gold (outputs with gold) and
attention items into each physician's untouched queue at those shares, at seeded random
positions. Neither kind is ever shown to the rater as different."""

from __future__ import annotations

import argparse

from medreview.cli.common import project_arg
from medreview.errors import InputError

MAX_ID = 2**62  # an output id: beyond it a number is not one of ours


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "checks", help="hidden gold and attention items mixed into physicians' queues",
        description="Mark attention items (outputs with an obvious expected answer) and mix "
        "hidden gold items (outputs with a gold label the rater has not rated) and attention "
        "items into each physician's untouched items at a set rate. Accuracy on them is in "
        "`medreview raters`.")
    p.add_argument("project", type=project_arg)
    p.add_argument("--rate", type=float, default=0.0, metavar="SHARE",
                   help="share of each untouched queue that is hidden gold items (e.g. 0.05)")
    p.add_argument("--attention-rate", type=float, default=0.0, metavar="SHARE",
                   help="share of each untouched queue that is attention items")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (recorded)")
    p.add_argument("--raters", default="",
                   help="comma-separated physicians (default: every physician with items)")
    p.add_argument("--attention", default="", metavar="IDS",
                   help="comma-separated output ids to make attention items (with --expect)")
    p.add_argument("--expect", action="append", default=[], metavar="QUESTION=JSON",
                   help="an attention item's expected answer, e.g. safe='\"no\"' (repeatable)")
    p.add_argument("--by", default="", help="who mixes the items in (recorded)")
    p.set_defaults(run=run)


def output_ids(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < MAX_ID:
            raise InputError("not an output id", item=part[:40])
        if int(part) not in out:
            out.append(int(part))
    return out


def run(args: argparse.Namespace) -> int:
    from medreview.services import checks
    from medreview.services.projects import open_project

    ids = output_ids(args.attention)
    if bool(ids) != bool(args.expect):
        raise InputError("--attention IDS and --expect QUESTION=JSON go together")
    expected = checks.parse_expected(args.expect)
    names = tuple(n.strip() for n in args.raters.split(",") if n.strip())
    design = checks.CheckDesign(rate=args.rate, attention_rate=args.attention_rate,
                                seed=args.seed, raters=names)
    design.validate()
    if not ids and not design.rate and not design.attention_rate:
        raise InputError("nothing to do: give --rate/--attention-rate and/or --attention IDS")
    with open_project(args.project) as project:
        if ids:
            n, _ = checks.set_attention(project, ids, expected)
            print(f"{len(ids)} attention item(s): {n} expected answer(s) recorded")
        if design.rate or design.attention_rate:
            summary, _ = checks.mix(project, design, created_by=args.by)
            for line in checks.summary_lines(summary):
                print(line)
    return 0
