"""``medreview package PROJECT --rater NAME --out FILE``; ``--seal FOLDER`` returns a graded one.

Every package written is recorded in the project as issued (uid, rater, outputs, seal key):
``medreview merge`` accepts only packages the project issued.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("package", help="write an offline package for one rater (or seal one)")
    p.add_argument("project", type=project_arg,
                   help="the study project (with --seal: the graded, unpacked package folder)")
    p.add_argument("--rater", help="rater name")
    p.add_argument("--out", type=Path, required=True, help="package file to write")
    p.add_argument("--seal", action="store_true",
                   help="PROJECT is an unpacked package the rater graded: write it back as a "
                        "package file for `medreview merge`")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.errors import InputError
    from medreview.services.study import build_package, seal_package

    if args.seal:
        if not isinstance(args.project, Path):
            raise InputError("--seal takes the unpacked package folder, not a database URL")
        info = seal_package(args.project, args.out)
        print(f"sealed {info.rater}'s package: {info.path}")
        return 0
    if not args.rater:
        raise InputError("--rater NAME is required")
    from medreview.services.projects import open_project

    with open_project(args.project) as project:
        info = build_package(project, args.rater, args.out)
    print(f"{len(info.manifest['outputs'])} items for {info.rater}: {info.path} (issued as "
          f"package {info.manifest['package_uid']})")
    return 0
