"""Dispatch ``medreview <command>``; every error becomes one clear line and a non-zero exit."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from medreview import __version__
from medreview.errors import MedreviewError
from medreview.progress import Cancelled

# Subcommand modules, imported lazily so that `medreview --help` stays fast.
COMMANDS = (
    "init", "import", "info", "export", "demo", "gui", "stats", "judge",
    "assign", "package", "merge", "adjudicate",
)


def _module(name: str) -> object:
    return importlib.import_module(f"medreview.cli.cmd_{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medreview",
        description="Physician review of medical AI answers: rubrics, images, agreement, judges.",
    )
    parser.add_argument("--version", action="version", version=f"medreview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            mod = _module(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"medreview.cli.cmd_{name}":
                continue  # a command not built yet is simply absent
            raise
        mod.add_parser(sub)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except MedreviewError as exc:
        print(f"medreview {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except Cancelled:
        print(f"medreview {args.command}: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"medreview {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"medreview {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
