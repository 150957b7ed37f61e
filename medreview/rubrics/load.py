"""Read, validate and write rubric/taxonomy files (``medreview-form/1``, YAML or JSON).

``parse_form`` turns the canonical mapping (what ``medreview.domain.rubric.form_to_dict``
writes) back into a ``Form`` and refuses anything it would not write: every problem raises
``RubricError`` naming the file, the YAML line when known, the field path
(``questions[3].options[1].value``) and the reason. ``load_form(dump_form(f))`` equals ``f``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from medreview.domain.not_assessed import NOT_APPLICABLE
from medreview.domain.rubric import (
    CASE_CRITERION_PREFIX,
    ErrorCategory,
    Form,
    FormKind,
    Option,
    Question,
    QuestionKind,
    form_to_dict,
)
from medreview.domain.scoring import SCORING_RULES
from medreview.errors import RubricError
from medreview.rubrics._fields import Reader, closest, describe, join
from medreview.rubrics.schema import (
    ALL_QUESTION_KEYS,
    CATEGORY_KEYS,
    CATEGORY_REQUIRED,
    COMMON_QUESTION_KEYS,
    FORM_KEYS,
    FORM_REQUIRED,
    FORMAT_ID,
    KIND_KEYS,
    MIN_OPTIONS,
    OPTION_KEYS,
    OPTION_REQUIRED,
    PAIRWISE_VALUES,
    QUESTION_REQUIRED,
)

Syntax = Literal["yaml", "json"]
_EXTENSIONS: dict[str, Syntax] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
# libyaml when PyYAML was built with it (10x faster); both give the same nodes and marks.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Real rubric files are a few kB and a few hundred YAML nodes. A file is read whole, so a huge
# one is refused first; YAML aliases (``*a``) let a small file stand for billions of nodes
# ("billion laughs") that every later step would walk, so they are counted first.
MAX_FORM_FILE_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 200_000


# --------------------------------------------------------------------------- reading text


def syntax_for(path: str | os.PathLike[str]) -> Syntax:
    """``yaml`` or ``json`` from the file extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise RubricError(
            f"unknown file extension {suffix or '(none)'!r}; use .yaml, .yml or .json",
            source=str(path),
        )
    return _EXTENSIONS[suffix]


def _yaml_lines(node: yaml.Node, path: str, out: dict[str, int], source: str) -> None:
    """Record the 1-based line of every field path; refuse duplicate keys (YAML keeps the last)."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = join(path, key)
            if key in seen:
                raise RubricError(
                    f"duplicate field {key!r}", source=source,
                    line=key_node.start_mark.line + 1, item=child,
                )
            seen.add(key)
            out[child] = key_node.start_mark.line + 1
            _yaml_lines(value_node, child, out, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _yaml_lines(item, join(path, i), out, source)


def expanded_nodes(root: yaml.Node) -> int:
    """How many nodes ``root`` stands for once aliases are expanded, counted on the composed
    graph (where an alias is one shared node, so this is cheap); ``MAX_YAML_NODES + 1`` past
    the cap or for an alias inside its own anchor (endless)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the current path: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion: children first, then the node
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done or not children:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(MAX_YAML_NODES + 1,
                                  1 + sum(sizes.get(id(c), 0) for c in children))
        elif id(node) in open_nodes:
            return MAX_YAML_NODES + 1
        else:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes.get(id(root), 0)


