"""Which parser reads a file: ``detect_format`` looks at its name and first record only.

Formats: ``jsonl``, ``csv``, ``wide-csv`` (never detected: asked for explicitly),
``healthbench``, ``inspect-eval``, ``ratings-csv``, ``ratings-jsonl``, ``media-folder``.
``parse_file`` dispatches to the parser of a format.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from medreview.domain.records import Located
from medreview.importers._common import csv_delimiter, fail
from medreview.importers.healthbench import detect_shape, parse_healthbench
from medreview.importers.inspect_ai import is_inspect_json, parse_inspect_log
from medreview.importers.jsonl_csv import FieldMapping, parse_csv, parse_jsonl, parse_wide_csv
from medreview.importers.media import parse_media_folder
from medreview.importers.prior_ratings import (
    is_ratings_header,
    parse_ratings_csv,
    parse_ratings_jsonl,
)
from medreview.progress import CancelToken, Progress, no_progress

FORMATS = (
    "jsonl",
    "csv",
    "wide-csv",
    "healthbench",
    "inspect-eval",
    "ratings-csv",
    "ratings-jsonl",
    "media-folder",
)
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_CSV_SUFFIXES = {".csv", ".tsv", ".tab"}


def _first_json_line(path: Path) -> dict[str, object] | None:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if raw.strip():
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise fail(f"malformed JSON: {exc}", path, lineno) from None
                return obj if isinstance(obj, dict) else None
    return None


def detect_format(path: str | Path) -> str:
    """The format name of ``path`` (see ``FORMATS``); raises ``ImportFailed`` if unknown."""
    path = Path(path)
    if path.is_dir():
        return "media-folder"
    if not path.is_file():
        raise fail("no such file", path)
    suffix = path.suffix.lower()
    if suffix == ".eval" or zipfile.is_zipfile(path):
        return "inspect-eval"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
        # Decide on the first 64 KiB: an EvalLog begins with version/status/eval; a simple-evals
        # allresults file carries "example_level_metadata"; loading the whole file just to
        # look would double the cost of a large log.
        if path.name.endswith("_allresults.json"):
            return "healthbench"
        if b'"eval"' in head and (b'"samples"' in head or b'"status"' in head):
            return "inspect-eval"
        if b"example_level_metadata" in head:
            return "healthbench"
        try:
            obj = json.loads(path.read_bytes())
        except json.JSONDecodeError as exc:
            raise fail(f"malformed JSON: {exc.msg}", path, exc.lineno) from None
        if is_inspect_json(obj):
            return "inspect-eval"
        raise fail(
            "unrecognised JSON file (expected an inspect-ai log or simple-evals results)", path
        )
    if suffix in _JSONL_SUFFIXES:
        first = _first_json_line(path)
        if first is None:
            return "jsonl"
        if detect_shape(dict(first)) is not None:
            return "healthbench"
        if is_ratings_header(set(first)):
            return "ratings-jsonl"
        return "jsonl"
    if suffix in _CSV_SUFFIXES:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=csv_delimiter(path)), [])
        return "ratings-csv" if is_ratings_header([h.strip() for h in header]) else "csv"
    raise fail(
        f"unknown file type {suffix or '(no suffix)'}: "
        "expected .jsonl, .csv, .json, .eval or a folder",
        path,
    )


def parse_file(
    path: str | Path,
    fmt: str | None = None,
    mapping: FieldMapping | Mapping[str, str | Sequence[str]] | None = None,
    *,
    model: str | None = None,
    model_columns: Sequence[str] | None = None,
    manifest: str | Path | None = None,
    rater_kind: str = "physician",
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Stream the records of ``path`` in format ``fmt`` (detected when None).

    ``mapping`` (a ``FieldMapping`` or ``{role: column}`` overrides as given by ``--map``)
    applies to ``jsonl``/``csv``/``wide-csv``; ``model`` names the model for
    completions without one (HealthBench; for jsonl/csv it is the mapping's default model);
    ``model_columns`` picks the model columns of a wide CSV; ``manifest`` links media files to
    cases; ``rater_kind`` is the default kind of prior ratings.
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", path)
    if mapping is not None and not isinstance(mapping, FieldMapping):
        try:
            mapping = FieldMapping.from_overrides(mapping)
        except ValueError as exc:
            raise fail(f"field mapping: {exc}", path) from None
    if model is not None and fmt in ("jsonl", "csv", "wide-csv"):
        mapping = dataclasses.replace(mapping or FieldMapping(), default_model=model)
    if fmt == "jsonl":
        return parse_jsonl(path, mapping, progress=progress, token=token)
    if fmt == "csv":
        return parse_csv(path, mapping, progress=progress, token=token)
    if fmt == "wide-csv":
        return parse_wide_csv(
            path, mapping, model_columns=model_columns, progress=progress, token=token
        )
    if fmt == "healthbench":
        return parse_healthbench(path, model=model, progress=progress, token=token)
    if fmt == "inspect-eval":
        return parse_inspect_log(path, progress=progress, token=token)
    if fmt == "ratings-csv":
        return parse_ratings_csv(path, rater_kind=rater_kind, progress=progress, token=token)
    if fmt == "ratings-jsonl":
        return parse_ratings_jsonl(path, rater_kind=rater_kind, progress=progress, token=token)
    return parse_media_folder(path, manifest, progress=progress, token=token)
