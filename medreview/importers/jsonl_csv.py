"""Generic cases and model outputs from JSONL, JSON and CSV, through an overridable field mapping.

One line (row) may carry a case, a model output, or both. Cases repeated on several lines (one
line per model answer) are emitted once; a repeat with the same id but a different prompt is an
error. Columns the mapping does not name are kept as metadata: on the output when the line has
one, else on the case. ``parse_wide_csv`` reads the spreadsheet layout with one column per model.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord, text_sha256
from medreview.importers._common import (
    Seen,
    as_id,
    as_str,
    canonical_json,
    content_hash,
    fail,
    iter_csv,
    maybe_json,
    parse_context,
    parse_messages,
    parse_tags,
    quick_constructor,
    read_records,
    without_na,
)
from medreview.progress import CancelToken, Progress, no_progress


@dataclass(frozen=True)
class FieldMapping:
    """Which input fields mean what. Each role lists accepted names, first match wins.

    Override any role with ``dataclasses.replace(FieldMapping(), model=("engine",))`` or the
    CLI's ``--map role=name[,name]``. ``case_metadata`` names extra columns that describe the
    case (kept on the case even when the line also has an output). ``default_model`` names the
    model when the file has no model column.
    """

    case_id: tuple[str, ...] = ("case_id", "id", "prompt_id")
    output_id: tuple[str, ...] = ("output_id", "completion_id", "response_id")
    prompt: tuple[str, ...] = ("prompt", "question", "input")
    messages: tuple[str, ...] = ("messages", "conversation")
    system: tuple[str, ...] = ("system", "system_prompt")
    title: tuple[str, ...] = ("title",)
    model: tuple[str, ...] = ("model", "model_name")
    output: tuple[str, ...] = ("output", "response", "answer", "completion")
    context: tuple[str, ...] = ("context", "notes")
    tags: tuple[str, ...] = ("tags",)
    reference: tuple[str, ...] = (
        "reference",
        "reference_answer",
        "ideal",
        "ideal_answer",
        "ideal_completion",
    )
    # key_slice: the slice the viewer opens at (1-based, or a map series UID -> slice).
    case_metadata: tuple[str, ...] = ("key_slice",)
    default_model: str | None = None

    def known(self) -> frozenset[str]:
        """Every field name that has a role (so is not kept as metadata)."""
        names: set[str] = set()
        for role in (
            self.case_id,
            self.output_id,
            self.prompt,
            self.messages,
            self.system,
            self.title,
            self.model,
            self.output,
            self.context,
            self.tags,
            self.reference,
        ):
            names.update(role)
        return frozenset(names)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Sequence[str] | str]) -> FieldMapping:
        """A mapping with some roles replaced, e.g. ``{"model": "engine", "output": "a,b"}``.

        Keys are role names (or the common field names that stand for them: ``id``,
        ``question``, ``response``...); a string value may list several names with commas.
        An empty value turns the role off (``output=``: no column is read as a model output).
        Raises ``ValueError`` naming an unknown role.
        """
        base = cls()
        kwargs: dict[str, Any] = {}
        for key, names in overrides.items():
            role = ROLE_ALIASES.get(key.strip(), key.strip())
            if role == "default_model":
                kwargs[role] = str(names).strip()
                continue
            if key.strip().startswith("q:"):
                raise ValueError(
                    f"{key!r} maps a rubric question: that applies to ratings files only"
                )
            if role not in base.__dataclass_fields__:
                roles = ", ".join(sorted(set(base.__dataclass_fields__) | set(ROLE_ALIASES)))
                raise ValueError(f"unknown field role {key!r}; roles are: {roles}")
            if isinstance(names, str):
                names = names.split(",")
            kwargs[role] = tuple(n.strip() for n in names if n.strip())
        return dataclasses.replace(base, **kwargs)


# Names a user may write for a role in ``--map ROLE=COLUMN`` besides the role itself.
ROLE_ALIASES = {
    "id": "case_id",
    "question": "prompt",
    "input": "prompt",
    "conversation": "messages",
    "model_name": "model",
    "response": "output",
    "answer": "output",
    "completion": "output",
    "notes": "context",
    "ideal": "reference",
    "reference_answer": "reference",
    "completion_id": "output_id",
}


# The records of every line, made without a call per field (``_common.quick_constructor``).
_new_case = quick_constructor(CaseRecord)
_new_output = quick_constructor(OutputRecord)
_located = quick_constructor(Located)

# The roles a line's fields are read for, in the order their values are checked.
_ROLES = (
    "case_id", "output_id", "prompt", "messages", "system", "title", "model", "output",
    "context", "tags", "reference",
)

# What ``_RowParser.fields`` finds for a role: (rank of the name in the role, name, value).
_Found = tuple[int, str, Any]


@dataclass
class _RowParser:
    """Turns one row (dict) into case/output records, with the file-wide dedup state.

    A row is read in one pass over its fields (``fields``): each field either fills a role
    (the first name of the role's list that is present with a value wins, as ``pick`` would
    choose) or is kept as metadata. A case is built only the first time its id is seen; its
    repeats (one line per model answer) are validated the same way and compared by a digest
    of the validated values.
    """

    path: Path
    mapping: FieldMapping
    na: frozenset[str] = frozenset()
    cases: Seen = field(init=False)
    outputs: Seen = field(init=False)
    known: frozenset[str] = field(init=False)
    _roles: dict[str, tuple[tuple[str, int], ...]] = field(init=False)
    _source: str = field(init=False)
    # The last case read: its id, content and digest (its repeat on the next line is common).
    _last_case: tuple[str, tuple[Any, ...], bytes] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.cases = Seen(self.path, "case")
        self.outputs = Seen(self.path, "output")
        roles: dict[str, list[tuple[str, int]]] = {}
        for role in _ROLES:
            for rank, name in enumerate(getattr(self.mapping, role)):
                roles.setdefault(name, []).append((role, rank))
        self._roles = {name: tuple(r) for name, r in roles.items()}
        self.known = frozenset(self._roles)
        self._source = str(self.path)

    def fields(self, row: dict[str, Any]) -> tuple[dict[str, _Found], dict[str, Any]]:
        """The value of each role found in ``row``, and the fields no role names (metadata;
        a CSV cell that holds JSON decoded, an empty cell left out)."""
        found: dict[str, _Found] = {}
        extras: dict[str, Any] = {}
        roles_of = self._roles
        for name, value in row.items():
            roles = roles_of.get(name)
            if roles is None:
                if value != "":
                    extras[name] = maybe_json(value)
                continue
            if value is None or (isinstance(value, str) and (not value or value.isspace())):
                continue  # present without a value: the role's next name may have one
            for role, rank in roles:
                prior = found.get(role)
                if prior is None or rank < prior[0]:
                    found[role] = (rank, name, value)
        return found, extras

    def case_id(self, found: dict[str, _Found], line: int, key: str | None = None) -> str:
        got = found.get("case_id")
        if got is None and key is not None:
            return as_id(key, "(record key)", self.path, line)  # a dict of records
        if got is None:
            raise fail(
                f"missing required field: one of {', '.join(self.mapping.case_id)}", self.path, line
            )
        return as_id(got[2], got[1], self.path, line)

    def case(
        self, found: dict[str, _Found], line: int, case_id: str, extras: dict[str, Any]
    ) -> CaseRecord | None:
        """The row's case, or None when an identical case was already emitted from this file."""
        m, path = self.mapping, self.path
        msgs = found.get("messages")
        prompt = found.get("prompt")
        messages: tuple[Message, ...] | None = None
        if msgs is not None:
            messages = parse_messages(msgs[2], msgs[1], path, line, case_id)
            turns = tuple((x.role, x.content) for x in messages)
        elif prompt is not None:
            _rank, prompt_name, value = prompt
            if isinstance(value, str) and value.lstrip()[:1] != "[":
                turns = (("user", value),)  # prose: the common case, no message list to read
            else:
                decoded = maybe_json(value)
                # A CSV cell may hold a JSON message list; other text (even "[1] ...") is prose.
                if isinstance(decoded, list) and all(
                    isinstance(x, dict) and "role" in x for x in decoded
                ):
                    value = decoded
                if isinstance(value, list):  # HealthBench-style prompt given as a message list
                    messages = parse_messages(value, prompt_name, path, line, case_id)
                    turns = tuple((x.role, x.content) for x in messages)
                else:
                    turns = (("user", as_str(value, prompt_name, path, line, case_id)),)
        else:
            names = ", ".join((*m.prompt, *m.messages))
            raise fail(f"missing required field: one of {names}", path, line, case_id)
        system = found.get("system")
        if system is not None:
            turns = (("system", as_str(system[2], system[1], path, line, case_id)), *turns)
            messages = None
        title = found.get("title")
        ctx = found.get("context")
        tags = found.get("tags")
        ref = found.get("reference")
        title_text = as_str(title[2], title[1], path, line, case_id) if title else ""
        context = parse_context(ctx[2], ctx[1], path, line) if ctx else ()
        tag_list = parse_tags(tags[2], tags[1], path, line) if tags else ()
        reference = as_str(ref[2], ref[1], path, line, case_id) if ref else None
        # Every part but the metadata is text (compared exactly by ``==`` and by ``repr``);
        # the metadata (any JSON: 1, 1.0 and true differ) enters by its canonical JSON's hash.
        content = (
            turns, title_text, tuple((d.title, d.text, d.kind) for d in context), tag_list,
            reference, content_hash(extras) if extras else None,
        )
        last = self._last_case
        if last is not None and last[0] == case_id and last[1] == content:
            digest = last[2]  # the line before had this very case (one line per model)
        else:
            digest = hashlib.sha256(repr(content).encode("utf-8")).digest()
            self._last_case = (case_id, content, digest)
        if not self.cases.is_new_digest(
            case_id, digest, line, differs="a different prompt or case fields"
        ):
            return None
        if messages is None:
            messages = tuple(Message(role, text) for role, text in turns)
        return _new_case(case_id, messages, title_text, context, tag_list, (), extras, reference)

    def rows(self, row: dict[str, Any], line: int, key: str | None = None) -> Iterator[Located]:
        m, path = self.mapping, self.path
        if self.na:
            row = without_na(row, self.na)
        found, extras = self.fields(row)
        case_id = self.case_id(found, line, key)
        out = found.get("output")
        if out is None:
            case_extras = extras  # a case-only line: every extra describes the case
            output_extras = extras
        elif m.case_metadata and not extras.keys().isdisjoint(m.case_metadata):
            case_extras = {k: v for k, v in extras.items() if k in m.case_metadata}
            output_extras = {k: v for k, v in extras.items() if k not in m.case_metadata}
        else:
            case_extras, output_extras = {}, extras
        case = self.case(found, line, case_id, case_extras)
        if case is not None:
            # Yielded before the output is checked: a bad output after it is reported after
            # the case reached the ingest (whose own error, if any, came first).
            yield _located(case, self._source, line)
        if out is None:
            return
        text = as_str(out[2], out[1], path, line, case_id)
        model_found = found.get("model")
        if model_found is not None:
            model = as_str(model_found[2], model_found[1], path, line, case_id).strip()
        elif m.default_model:
            model = m.default_model
        else:
            raise fail(
                f"line has an output but no model: add one of {', '.join(m.model)} "
                "or give a default model",
                path,
                line,
                case_id,
            )
        oid = found.get("output_id")
        output_id = as_id(oid[2], oid[1], path, line) if oid else None
        key = f"{case_id} / {model}" + (f" / {output_id}" if output_id else "")
        if self.outputs.is_new_digest(
            key, _output_digest(text, output_extras), line, "a different text"
        ):
            record = _new_output(case_id, model, text, output_id, output_extras)
            yield _located(record, self._source, line)


