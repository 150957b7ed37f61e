"""``medreview import PROJECT FILE...``: bring cases, outputs, media, ratings and rubrics in.

Each file is imported in one transaction: a bad file is refused whole, naming file, line and
reason, and the project is left exactly as it was. Importing the same file twice adds nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="import cases, model outputs, images, ratings or rubrics")
    p.add_argument("project", type=Path)
    p.add_argument("files", type=Path, nargs="*", help="JSONL/CSV/HealthBench/inspect-ai/folder")
    p.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="force a format (default: detected from the content)",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="field mapping override for JSONL/CSV, e.g. --map prompt=question_text",
    )
    p.add_argument(
        "--rubric",
        action="append",
        default=[],
        metavar="KEY_OR_FILE",
        help="add a rubric or taxonomy (built-in template key or file)",
    )
    p.add_argument("--model", help="model name for completions that do not name one")
    p.add_argument("--manifest", type=Path, help="media folders: CSV with case_id,path columns")
    p.add_argument("--models", help="wide CSV: comma-separated columns holding model answers")
    p.add_argument(
        "--rater-kind",
        choices=("physician", "judge"),
        default=None,
        help="prior ratings: who gave them (default: physician, or per row)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.common import load_form_arg, print_json
    from medreview.cli.progressbar import ProgressBar
    from medreview.errors import InputError
    from medreview.services.importing import import_file
    from medreview.services.projects import add_form, open_project

    mapping: dict[str, str] = {}
    for item in args.map:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise InputError("--map takes FIELD=COLUMN", item=item)
        mapping[field.strip()] = column.strip()
    report: dict[str, Any] = {"files": []}
    with open_project(args.project) as project:
        for value in args.rubric:
            form = load_form_arg(value)
            key, version = add_form(project, form)
            report["files"].append({"rubric": value, "key": key, "version": version})
            if not args.json:
                print(f"{value}: {form.kind.value} {key} v{version}")
        for path in args.files:
            with ProgressBar(f"import {path.name}") as bar:
                options = {
                    "model": args.model,
                    "manifest": args.manifest,
                    "model_columns": args.models.split(",") if args.models else None,
                    "rater_kind": args.rater_kind,
                }
                fmt, summary = import_file(
                    project,
                    path,
                    fmt=args.fmt,
                    mapping=mapping or None,
                    options=options,
                    progress=bar,
                )
            entry = {"file": str(path), "format": fmt, **summary.to_dict()}
            report["files"].append(entry)
            if not args.json:
                added = ", ".join(f"{n} {k}" for k, n in summary.added.items()) or "nothing new"
                skipped = ", ".join(f"{n} {k}" for k, n in summary.skipped.items())
                print(
                    f"{path}: {fmt}: added {added}"
                    + (f" (already there: {skipped})" if skipped else "")
                )
    if args.json:
        print_json(report)
    return 0
