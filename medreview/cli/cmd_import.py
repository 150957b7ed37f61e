"""``medreview import PROJECT FILE...``: bring cases, outputs, media, ratings and rubrics in.

Each file is imported in one transaction: a bad file is refused whole, naming file, line and
reason, and the project is left exactly as it was. Importing the same file twice adds nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from medreview.cli.common import project_arg


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="import cases, model outputs, images, ratings or rubrics")
    p.add_argument("project", type=project_arg)
    p.add_argument("files", type=Path, nargs="*", help="JSONL/CSV/HealthBench/inspect-ai/folder")
    p.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="force a format: jsonl, csv, wide-csv, healthbench, inspect-eval, ratings-csv, "
        "ratings-jsonl, media-folder, medec, medval (default: detected from the content)",
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="field mapping for JSONL/JSON/CSV and ratings files, e.g. --map prompt=question_text"
        ', --map q:error_flag="Error Flag" (a rubric question\'s column in a ratings file), '
        "--map output= (turn a default column off); repeat a field to accept several columns",
    )
    p.add_argument(
        "--na",
        action="append",
        default=[],
        metavar="VALUE",
        help="a cell value that means 'missing' (repeatable), e.g. --na NA --na -",
    )
    p.add_argument(
        "--encoding",
        default=None,
        help="text encoding of files without a byte-order mark that are not UTF-8, "
        "e.g. cp1252 or latin-1 (default: UTF-8; UTF-16 with a BOM is read as such)",
    )
    p.add_argument("--rater", help="prior ratings: the rater of a file without a rater column")
    p.add_argument(
        "--rubric",
        action="append",
        default=[],
        metavar="KEY_OR_FILE",
        help="add a rubric or taxonomy (built-in template key or file)",
    )
    p.add_argument("--model", help="model name for completions that do not name one")
    p.add_argument("--manifest", type=Path, help="media folders: CSV with case_id,path columns")
    p.add_argument("--strict", action="store_true",
                   help="media folders: refuse the folder if any DICOM file must be left out "
                        "(default: import the usable files and list the others with the reason)")
    p.add_argument("--models", help="wide CSV: comma-separated columns holding model answers")
    p.add_argument(
        "--rater-kind",
        choices=("physician", "judge"),
        default=None,
        help="prior ratings: who gave them (default: physician, or per row)",
    )
    p.add_argument("--retest", action="store_true",
                   help="ratings files: the rows are blind re-ratings of outputs the physician "
                        "finished before (kept as retest revisions for test-retest statistics)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(run=run)


def _heartbeat(bar: Any) -> Any:
    def progress(done: int, total: int | None = None, message: str = "") -> None:
        if total is None or done < total:
            bar(done, total, message)

    return progress


def _import_retests(project: Any, path: Path, args: argparse.Namespace,
                    mapping: Any) -> dict[str, Any]:
    from medreview.services.retest_import import import_retest_file

    options = {"rater": args.rater, "encoding": args.encoding, "na": args.na or None}
    fmt, added, skipped = import_retest_file(project, path, fmt=args.fmt,
                                             mapping=mapping or None, options=options)
    if not args.json:
        print(f"{path}: {fmt}: added {added} retests"
              + (f" (already there: {skipped})" if skipped else ""))
    return {"file": str(path), "format": fmt, "added": {"retests": added},
            "skipped": {"retests": skipped}}


def run(args: argparse.Namespace) -> int:
    from medreview.cli.common import load_form_arg, print_json
    from medreview.cli.progressbar import ProgressBar
    from medreview.services.import_options import check_encoding, file_options, parse_mapping
    from medreview.services.importing import import_file
    from medreview.services.projects import add_form, open_project

    mapping = parse_mapping(args.map)
    if args.encoding is not None:
        check_encoding(args.encoding)
    report: dict[str, Any] = {"files": []}
    with open_project(args.project) as project:
        for value in args.rubric:
            form = load_form_arg(value)
            key, version = add_form(project, form)
            report["files"].append({"rubric": value, "key": key, "version": version})
            if not args.json:
                print(f"{value}: {form.kind.value} {key} v{version}")
        for path in args.files:
            if args.retest:
                report["files"].append(_import_retests(project, path, args, mapping))
                continue
            with ProgressBar(f"import {path.name}") as bar:
                # In a log (not a terminal) only the every-few-seconds lines of a long import
                # are written: a "done" line per file would precede its one-line error.
                progress: Any = bar if bar.tty else _heartbeat(bar)
                left_out: list[tuple[str, str]] = []
                options = file_options(
                    left_out=left_out,
                    strict=args.strict,
                    model=args.model,
                    manifest=args.manifest,
                    models=args.models,
                    rater_kind=args.rater_kind,
                    rater=args.rater,
                    encoding=args.encoding,
                    na=args.na,
                )
                fmt, summary = import_file(
                    project,
                    path,
                    fmt=args.fmt,
                    mapping=mapping or None,
                    options=options,
                    progress=progress,
                )
            entry: dict[str, Any] = {"file": str(path), "format": fmt, **summary.to_dict()}
            if left_out:
                entry["left_out"] = [{"file": f, "reason": r} for f, r in left_out]
            report["files"].append(entry)
            if not args.json:
                added = ", ".join(f"{n} {k}" for k, n in summary.added.items()) or "nothing new"
                skipped = ", ".join(f"{n} {k}" for k, n in summary.skipped.items())
                print(
                    f"{path}: {fmt}: added {added}"
                    + (f" (already there: {skipped})" if skipped else "")
                    + (f"; {len(left_out)} DICOM file(s) left out" if left_out else "")
                )
                for f, reason in left_out:
                    print(f"  left out: {f}: {reason}")
    if args.json:
        print_json(report)
    return 0
