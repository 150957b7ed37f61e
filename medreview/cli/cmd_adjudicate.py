"""``medreview adjudicate PROJECT``: list disagreements, settle agreed items, set gold labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("adjudicate", help="disagreement queue and gold labels")
    p.add_argument("project", type=project_arg)
    p.add_argument("--ordinal-threshold", type=float, default=2.0,
                   help="an ordinal spread at least this large is a disagreement")
    p.add_argument("--auto", action="store_true",
                   help="record unanimous / majority / single-rater gold labels")
    p.add_argument("--no-single", action="store_true",
                   help="with --auto: leave single-rated outputs without gold")
    p.add_argument("--set", nargs=3, metavar=("OUTPUT_ID", "QUESTION", "JSON_VALUE"),
                   help="set an adjudicated gold label (value as JSON: true, 3, \"A\", [...])")
    p.add_argument("--accept-majority", nargs=2, metavar=("OUTPUT_ID", "QUESTION"))
    p.add_argument("--by", help="adjudicator name (for --set / --accept-majority)")
    p.add_argument("--rationale", default="")
    p.add_argument("--json", action="store_true", help="print the queue as JSON")
    p.add_argument("--history", type=Path, metavar="OUTDIR",
                   help="write the audit trail (judgment and gold history) as JSONL; the "
                        "folder appears only when complete")
    p.add_argument("--overwrite", action="store_true",
                   help="with --history: write into a folder that holds other files "
                        "(same-named files are replaced)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from medreview.cli.common import print_json
    from medreview.errors import InputError
    from medreview.services import study
    from medreview.services.projects import open_project

    if args.history:  # refuse a folder in use before anything is changed
        study.check_audit_target(args.history.absolute(), overwrite=args.overwrite)
    with open_project(args.project) as project:
        if args.set or args.accept_majority:
            if not args.by:
                raise InputError("--by NAME (the adjudicator) is required")
            if args.set:
                try:
                    value = json.loads(args.set[2])
                except ValueError as exc:
                    raise InputError(f"value is not JSON: {exc}", item=args.set[2]) from exc
                g, _ = study.set_gold(project, int(args.set[0]), args.set[1], value,
                                      rationale=args.rationale, adjudicator=args.by)
            else:
                g, _ = study.accept_majority(project, int(args.accept_majority[0]),
                                             args.accept_majority[1], adjudicator=args.by,
                                             rationale=args.rationale)
            print(f"gold output {g.output_id} {g.question_id} = {json.dumps(g.value)} "
                  f"(revision {g.revision_no}, {g.provenance})")
            return 0
        if args.auto:
            s, _ = study.auto_gold(project, include_single=not args.no_single)
            print("gold labels added: " + (", ".join(f"{k} {v}" for k, v in s.added.items())
                                           or "none")
                  + f"; {s.skipped_disagreements} left for adjudication")
        if args.history:
            for p in study.export_audit_staged(project, args.history, "jsonl",
                                         overwrite=args.overwrite):
                print(p)
        queue = study.adjudication_queue(
            project, study.DisagreementRules(ordinal_threshold=args.ordinal_threshold))
    if args.json:
        print_json([asdict(d) for d in queue])
        return 0
    print(f"{len(queue)} item(s) to adjudicate")
    for d in queue:
        ratings = ", ".join(f"{r}={json.dumps(v)}" for r, v in d.ratings.items())
        maj = f"; majority {json.dumps(d.majority)}" if d.has_majority else ""
        print(f"  [{d.score:.2f}] output {d.output_id} ({d.case_external_id}) {d.question_id}: "
              f"{ratings}{maj}")
    return 0
