"""Helpers shared by subcommands: argument types, opening projects, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from medreview.domain.rubric import Form


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def load_form_arg(value: str) -> Form:
    """A rubric/taxonomy given as a built-in template key or a file path."""
    from medreview.services.projects import form_from

    return form_from(value)
