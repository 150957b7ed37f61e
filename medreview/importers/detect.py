"""Which parser reads a file: ``detect_format`` looks at its name and first record only.

Formats: ``jsonl``, ``csv``, ``wide-csv`` (never detected: asked for explicitly),
``healthbench``, ``inspect-eval``, ``ratings-csv``, ``ratings-jsonl``, ``media-folder``,
``medec``, ``medval``.
``parse_file`` dispatches to the parser of a format.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from medreview.domain.records import Located
from medreview.errors import ImportFailed
from medreview.importers._common import (
    JsonTooDeep,
    fail,
    iter_csv,
    loads_limited,
    read_records,
    read_text,
)
from medreview.importers.healthbench import detect_shape, parse_healthbench
from medreview.importers.inspect_ai import is_inspect_json, parse_inspect_log
from medreview.importers.jsonl_csv import FieldMapping, parse_csv, parse_jsonl, parse_wide_csv
from medreview.importers.medec import RUBRIC_KEY as MEDEC_RUBRIC
from medreview.importers.medec import is_medec_header, parse_medec
from medreview.importers.media import parse_media_folder
from medreview.importers.medval import RUBRIC_KEY as MEDVAL_RUBRIC
from medreview.importers.medval import is_medval_header, parse_medval
from medreview.importers.prior_ratings import (
    RatingForm,
    RatingsMapping,
    is_ratings_header,
    parse_ratings_csv,
    parse_ratings_jsonl,
)
from medreview.progress import CancelToken, Progress, no_progress

FORMATS = (
    "jsonl",
    "json",
    "csv",
    "wide-csv",
    "healthbench",
    "inspect-eval",
    "ratings-csv",
    "ratings-jsonl",
    "media-folder",
    "medec",
    "medval",
)
# Benchmark formats whose ground truth is stored on a built-in rubric (format -> rubric key).
BUILTIN_RUBRIC = {"medec": MEDEC_RUBRIC, "medval": MEDVAL_RUBRIC}
_JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_CSV_SUFFIXES = {".csv", ".tsv", ".tab"}
_TABULAR = ("jsonl", "json", "csv", "wide-csv")
_RATINGS = ("ratings-csv", "ratings-jsonl")


def _first_record(path: Path, encoding: str | None) -> dict[str, Any] | None:
    with closing(read_records(path, encoding=encoding)) as records:
        for _line, _key, obj in records:
            return obj
    return None


def _detect_json(path: Path, encoding: str | None) -> str:
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
        first = _first_record(path, encoding)
    except ImportFailed as records_error:
        # Not an array/dict of records: the last chance is an inspect log laid out otherwise.
        text = read_text(path, encoding)
        try:
            obj = loads_limited(text)
        except json.JSONDecodeError as exc:
            raise fail(f"malformed JSON: {exc.msg}", path, exc.lineno) from None
        except JsonTooDeep as exc:
            raise fail(str(exc), path) from None
        if is_inspect_json(obj):
            return "inspect-eval"
        if isinstance(obj, dict | list):
            raise fail(
                "unrecognised JSON file (expected an array or object of records, an "
                f"inspect-ai log or simple-evals results): {records_error.reason}",
                path,
                records_error.line,
            ) from None
        raise
    if first is None:
        return "json"
    if is_medval_header(set(first)):
        return "medval"
    return "ratings-jsonl" if is_ratings_header(set(first)) else "json"


def detect_format(path: str | Path, encoding: str | None = None) -> str:
    """The format name of ``path`` (see ``FORMATS``); raises ``ImportFailed`` if unknown.

    Text formats are told by suffix, then by their first record or header; binary files
    renamed to a text suffix are refused here (by signature), not handed to a parser.
    """
    path = Path(path)
    if path.is_dir():
        return "media-folder"
    if not path.is_file():
        raise fail("no such file", path)
    suffix = path.suffix.lower()
    if suffix == ".eval":
        return "inspect-eval"
    if suffix == ".json":
        return _detect_json(path, encoding)
    if suffix in _JSONL_SUFFIXES:
        first = _first_record(path, encoding)
        if first is None:
            return "jsonl"
        if detect_shape(dict(first)) is not None:
            return "healthbench"
        if is_medval_header(set(first)):
            return "medval"
        if is_ratings_header(set(first)):
            return "ratings-jsonl"
        return "jsonl"
    if suffix in _CSV_SUFFIXES:
        header, rows = iter_csv(path, no_progress, None, encoding=encoding)
        rows.close()
        if is_medec_header(header):
            return "medec"
        if is_medval_header(header):
            return "medval"
        return "ratings-csv" if is_ratings_header(header) else "csv"
    if zipfile.is_zipfile(path):
        return "inspect-eval"
    raise fail(
        f"unknown file type {suffix or '(no suffix)'}: "
        "expected .jsonl, .json, .csv, .tsv, .eval or a folder",
        path,
    )


def _split_mapping(
    overrides: Mapping[str, str | Sequence[str]],
) -> tuple[dict[str, str | Sequence[str]], dict[str, str | Sequence[str]]]:
    """``--map`` overrides split into the generic roles and the ratings-only ones."""
    generic: dict[str, str | Sequence[str]] = {}
    ratings: dict[str, str | Sequence[str]] = {}
    for key, value in overrides.items():
        (ratings if key.strip().startswith("q:") else generic)[key] = value
    return generic, ratings


def parse_file(
    path: str | Path,
    fmt: str | None = None,
    mapping: FieldMapping | RatingsMapping | Mapping[str, str | Sequence[str]] | None = None,
    *,
    model: str | None = None,
    model_columns: Sequence[str] | None = None,
    manifest: str | Path | None = None,
    rater_kind: str = "physician",
    rater: str | None = None,
    form: RatingForm | None = None,
    encoding: str | None = None,
    na: Collection[str] = (),
    strict_dicom: bool | None = None,
    left_out: list[tuple[str, str]] | None = None,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Stream the records of ``path`` in format ``fmt`` (detected when None).

    Media folders: DICOM files left out are appended to ``left_out`` as (path, reason);
    ``strict_dicom`` refuses the folder instead (the default when no ``left_out`` is given).

    ``mapping`` (a ``FieldMapping``/``RatingsMapping`` or ``{role: column}`` overrides as given
    by ``--map``, ``q:<question>`` keys for ratings) applies to the generic formats and ratings
    files; ``model`` names the model for completions or ratings without one (HealthBench,
    tabular files); ``rater`` names the rater of a ratings file without a rater column;
    ``model_columns`` picks the model columns of a wide CSV; ``manifest`` links media files to
    cases; ``rater_kind`` is the default kind of prior ratings; ``form`` (the project's rubric)
    checks every rating; ``encoding`` reads text files without a byte-order mark that are not
    UTF-8; ``na`` lists cell values that mean "missing".
    """
    path = Path(path)
    fmt = fmt or detect_format(path, encoding)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", path)
    if fmt in _RATINGS:
        ratings = _ratings_mapping(path, mapping, model, rater)
        kwargs: dict[str, Any] = {
            "rater_kind": rater_kind,
            "mapping": ratings,
            "form": form,
            "encoding": encoding,
            "na": na,
            "progress": progress,
            "token": token,
        }
        if fmt == "ratings-csv":
            return parse_ratings_csv(path, **kwargs)
        return parse_ratings_jsonl(path, **kwargs)
    fields = _field_mapping(path, fmt, mapping, model)
    if fmt in ("jsonl", "json"):
        return parse_jsonl(path, fields, encoding=encoding, na=na, progress=progress, token=token)
    if fmt == "csv":
        return parse_csv(path, fields, encoding=encoding, na=na, progress=progress, token=token)
    if fmt == "wide-csv":
        return parse_wide_csv(
            path,
            fields,
            model_columns=model_columns,
            encoding=encoding,
            na=na,
            progress=progress,
            token=token,
        )
    if fmt == "healthbench":
        return parse_healthbench(path, model=model, progress=progress, token=token)
    if fmt == "inspect-eval":
        return parse_inspect_log(path, progress=progress, token=token)
    if fmt == "medec":
        return parse_medec(path, encoding=encoding, na=na, progress=progress, token=token)
    if fmt == "medval":
        return parse_medval(path, encoding=encoding, na=na, progress=progress, token=token)
    return parse_media_folder(path, manifest, strict_dicom=strict_dicom, left_out=left_out,
                              progress=progress, token=token)


