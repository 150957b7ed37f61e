"""All-or-nothing export folders: build in a hidden sibling, rename into place when complete.

An export killed half-way (SIGKILL, power loss, a refusal of the de-identification) must never
leave an OUTDIR that looks like a finished export. Everything is written into
``.<name>.exporting-<pid>-<random>`` next to OUTDIR (same file system, so the final step is a
``rename``); a failure removes it, and a folder left by a killed process (its pid no longer
running) is removed by the next export to the same OUTDIR.

An existing non-empty OUTDIR is refused unless the caller allows overwriting; then each
top-level file or folder of the new export replaces the one of the same name (each by rename;
whatever else is in OUTDIR stays).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from medreview.errors import InputError
from medreview.processes import pid_alive

_TAG = ".exporting-"


def check_target(outdir: Path, *, overwrite: bool) -> None:
    """Refuse a file, or a non-empty folder unless ``overwrite``; before any work is done."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError("the export target is a file, not a folder", source=str(outdir))
    if outdir.is_dir() and not overwrite and any(outdir.iterdir()):
        raise InputError("the export folder is not empty; choose a new or empty folder, or "
                         "allow overwriting (--overwrite)", source=str(outdir))


@contextlib.contextmanager
def staged(outdir: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``outdir``; on success it becomes ``outdir``."""
    outdir = Path(outdir).absolute()
    check_target(outdir, overwrite=overwrite)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(outdir)
    stage = Path(tempfile.mkdtemp(prefix=f".{outdir.name}{_TAG}{os.getpid()}-",
                                  dir=outdir.parent))
    try:
        yield stage
        publish(stage, outdir, overwrite=overwrite)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, outdir: Path, *, overwrite: bool) -> None:
    """Move the finished export into place (one rename unless merging into a folder)."""
    try:
        os.rename(stage, outdir)  # also replaces an empty folder, atomically
        return
    except OSError:
        if not outdir.is_dir():
            raise
    check_target(outdir, overwrite=overwrite)  # it filled up while we were exporting
    old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.replaced-", dir=outdir.parent))
    try:
        for item in sorted(stage.iterdir()):
            target = outdir / item.name
            if target.exists() or target.is_symlink():
                os.rename(target, old / item.name)
            os.rename(item, target)
    finally:
        shutil.rmtree(old, ignore_errors=True)
    stage.rmdir()


def sweep_abandoned(outdir: Path) -> list[Path]:
    """Remove staging folders of ``outdir`` whose exporting process no longer runs."""
    removed = []
    prefix = f".{outdir.name}{_TAG}"
    for p in outdir.parent.glob(f"{glob.escape(prefix)}*"):
        pid = p.name[len(prefix):].split("-", 1)[0]
        if p.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


