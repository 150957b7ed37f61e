"""What ``medreview`` does before its subcommands: the self-test, the start-up probe, and
what a desktop launch passes (nothing, or a double-clicked ``.mrpkg`` file).

Kept out of ``main.py`` so the dispatcher stays one line; these doors lead into the Qt layer
(allowed by the import contracts for this module only).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

PACKAGE_SUFFIX = ".mrpkg"
USAGE = "usage: medreview --self-test REPORT.json | --startup-probe PROJECT"


def _streams() -> None:
    """A windowed Windows/macOS bundle has no console: stdout/stderr are None there."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process-long
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process-long


def file_log() -> Path | None:
    """Warnings and errors (the GUI's unexpected errors with their traceback) go to
    ``medreview.log`` in the system's log folder: an installed app has no terminal to show
    them. Once per process; the file is created only when something is logged."""
    import logging
    from logging.handlers import RotatingFileHandler

    from medreview.paths import log_dir

    root = logging.getLogger()
    for h in root.handlers:
        if getattr(h, "medreview_log", False):
            return Path(getattr(h, "baseFilename", ""))
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(folder / "medreview.log", maxBytes=2_000_000,
                                      backupCount=2, encoding="utf-8", delay=True)
    except OSError:
        return None  # an unwritable profile must not stop the app from starting
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.medreview_log = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return Path(handler.baseFilename)


def early_dispatch(argv: Sequence[str]) -> int | None:
    """Handle the launcher forms of the command line; None lets the subcommands run."""
    _streams()
    if getattr(sys, "frozen", False):
        file_log()
    args = list(argv)
    if args[:1] in (["--self-test"], ["--startup-probe"]):
        if len(args) != 2:
            print(f"medreview: error: {USAGE}", file=sys.stderr)
            return 2
        if args[0] == "--self-test":
            from medreview.qt.selftest import run_self_test

            return run_self_test(Path(args[1]))
        from medreview.qt.selftest import run_startup_probe

        return run_startup_probe(Path(args[1]))
    if len(args) == 1 and args[0].lower().endswith(PACKAGE_SUFFIX):
        file = Path(args[0])
        if not file.is_file():
            print(f"medreview: error: {file}: no such package file", file=sys.stderr)
            return 2
        from medreview.qt.app import run_app_on_package

        return run_app_on_package(file)
    if not args and getattr(sys, "frozen", False):
        # Double-clicked: a physician expects the window, not a usage message.
        from medreview.cli.cmd_gui import launch

        return launch(None)
    return None
