"""``medreview export PROJECT OUTDIR``: every table as CSV, JSONL or Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write project tables (cases, outputs, judgments, ...)")
    p.add_argument("project", type=Path)
    p.add_argument("outdir", type=Path)
    p.add_argument("--format", dest="fmt", choices=("csv", "jsonl", "parquet"), default="csv")
    p.add_argument("--real-names", action="store_true",
                   help="write rater names instead of pseudonyms (P01, J01, ...)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.exporters.tables import export_tables
    from medreview.services.projects import open_project

    with open_project(args.project) as project, ProgressBar("export") as bar:
        paths = export_tables(project, args.outdir, args.fmt, pseudonymise=not args.real_names,
                              progress=bar)
    for p in paths:
        print(p)
    return 0
