"""``medreview copy SRC DST``: a whole project between a folder and a PostgreSQL database.

Into an empty destination (a new folder, or an empty database that is migrated first); every
table and every medium is verified afterwards and the report says so.
"""

from __future__ import annotations

import argparse

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("copy", help="copy a whole project between a folder and a "
                                    "postgresql:// database (either way), verified")
    p.add_argument("source", type=project_arg, help="project folder or postgresql:// URL")
    p.add_argument("destination", type=project_arg,
                   help="new folder, or an empty database: postgresql://user@host:port/dbname")
    p.add_argument("--media-folder", metavar="PATH",
                   help="a PostgreSQL destination keeps its media in this existing, writable "
                        "shared folder (absolute path) instead of the database")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.common import print_json
    from medreview.cli.progressbar import ProgressBar
    from medreview.services.projects import copy_project

    with ProgressBar("copy") as bar:
        report = copy_project(args.source, args.destination, progress=bar,
                              media_folder=args.media_folder)
    if args.json:
        print_json({"source": report.source, "destination": report.destination,
                    "schema": report.revision, "rows": report.rows, "media": report.media,
                    "media_bytes": report.media_bytes, "verified": report.verified,
                    "tables": {t.table: {"rows": t.rows, "sha256": t.sha256}
                               for t in report.tables}})
        return 0
    print(f"copied {report.source} -> {report.destination} (schema {report.revision})")
    print(f"  tables {len(report.tables)}, rows {report.rows}, media {report.media} "
          f"({report.media_bytes} bytes)")
    print("  verified: every table (row count and sha256) and every medium (sha256 and size) "
          "read back from the destination")
    return 0
