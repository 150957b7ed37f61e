"""``medreview migrate PROJECT``: bring a project folder or server database to this schema.

Opening a folder migrates it anyway (after a backup); a shared server database is never
migrated by opening it, so the study lead runs this once after updating medreview.
"""

from __future__ import annotations

import argparse

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="upgrade a project (folder or postgresql:// URL) to "
                                       "this version's schema")
    p.add_argument("project", type=project_arg,
                   help="project folder or postgresql://user@host:port/dbname")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.services.projects import describe_location, migrate_project

    before, after = migrate_project(args.project)
    where = describe_location(args.project)
    if before == after:
        print(f"{where}: already at schema {after}; nothing to do")
    else:
        print(f"{where}: migrated from schema {before} to {after}")
    return 0
