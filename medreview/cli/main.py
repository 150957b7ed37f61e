"""Dispatch ``medreview <command>``; every error becomes one clear line and a non-zero exit.

A failure that is not a user error (a bug, an unforeseen condition) prints one line naming a
log file that holds the full traceback — never the traceback itself.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from medreview import __version__
from medreview.cli.common import write_error_log
from medreview.cli.launcher import early_dispatch
from medreview.errors import MedreviewError
from medreview.progress import Cancelled

# Subcommand modules, imported lazily: a command imports only its own (``build_parser``), and
# each keeps its implementation's imports inside ``run`` so that ``--help`` stays fast.
COMMANDS = (
    "init", "import", "info", "export", "demo", "gui", "stats", "judge", "judge-eval",
    "assign", "package", "merge", "adjudicate", "migrate", "copy", "team", "raters",
    "qualify", "retest", "checks", "escalate",
)


def _module(name: str) -> object:
    return importlib.import_module(f"medreview.cli.cmd_{name.replace('-', '_')}")


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line too (argparse prints the whole usage block first); the
    subcommands' parsers are of the same class, so ``--help`` names the right command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _named_command(argv: Sequence[str] | None) -> str | None:
    """The command ``argv`` runs, when nothing before it needs the whole parser (``--help``
    and ``--version`` list or stop before any command; an unknown name lists them all)."""
    if argv is None:
        return None
    for arg in argv:
        if arg == "--read-only":
            continue
        return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command or, given the command line, of the one it names: only that
    command's module is imported (each imports its implementation when it runs)."""
    chosen = _named_command(argv)
    parser = _OneLineParser(
        prog="medreview",
        description="Physician review of medical AI answers: rubrics, images, agreement, judges.",
    )
    parser.add_argument("--version", action="version", version=f"medreview {__version__}")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="open the project read-only (browse, statistics, export; nothing is saved)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS if chosen is None else (chosen,):
        try:
            mod = _module(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"medreview.cli.cmd_{name}":
                continue  # a command not built yet is simply absent
            raise
        mod.add_parser(sub)  # type: ignore[attr-defined]
    return parser


def _say_waiting(command: str) -> Callable[[str], None]:
    """Print "waiting for another writer" once, then every 10 s at most."""
    last = [-1e9]

    def say(message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 10.0:
            last[0] = now
            print(f"medreview {command}: {message}", file=sys.stderr, flush=True)

    return say


def _preflight(args: argparse.Namespace) -> None:
    """``gui PROJECT``: check the project here, so a bad one is a line, not a dialog later."""
    project = getattr(args, "project", None)
    # A server URL (text, not a Path) is left to the app: it asks for a missing password and
    # says in its dialog why a server refused.
    if args.command == "gui" and project is not None and not isinstance(project, str):
        from medreview.services.projects import open_project

        open_project(project).close()


def main(argv: Sequence[str] | None = None) -> int:
    early = early_dispatch(sys.argv[1:] if argv is None else argv)  # --self-test, a .mrpkg
    if early is not None:
        return early
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    previous = os.environ.get("MEDREVIEW_READ_ONLY")
    if args.read_only:
        os.environ["MEDREVIEW_READ_ONLY"] = "1"  # seen by every open_project (and the GUI)
    try:
        return _dispatch(args)
    finally:
        if args.read_only:  # a caller running main() in-process keeps its environment
            if previous is None:
                os.environ.pop("MEDREVIEW_READ_ONLY", None)
            else:
                os.environ["MEDREVIEW_READ_ONLY"] = previous


def _dispatch(args: argparse.Namespace) -> int:
    from medreview.services.access import on_writer_wait

    name = f"medreview {args.command}"
    try:
        on_writer_wait(_say_waiting(args.command))
        _preflight(args)
        return int(args.run(args))
    except MedreviewError as exc:
        print(f"{name}: error: {exc.message}", file=sys.stderr)
        return 2
    except Cancelled:
        print(f"{name}: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{name}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # not a user error: one line here, the traceback in the log
        return _unexpected(name, exc)
    finally:
        on_writer_wait(None)


def _unexpected(name: str, exc: Exception) -> int:
    from medreview.services.access import describe_storage_error

    log = write_error_log(name, exc)
    where = f"details in {log}" if log else "the error log could not be written"
    storage = describe_storage_error(exc)
    if storage is not None:
        print(f"{name}: error: {storage} ({where})", file=sys.stderr)
        return 2
    text = (str(exc).splitlines() or [""])[0][:200]
    print(f"{name}: internal error: {type(exc).__name__}: {text} ({where})", file=sys.stderr)
    return 3


if __name__ == "__main__":
    raise SystemExit(main())
