"""``medreview init PATH``: create an empty project folder, optionally with rubrics."""

from __future__ import annotations

import argparse

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="create a new project folder")
    p.add_argument("path", type=project_arg)
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--media-folder", metavar="PATH",
                   help="PostgreSQL project only: keep its media in this existing, writable "
                        "shared folder (absolute path) instead of the database")
    p.add_argument(
        "--rubric",
        action="append",
        default=[],
        metavar="KEY_OR_FILE",
        help="built-in template key or rubric/taxonomy file (repeatable)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.common import load_form_arg
    from medreview.services.projects import add_form, create_project

    forms = [load_form_arg(r) for r in args.rubric]  # validate before creating anything
    where = {} if args.media_folder is None else {"media_folder": args.media_folder}
    with create_project(args.path, args.name, **where) as project:
        for form in forms:
            key, version = add_form(project, form)
            print(f"added {form.kind.value} {key} v{version}")
    print(f"created project {project.location}")
    if args.media_folder is not None:
        print(f"  media in the shared folder {args.media_folder} (another computer that mounts "
              "it elsewhere sets MEDREVIEW_MEDIA_FOLDER)")
    return 0
