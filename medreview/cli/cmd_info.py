"""``medreview info PROJECT``: counts of everything in a project."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("info", help="show what a project holds")
    p.add_argument("project", type=project_arg)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.common import print_json
    from medreview.services.projects import (
        media_location,
        media_waiting,
        open_project,
        project_info,
        unfinished_imports,
    )

    with open_project(args.project) as project:
        info = project_info(project)
        unfinished = unfinished_imports(project)
        waiting = media_waiting(project)
        media = media_location(project)
    if args.json:
        print_json({**asdict(info), "incomplete_imports": unfinished,
                    "waiting_for_cases": asdict(waiting)})
        return 0
    print(f"{info.name}  ({info.path}, schema {info.schema_revision})")
    for key, value in info.counts.items():
        print(f"  {key.replace('_', ' '):<20} {value}")
    if info.models:
        print("  models: " + ", ".join(f"{m} ({n})" for m, n in info.models.items()))
    for f in info.forms:
        state = "active" if f["active"] else "inactive"
        print(
            f"  {f['kind']} {f['key']} v{f['version']}: {f['name']} ({f['questions']} questions, "
            f"{state})"
        )
    print(f"  data may leave this machine: {'yes' if info.data_may_leave else 'no'}")
    print(f"  {media}")
    if waiting.files:  # media imported before their cases: importing the cases attaches them
        print(f"  {waiting.sentence()} (importing those cases attaches them)")
    if unfinished:
        print(f"  imports that did not finish ({unfinished[0]['hint']}):")
        for imp in unfinished:
            print(f"    {imp['source']} (started {imp['started']})")
    return 0
