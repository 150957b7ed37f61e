"""``medreview escalate PROJECT``: set the escalation rules, preview or apply them, and list the
escalated items. Items with a severe-harm rating or a physician disagreement above the lead's
threshold go to an additional senior rater (``domain/escalation.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from medreview.cli.common import print_json, print_table, project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "escalate", help="send items with severe harm or disagreement to a senior rater",
        description="Apply the project's escalation rules: an item a physician rated at or "
        "above the severe level, or whose physicians are not unanimous on more than the "
        "disagreement share of its questions, is assigned once to the senior rater with the "
        "fewest open escalations who has not rated it. The grading save, a merge and a ratings "
        "import apply the rules by themselves; this command catches up, previews (--dry-run) "
        "or sets them (--set).")
    p.add_argument("project", type=project_arg)
    p.add_argument("--set", dest="rules", default=None, metavar="RULES",
                   help="set rules, e.g. 'severe=major,disagreement=0.5,senior=Dr A;Dr B' "
                        "(severe=QUESTION:LEVEL for an ordinal harm question, e.g. "
                        "harm_extent:2; 'none' clears a rule; unnamed rules stay)")
    p.add_argument("--dry-run", action="store_true", help="show what would be escalated")
    p.add_argument("--list", action="store_true", help="list the escalated items and stop")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument("--watch", action="store_true",
                   help="server projects: keep running and apply the rules whenever the "
                        "project changes (physicians' own logins cannot escalate); Ctrl+C "
                        "stops")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.services.escalation import (
        current_rules,
        escalated_items,
        parse_rule_text,
        run_escalation,
        set_rules,
    )
    from medreview.services.projects import open_project

    with open_project(args.project) as project:
        if args.rules is not None:
            set_rules(project, parse_rule_text(args.rules, current_rules(project)))
        if args.list:
            items = escalated_items(project)
            if args.json:
                print_json([{"output_id": i.output_id, "case": i.case_external_id,
                             "model": i.model, "senior": i.senior, "reason": i.reason,
                             "status": i.status, "created_at": i.created_at,
                             "created_by": i.created_by} for i in items])
                return 0
            print(f"rules: {current_rules(project).describe()}")
            print_table("Escalated items", ("output", "case", "senior", "status", "reason"),
                        [(str(i.output_id), i.case_external_id, i.senior, i.status, i.reason)
                         for i in items])
            return 0
        if args.watch:
            return _watch(project)
        report, _changes = run_escalation(project, dry_run=args.dry_run,
                                          by="medreview escalate")
    if args.json:
        print_json(report.to_dict())
        return 0
    print(f"rules: {report.rules.describe()}")
    if not report.rules.active:
        print("no escalation: set a rule and at least one senior rater with --set")
        return 0
    verb = "would escalate" if args.dry_run else "escalated"
    print(f"{verb} {len(report.escalated)} item(s)")
    if report.escalated:
        print_table("Items", ("output", "senior", "reason"),
                    [(str(p.output_id), p.senior or "", p.reason) for p in report.escalated])
    for p in report.no_senior:
        print(f"note: output {p.output_id} ({p.reason}): every senior rater has it already")
    return 0


def _watch(project: Any) -> int:
    import threading

    from medreview.services.escalation import EscalationReport, current_rules, watch_escalation

    def report(r: EscalationReport) -> None:
        for p in r.escalated:
            print(f"escalated output {p.output_id} to {p.senior}: {p.reason}", flush=True)

    def failed(line: str) -> None:
        print(f"escalation run failed: {line} (trying again on the next change)", flush=True)

    print(f"rules: {current_rules(project).describe()}; watching for changes (Ctrl+C stops)",
          flush=True)
    stop = threading.Event()
    try:
        watch_escalation(project, stop, report, on_error=failed)
    except KeyboardInterrupt:
        stop.set()
    return 0
