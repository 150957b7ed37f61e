"""``medreview demo``: build the demo project once, then open the app on it."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="build the demo project (once) and open the app on it")
    p.add_argument(
        "path", type=Path, nargs="?", help="where to build it (default: the user data folder)"
    )
    p.add_argument("--no-gui", action="store_true", help="only build the project")
    p.add_argument("--rebuild", action="store_true", help="delete and rebuild an existing demo")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.demo import build_full_demo
    from medreview.paths import demo_project_dir
    from medreview.services.projects import is_project

    path: Path = args.path or demo_project_dir()
    if args.rebuild and is_project(path):
        import shutil

        shutil.rmtree(path)
    if is_project(path):
        print(f"demo project: {path}")
    else:
        with ProgressBar("building demo") as bar:
            build_full_demo(path, progress=bar)  # with a second judge prompt version
        print(f"built demo project: {path}")
    if args.no_gui:
        return 0
    from medreview.cli.cmd_gui import launch

    return launch(path)
