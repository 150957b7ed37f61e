"""``medreview gui [PROJECT]``: open the grading app on a folder or a server project URL."""

from __future__ import annotations

import argparse
from pathlib import Path


def _project(value: str) -> Path | str:
    """A ``postgresql://`` URL stays text (a Path would fold its ``//``); else a folder."""
    from medreview.services.server_projects import is_server_url

    return value if is_server_url(value) else Path(value)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gui", help="open the app (optionally on a project folder or URL)")
    p.add_argument("project", type=_project, nargs="?",
                   help="a project folder, or postgresql://login@host:port/db (no password: "
                        "the app asks, or uses the keyring, PGPASSWORD or .pgpass)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return launch(args.project)


def launch(project: Path | str | None) -> int:
    # The one sanctioned door from the core's command line into the Qt layer.
    from medreview.qt.app import run_app

    return int(run_app(project))
