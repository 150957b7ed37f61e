"""Helpers shared by subcommands: argument types, opening projects, JSON output."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # parsed forms are built by the services, when a command runs
    from medreview.domain.rubric import Form


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]], *,
                indent: str = "  ", rule: bool = False) -> None:
    """A titled plain-text table, columns padded to their widest cell (``rule``: a line of
    dashes under the header). Lines carry no trailing spaces."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
                ).rstrip()

    print(f"\n{title}")
    print(line(header))
    if rule:
        print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def project_arg(value: str) -> Path | str:
    """A project folder, or a PostgreSQL URL (``postgresql://user@host:port/db``) kept as text:
    ``Path`` would fold its ``//``."""
    scheme, sep, _ = value.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgresql+psycopg", "postgres"):
        return value
    return Path(value)


def load_form_arg(value: str) -> Form:
    """A rubric/taxonomy given as a built-in template key or a file path."""
    from medreview.services.projects import form_from

    return form_from(value)


def log_dir() -> Path:
    """``MEDREVIEW_LOG_DIR``, else ``$MEDREVIEW_HOME/logs``, else the platform's user log dir."""
    override = os.environ.get("MEDREVIEW_LOG_DIR")
    if override:
        return Path(override)
    home = os.environ.get("MEDREVIEW_HOME")
    if home:
        return Path(home) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("medreview", appauthor=False))


def write_error_log(command: str, exc: BaseException) -> Path | None:
    """Append the full traceback of ``exc`` to ``errors.log``; its path, or None if unwritable."""
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "errors.log"
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        # 0600: a traceback may quote case text or an endpoint; it is for this user only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(f"--- {stamp} {command}\n")  # no argv: it may hold a key or a URL
            fh.writelines(traceback.format_exception(exc))
        return path
    except OSError:
        return None
