"""Helpers shared by subcommands: argument types, opening projects, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medreview.domain.rubric import Form
from medreview.errors import InputError


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def load_form_arg(value: str) -> Form:
    """A rubric/taxonomy given as a built-in template key or a file path."""
    from medreview.rubrics.load import load_form
    from medreview.rubrics.templates import list_templates, load_template

    path = Path(value)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
        return load_form(path)
    keys = [t.key for t in list_templates()]
    if value in keys:
        return load_template(value)
    raise InputError(
        f"not a file and not a built-in template; templates are: {', '.join(keys)}", item=value
    )