def _ratings_mapping(
    path: Path,
    mapping: FieldMapping | RatingsMapping | Mapping[str, str | Sequence[str]] | None,
    model: str | None,
    rater: str | None,
) -> RatingsMapping:
    if isinstance(mapping, FieldMapping):
        raise fail("a FieldMapping applies to cases and outputs, not to a ratings file", path)
    if mapping is None or isinstance(mapping, RatingsMapping):
        result = mapping or RatingsMapping()
    else:
        try:
            result = RatingsMapping.from_overrides(mapping)
        except ValueError as exc:
            raise fail(f"field mapping: {exc}", path) from None
    if model is not None:
        result = dataclasses.replace(result, default_model=model)
    if rater is not None:
        result = dataclasses.replace(result, default_rater=rater)
    return result


def _field_mapping(
    path: Path,
    fmt: str,
    mapping: FieldMapping | RatingsMapping | Mapping[str, str | Sequence[str]] | None,
    model: str | None,
) -> FieldMapping | None:
    if mapping is not None and fmt not in _TABULAR:
        raise fail(f"--map does not apply to {fmt} files (only to {', '.join(_TABULAR)}"
                   " and ratings files)", path)
    if isinstance(mapping, RatingsMapping):
        raise fail("a ratings mapping applies to ratings files only", path)
    if mapping is not None and not isinstance(mapping, FieldMapping):
        generic, ratings = _split_mapping(mapping)
        if ratings:
            raise fail(
                f"--map {next(iter(ratings))}=... maps a rubric question, which applies to "
                "ratings files only (add --format ratings-csv or ratings-jsonl)",
                path,
            )
        try:
            mapping = FieldMapping.from_overrides(generic)
        except ValueError as exc:
            raise fail(f"field mapping: {exc}", path) from None
    if model is not None and fmt in _TABULAR:
        mapping = dataclasses.replace(mapping or FieldMapping(), default_model=model)
    return mapping