def _output_digest(text: str, metadata: dict[str, Any]) -> str:
    """What tells repeats of an output apart: its text and metadata. The text's sha256 is the
    one the ingest stores (``text_sha256`` remembers it), so the text is hashed once; the
    metadata's canonical JSON follows it as it is when short, else its sha256 does."""
    sha = text_sha256(text)
    if not metadata:
        return sha
    meta = canonical_json(metadata)
    if len(meta) <= _SHORT_METADATA:
        return f"{sha}|{meta}"
    return f"{sha}#{hashlib.sha256(meta.encode('utf-8')).hexdigest()}"


# Metadata JSON up to this length is kept in the dedup digest itself (no second hash).
_SHORT_METADATA = 128


def parse_jsonl(
    path: str | Path,
    mapping: FieldMapping | None = None,
    *,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Cases and outputs from JSON Lines, or a ``.json`` array or dict of records.

    In a dict of records (``{"q1": {...}, "q2": {...}}``) the key is the case id unless the
    record has a case id field. String values listed in ``na`` read as missing.
    """
    path = Path(path)
    parser = _RowParser(path, mapping or FieldMapping(), frozenset(na))
    with closing(read_records(path, encoding=encoding, progress=progress, token=token)) as recs:
        for line, key, obj in recs:
            yield from parser.rows(obj, line, key)


def parse_csv(
    path: str | Path,
    mapping: FieldMapping | None = None,
    *,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Cases and outputs from a CSV (or ``.tsv``) file with a header row."""
    path = Path(path)
    parser = _RowParser(path, mapping or FieldMapping())
    _header, rows = iter_csv(path, progress, token, encoding=encoding, na=na)
    with closing(rows):
        for line, row in rows:
            yield from parser.rows(row, line)


def parse_wide_csv(
    path: str | Path,
    mapping: FieldMapping | None = None,
    *,
    model_columns: Sequence[str] | None = None,
    encoding: str | None = None,
    na: Collection[str] = (),
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """A CSV with one row per case and one column per model holding that model's answer.

    ``model_columns`` names the model columns; by default every column the mapping does not
    know is a model column (its header is the model name). Empty cells mean "no answer".
    """
    path = Path(path)
    m = mapping or FieldMapping()
    parser = _RowParser(path, m)
    header, rows = iter_csv(path, progress, token, encoding=encoding, na=na)
    known = m.known() | set(m.case_metadata)
    models = (
        list(model_columns)
        if model_columns is not None
        else [h for h in header if h and h not in known]
    )
    missing = [c for c in models if c not in header]
    if missing:
        raise fail(f"model column(s) not in the header: {', '.join(missing)}", path, 1)
    if not models:
        raise fail("no model columns found for a wide CSV", path, 1)
    with closing(rows):
        for line, row in rows:
            found, _extras = parser.fields(row)
            case_id = parser.case_id(found, line)
            extras = {
                k: maybe_json(v)
                for k, v in row.items()
                if k not in known and k not in models and v != ""
            }
            case = parser.case(found, line, case_id, extras)
            if case is not None:
                yield Located(case, str(path), line)
            for model in models:
                text = row.get(model, "")
                if not text.strip():
                    continue
                key = f"{case_id} / {model}"
                if parser.outputs.is_new_digest(key, text_sha256(text), line, "a different text"):
                    yield Located(OutputRecord(case_id, model, text), str(path), line)
