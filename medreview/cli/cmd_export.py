"""``medreview export PROJECT OUTDIR``: tables (CSV/JSONL/Parquet) or training exports.

``--kind tables`` (default) writes every table; ``--kind sft|dpo|criteria|media`` (repeatable,
or ``training`` for the first three) writes split-by-case training files, see docs/EXPORTS.md;
``--kind audit`` writes the judgment and gold-label history. The export is built beside OUTDIR
and renamed into place when complete; a non-empty OUTDIR is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medreview.cli.common import project_arg
from medreview.services.exporting import ALL_KINDS


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write project tables or training exports")
    p.add_argument("project", type=project_arg)
    p.add_argument("outdir", type=Path)
    p.add_argument("--kind", action="append", dest="kinds",
                   choices=(*ALL_KINDS, "training"),
                   help="what to export (repeatable; default: tables)")
    p.add_argument("--format", dest="fmt", choices=("csv", "jsonl", "parquet"), default="csv",
                   help="table format (tables, audit)")
    p.add_argument("--real-names", action="store_true",
                   help="write rater names instead of pseudonyms (P01, J01, ...)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/validation/test split")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,validation,test fractions")
    p.add_argument("--sft-style", choices=("messages", "prompt_completion"), default="messages")
    p.add_argument("--pref-style", choices=("trl", "openai"), default="trl")
    p.add_argument("--score-question", help="gold question whose number ranks answers for "
                                            "preference pairs (default: the rubric's score)")
    p.add_argument("--min-margin", type=float, default=0.0)
    p.add_argument("--margin", action="store_true", help="add a 'margin' column (RewardTrainer)")
    p.add_argument("--overwrite", action="store_true",
                   help="OUTDIR may be a non-empty folder: replace its files of the same name "
                        "(default: refuse)")
    p.add_argument("--allow-burned-in", action="store_true",
                   help="I checked the images: export DICOM with burned-in annotation")
    p.add_argument("--all-or-nothing", action="store_true",
                   help="media: export nothing if any file is refused (default: export the "
                        "rest and list the refused files)")
    p.add_argument("--retain-safe-private", action="store_true",
                   help="media: keep the private attributes DICOM PS3.15 lists as safe "
                        "(b-values, table speed, scale slopes; docs/DEIDENTIFICATION.md); "
                        "every other private attribute is still removed")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from medreview.cli.progressbar import ProgressBar
    from medreview.services.exporting import (
        ExportRequest,
        normalise_kinds,
        parse_fractions,
        run_export,
    )
    from medreview.services.projects import open_project

    request = ExportRequest(
        outdir=args.outdir, kinds=normalise_kinds(args.kinds or ["tables"]), fmt=args.fmt,
        real_names=args.real_names, seed=args.seed, fractions=parse_fractions(args.split),
        sft_style=args.sft_style, pref_style=args.pref_style,
        score_question=args.score_question, min_margin=args.min_margin,
        include_margin=args.margin, allow_burned_in=args.allow_burned_in,
        all_or_nothing=args.all_or_nothing, retain_safe_private=args.retain_safe_private,
        overwrite=args.overwrite)
    with open_project(args.project) as project, ProgressBar("export") as bar:
        for line in run_export(project, request, progress=bar):
            print(line)
    return 0