def _read_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    loader = _Loader(text)
    lines: dict[str, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        if expanded_nodes(node) > MAX_YAML_NODES:
            raise RubricError("the YAML expands (through its &anchors and *aliases) to more "
                              f"than {MAX_YAML_NODES:,} values; a rubric is a few hundred",
                              source=source)
        _yaml_lines(node, "", lines, source)
        return loader.construct_document(node), lines
    except RecursionError:
        raise RubricError("the YAML is nested too deeply", source=source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise RubricError(
            f"not valid YAML: {what or exc}", source=source,
            line=mark.line + 1 if mark is not None else None,
        ) from exc
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no mark
        raise RubricError(f"not valid YAML: {exc}", source=source) from exc
    finally:
        loader.dispose()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate field {key!r} in a JSON object")
        out[key] = value
    return out


def _read_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise RubricError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from exc
    except ValueError as exc:
        raise RubricError(str(exc), source=source) from exc
    except RecursionError:
        raise RubricError("the JSON is nested too deeply", source=source) from None


def loads_form(text: str, syntax: Syntax = "yaml", *, source: str = "<text>") -> Form:
    """Parse and validate a form from YAML or JSON text."""
    if syntax == "json":
        return parse_form(_read_json(text, source), source)
    data, lines = _read_yaml(text, source)
    return parse_form(data, source, lines=lines)


def load_form(path: str | os.PathLike[str]) -> Form:
    """Read and validate a ``.yaml``/``.yml``/``.json`` form file."""
    syntax = syntax_for(path)
    try:
        if Path(path).stat().st_size > MAX_FORM_FILE_BYTES:
            raise RubricError(f"the file is larger than {MAX_FORM_FILE_BYTES // (1024 * 1024)} "
                              "MB; a rubric file is a few kB", source=str(path))
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RubricError(f"not UTF-8 text ({exc.reason})", source=str(path)) from exc
    except OSError as exc:
        raise RubricError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from exc
    return loads_form(text, syntax, source=str(path))


# --------------------------------------------------------------------------- writing


def dumps_form(form: Form, syntax: Syntax = "yaml") -> str:
    """The canonical text of ``form``; refuses a form that would not load back."""
    data = form_to_dict(form)
    parse_form(data, f"form {form.key!r}")  # never write what cannot be read
    if syntax == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def dump_form(form: Form, path: str | os.PathLike[str]) -> None:
    """Write ``form`` to ``path`` (YAML or JSON by extension), replacing the file atomically."""
    target = Path(path)
    text = dumps_form(form, syntax_for(target))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = f"cannot write the file: {exc.strerror or exc}"
        raise RubricError(reason, source=str(path)) from exc


# --------------------------------------------------------------------------- validation


def _option_value(r: Reader, value: Any, path: str, kind: QuestionKind) -> str | int | float:
    if kind is QuestionKind.ORDINAL:
        if isinstance(value, bool) or not isinstance(value, int | float):
            r.fail(path, f"ordinal scale values must be numbers, not {describe(value)} {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            r.fail(path, "must be a finite number")
        return value
    if kind is QuestionKind.PAIRWISE:
        if value not in PAIRWISE_VALUES or not isinstance(value, str):
            r.fail(path, f"pairwise values must be one of {', '.join(PAIRWISE_VALUES)}, "
                   f"not {value!r}")
        return value
    if isinstance(value, bool):
        r.fail(path, "must be text or a number, not a boolean "
               "(in YAML, quote yes/no/true/false/on/off to mean text)")
    if isinstance(value, str):
        if not value.strip():
            r.fail(path, "must not be empty")
        if value == NOT_APPLICABLE:
            r.fail(path, f"{value!r} is reserved for 'not applicable' (use allow_na: true)")
        return value
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            r.fail(path, "must be a finite number")
        return value
    r.fail(path, f"must be text or a number, not {describe(value)}")


def _same_value(a: str | int | float, b: str | int | float) -> bool:
    # "1" and 1 are different stored values; 1 and 1.0 are the same one.
    return isinstance(a, str) == isinstance(b, str) and a == b


def _options(
    r: Reader, raw: list[Any], path: str, kind: QuestionKind, minimum: int
) -> tuple[Option, ...]:
    if len(raw) < minimum:
        r.fail(path, "must not be empty" if not raw else
               f"needs at least {minimum} options, has {len(raw)}")
    out: list[Option] = []
    for i, item in enumerate(raw):
        where = join(path, i)
        m = r.mapping(item, where, OPTION_KEYS, OPTION_REQUIRED)
        value = _option_value(r, m["value"], join(where, "value"), kind)
        for j, earlier in enumerate(out):
            if _same_value(earlier.value, value):
                r.fail(join(where, "value"), f"duplicate value {value!r} (also {join(path, j)})")
        if kind is QuestionKind.ORDINAL and out:
            previous = out[-1].value
            assert not isinstance(previous, str) and not isinstance(value, str)
            if not value > previous:
                r.fail(join(where, "value"), f"ordinal values must increase strictly: "
                       f"{value!r} follows {previous!r}")
        out.append(Option(value, r.text(m, "label", where, nonempty=True),
                          r.text(m, "description", where)))
    if kind is QuestionKind.PAIRWISE and not {"A", "B"} <= {o.value for o in out}:
        r.fail(path, "a pairwise question needs the options 'A' and 'B'")
    return tuple(out)


def _categories(r: Reader, raw: list[Any], path: str) -> tuple[ErrorCategory, ...]:
    if not raw:
        r.fail(path, "an error question needs at least one category")
    out: list[ErrorCategory] = []
    for i, item in enumerate(raw):
        where = join(path, i)
        m = r.mapping(item, where, CATEGORY_KEYS, CATEGORY_REQUIRED)
        cid = r.identifier(m, "id", where)
        for j, earlier in enumerate(out):
            if earlier.id == cid:
                r.fail(join(where, "id"), f"duplicate category id {cid!r} (also {join(path, j)})")
        out.append(ErrorCategory(cid, r.text(m, "label", where, nonempty=True),
                                 r.text(m, "description", where), r.text(m, "group", where)))
    return tuple(out)


def _question(r: Reader, raw: Any, path: str) -> Question:
    m = r.mapping(raw, path, ALL_QUESTION_KEYS, QUESTION_REQUIRED)
    type_name = m["type"]
    kinds = [k.value for k in QuestionKind]
    if type_name not in kinds:
        hint = closest(str(type_name), kinds)
        r.fail(join(path, "type"),
               f"unknown question type {type_name!r}{hint}; one of {', '.join(kinds)}")
    kind = QuestionKind(type_name)
    for key in m:
        if key in COMMON_QUESTION_KEYS or key in KIND_KEYS[kind]:
            continue
        users = [k.value for k, keys in KIND_KEYS.items() if key in keys]
        r.fail(join(path, key), f"{key!r} does not apply to questions of type {kind.value!r} "
               f"(it is for: {', '.join(users)})")
    if str(m["id"]).startswith(CASE_CRITERION_PREFIX):
        r.fail(join(path, "id"),
               f"ids starting with {CASE_CRITERION_PREFIX!r} are reserved for per-case criteria")
    qid = r.identifier(m, "id", path)
    points = r.number(m, "points", path)
    if kind is QuestionKind.CRITERION:
        if points is None:
            r.fail(join(path, "points"), "a criterion needs points (negative for a penalty)")
        if points == 0:
            r.fail(join(path, "points"), "points must not be 0 (negative points mark a penalty)")
    options: tuple[Option, ...] = ()
    if kind in MIN_OPTIONS:
        raw_options = r.items(m, "options", path)
        # Pairwise options are optional: without them the answer is A, B or tie.
        if raw_options or kind is not QuestionKind.PAIRWISE:
            options = _options(r, raw_options, join(path, "options"), kind, MIN_OPTIONS[kind])
    categories: tuple[ErrorCategory, ...] = ()
    severities: tuple[Option, ...] = ()
    if kind is QuestionKind.ERROR:
        categories = _categories(r, r.items(m, "categories", path), join(path, "categories"))
        if "severities" in m:
            severities = _options(r, r.items(m, "severities", path), join(path, "severities"),
                                  QuestionKind.SINGLE_CHOICE, 1)
    if m.get("allow_na") is True and kind in (QuestionKind.ERROR, QuestionKind.TEXT):
        # "no error found" ([]) and a typed text already say it; N/A would be a third state
        r.fail(join(path, "allow_na"), f"questions of type {kind.value!r} cannot be "
               "answered 'not applicable'")
    minimum, maximum = r.number(m, "minimum", path), r.number(m, "maximum", path)
    if minimum is not None and maximum is not None and minimum > maximum:
        r.fail(join(path, "minimum"), f"minimum {minimum} is greater than maximum {maximum}")
    return Question(
        id=qid, kind=kind, prompt=r.text(m, "prompt", path, nonempty=True),
        help=r.text(m, "help", path), required=r.boolean(m, "required", path),
        points=points, options=options, categories=categories, severities=severities,
        minimum=minimum, maximum=maximum, unit=r.text(m, "unit", path),
        tags=r.text_list(m, "tags", path),
        allow_na=None if m.get("allow_na") is None else r.boolean(m, "allow_na", path),
    )


def _check_json_value(r: Reader, value: Any, path: str) -> None:
    """``extra`` must survive JSON (the form's hash and the JSON format): no dates, sets, NaN."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            r.fail(path, "must be a finite number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(r, item, join(path, i))
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                r.fail(path, f"keys must be text, not {describe(key)} {key!r}")
            _check_json_value(r, item, join(path, key))
        return
    r.fail(path, f"must be text, a number, true/false, a list or a mapping, not {describe(value)} "
           "(quote dates in YAML)")


def _check_form_rules(r: Reader, form: Form) -> None:
    """Rules about the form as a whole, once every question is valid."""
    kinds = {q.kind for q in form.questions}
    if not form.questions and not form.per_case_criteria:
        r.fail("questions", "a form needs at least one question (or per_case_criteria: true)")
    if form.kind is FormKind.TAXONOMY and QuestionKind.ERROR not in kinds:
        r.fail("questions", "a taxonomy needs at least one question of type error")
    if form.scoring == "healthbench" and not (
        form.per_case_criteria or QuestionKind.CRITERION in kinds
    ):
        r.fail("scoring", "scoring 'healthbench' needs criterion questions or "
               "per_case_criteria: true")
    if form.scoring == "mean" and QuestionKind.ORDINAL not in kinds:
        r.fail("scoring", "scoring 'mean' needs at least one ordinal question")
    scorable = {QuestionKind.ORDINAL, QuestionKind.NUMBER, QuestionKind.CRITERION}
    if form.scoring == "sum" and not (kinds & scorable or form.per_case_criteria):
        r.fail("scoring", "scoring 'sum' needs ordinal, number or criterion questions")


def parse_form(
    data: Any, source: str = "<form>", *, lines: Mapping[str, int] | None = None
) -> Form:
    """Validate the canonical mapping of a form and build it.

    ``lines`` maps field paths to 1-based lines (the YAML reader supplies it) so that errors
    can point at the line as well as the field.
    """
    r = Reader(source, lines)
    if data is None:
        r.fail("", "the file is empty")
    m = r.mapping(data, "", FORM_KEYS, FORM_REQUIRED)
    fmt = m.get("format", FORMAT_ID)
    if fmt != FORMAT_ID:
        r.fail("format", f"unsupported format {fmt!r}; this version reads {FORMAT_ID!r}")
    version = m["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        r.fail("version", f"must be a whole number from 1, not {describe(version)} {version!r}")
    kind_name = m["kind"]
    form_kinds = [k.value for k in FormKind]
    if kind_name not in form_kinds:
        r.fail("kind", f"unknown kind {kind_name!r}{closest(str(kind_name), form_kinds)}; "
               f"one of {', '.join(form_kinds)}")
    scoring = m.get("scoring")
    if scoring is not None and scoring not in SCORING_RULES:
        r.fail("scoring", f"unknown scoring rule {scoring!r}{closest(str(scoring), SCORING_RULES)}"
               f"; one of {', '.join(SCORING_RULES)}")
    extra = m.get("extra") or {}
    if not isinstance(extra, Mapping):
        r.fail("extra", f"must be a mapping, not {describe(extra)}")
    _check_json_value(r, extra, "extra")
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(r.items(m, "questions", "")):
        q = _question(r, raw, join("questions", i))
        if q.id in seen:
            r.fail(join(join("questions", i), "id"),
                   f"duplicate question id {q.id!r} (also questions[{seen[q.id]}])")
        seen[q.id] = i
        questions.append(q)
    form = Form(
        key=r.identifier(m, "key", ""), version=version, name=r.text(m, "name", "", nonempty=True),
        kind=FormKind(kind_name), questions=tuple(questions),
        description=r.text(m, "description", ""),
        per_case_criteria=r.boolean(m, "per_case_criteria", ""), scoring=scoring,
        references=r.text_list(m, "references", ""), extra=dict(extra),
    )
    _check_form_rules(r, form)
    return form
