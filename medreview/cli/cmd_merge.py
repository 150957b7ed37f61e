"""``medreview merge PROJECT FILE...``: bring graded rater packages back (all or nothing)."""

from __future__ import annotations

import argparse
from pathlib import Path

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("merge", help="merge graded rater packages into the project")
    p.add_argument("project", type=project_arg)
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.services.projects import open_project
    from medreview.services.study import merge_packages

    with open_project(args.project) as project, ProgressBar("merge") as bar:
        report, _ = merge_packages(project, args.files, progress=bar)
    for p in report.packages:
        print(f"{p.file}: {p.rater}: {p.added} new revision(s), {p.already_present} already "
              f"present, {len(p.conflicts)} conflict(s)")
        for c in p.conflicts:
            print(f"  conflict: output {c.output_id}: {c.detail}")
    return 0
