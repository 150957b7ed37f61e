"""Import options as the user gives them (``--map``, ``--encoding``, ``--na``, ...), checked and
turned into what ``importing.import_file`` takes. Shared by the CLI and the app's import dialog
so both import a file the same way and refuse a bad option with the same one-line reason.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medreview.errors import InputError
from medreview.importers.jsonl_csv import FieldMapping

#: Roles a ``--map`` can name for case/output files (ratings files add ``q:QUESTION``).
MAP_ROLES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(FieldMapping) if f.name != "default_model"
)

#: Encodings offered first; any other name Python knows is accepted too.
COMMON_ENCODINGS: tuple[str, ...] = ("utf-8", "cp1252", "latin-1", "utf-16", "mac-roman")


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``--map`` items as ``{field: "col1,col2"}``; ``field=`` (empty) turns a field off."""
    mapping: dict[str, str] = {}
    for item in items:
        field, sep, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field:
            raise InputError("--map takes FIELD=COLUMN (or FIELD= to turn a field off)", item=item)
        if column and mapping.get(field):
            mapping[field] = f"{mapping[field]},{column}"
        else:
            mapping[field] = column
    return mapping


def check_encoding(name: str) -> None:
    """Refuse an encoding name Python does not know, or a codec that is not text (rot13...)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputError(
            f"unknown encoding {name!r} (try utf-8, cp1252 or latin-1)", item="--encoding"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(f"{name!r} is not a text encoding", item="--encoding")


def split_na(text: str) -> tuple[str, ...]:
    """Comma-separated missing-value markers (the dialog's field) as ``--na`` values."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def file_options(
    *,
    left_out: list[tuple[str, str]],
    strict: bool = False,
    model: str | None = None,
    manifest: Path | None = None,
    models: str | None = None,
    rater_kind: str | None = None,
    rater: str | None = None,
    encoding: str | None = None,
    na: Iterable[str] = (),
) -> dict[str, Any]:
    """The ``options`` of ``import_file`` for one file; ``left_out`` collects the media files
    a non-strict folder import leaves out, as ``(path, reason)``."""
    return {
        "strict_dicom": strict,
        "left_out": left_out,
        "model": model,
        "manifest": manifest,
        "model_columns": models.split(",") if models else None,
        "rater_kind": rater_kind,
        "rater": rater,
        "encoding": encoding,
        "na": tuple(na) or None,
    }
