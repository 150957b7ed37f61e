"""``medreview gui [PROJECT]``: open the grading app."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gui", help="open the app (optionally on a project)")
    p.add_argument("project", type=Path, nargs="?")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return launch(args.project)


def launch(project: Path | None) -> int:
    # The one sanctioned door from the core's command line into the Qt layer.
    from medreview.qt.app import run_app

    return int(run_app(project))
