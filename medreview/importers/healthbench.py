"""HealthBench files (openai/simple-evals) → cases with per-case criteria, outputs and ratings.

Shapes read (chosen from the first line and then required of every line):

* ``main``: ``prompt_id``, ``prompt`` messages, ``rubrics[{criterion, points, tags}]``,
  ``example_tags``, ``ideal_completions_data`` (main, hard and consensus subsets). Optional
  ``completion``/``response`` (+ ``model``) on a line becomes a model output.
* ``result``: simple-evals result rows (``example_level_metadata`` entries: ``rubric_items`` with
  ``criteria_met``/``explanation``, ``completion`` messages), one per JSONL line or inside an
  ``*_allresults.json``. Each gives a case, an output and a judge rating per criterion.
* ``professional``: HealthBench Professional (``id``, ``conversation.messages``,
  ``rubric_items[{criterion_text, points}]``, ``use_case``, ``type``, ``difficulty``,
  ``specialty``).
* ``meta``: the meta-eval (``prompt``, ``completion``, ``rubric``, ``category``,
  ``binary_labels``, ``anonymized_physician_ids``): physicians' met/not-met labels. Read in two
  passes so each case is emitted once with all its criteria, before its outputs.

Criterion keys are ``c<index>-<8 hex of sha256(text)>`` (index in the case's rubric, from 0),
stable across re-imports of the same file; meta-eval criteria use ``<cluster>-<hash>`` since
they have no index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from medreview.domain.records import (
    CaseRecord,
    CriterionRecord,
    Located,
    OutputRecord,
    RatingRecord,
    text_sha256,
)
from medreview.domain.rubric import CASE_CRITERION_PREFIX
from medreview.importers._common import (
    Seen,
    as_id,
    as_str,
    content_text,
    fail,
    iter_jsonl,
    parse_messages,
    short_hash,
    type_name,
)
from medreview.progress import CancelToken, Progress, no_progress

GRADER = "healthbench-grader"


def criterion_key(index: int, text: str) -> str:
    return f"c{index:02d}-{short_hash(text)}"


def detect_shape(obj: dict[str, Any]) -> str | None:
    """Which HealthBench shape one line has, or None when it is none of them."""
    if "binary_labels" in obj and "rubric" in obj:
        return "meta"
    if "rubric_items" in obj and "conversation" in obj:
        return "professional"
    if "rubric_items" in obj and "prompt_id" in obj:
        return "result"
    if "rubrics" in obj and "prompt_id" in obj:
        return "main"
    return None


def _criteria(
    items: Any, field: str, path: Path, line: int, case_id: str, text_key: str
) -> tuple[CriterionRecord, ...]:
    if not isinstance(items, list):
        raise fail(f"field {field!r} must be a list, got {type_name(items)}", path, line, case_id)
    out: list[CriterionRecord] = []
    for i, item in enumerate(items):
        where = f"{case_id} {field}[{i}]"
        if not isinstance(item, dict):
            raise fail(f"rubric item must be an object, got {type_name(item)}", path, line, where)
        if text_key not in item:
            raise fail(f"rubric item has no {text_key!r}", path, line, where)
        text = as_str(item[text_key], text_key, path, line, where)
        if "points" not in item:
            raise fail("rubric item has no 'points'", path, line, where)
        points = item["points"]
        if isinstance(points, bool) or not isinstance(points, int | float):
            raise fail(
                f"field 'points' must be a number, got {type_name(points)}", path, line, where
            )
        tags = item.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise fail("field 'tags' must be a list of strings", path, line, where)
        out.append(CriterionRecord(criterion_key(i, text), text, float(points), tuple(tags)))
    return tuple(out)


def _str_list(value: Any, field: str, path: Path, line: int, item: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise fail(f"field {field!r} must be a list of strings", path, line, item)
    return tuple(value)


def _completion_text(value: Any, field: str, path: Path, line: int, item: str) -> str:
    """A completion given as a string or as a list of assistant messages (simple-evals)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        msgs = parse_messages(value, field, path, line, item)
        return "\n\n".join(m.content for m in msgs)
    raise fail(
        f"field {field!r} must be a string or a message list, got {type_name(value)}",
        path,
        line,
        item,
    )


class _Parser:
    def __init__(self, path: Path, model: str | None) -> None:
        self.path = path
        self.model = model
        self.cases = Seen(path, "case")
        self.outputs = Seen(path, "output")

    def _case(self, record: CaseRecord, line: int) -> Iterator[Located]:
        content = {
            "m": [(m.role, m.content) for m in record.messages],
            "c": [(c.key, c.text, c.points, c.tags) for c in record.criteria],
            "t": record.tags,
            "r": record.reference_answer,
        }
        if self.cases.is_new(record.external_id, content, line, "a different prompt or rubric"):
            yield Located(record, str(self.path), line)

    def _output(self, record: OutputRecord, line: int) -> Iterator[Located]:
        key = record.external_id or f"{record.case_external_id} / {record.model}"
        if self.outputs.is_new_digest(
            key, text_sha256(record.text), line, "a different completion text"
        ):
            yield Located(record, str(self.path), line)

    def main(self, obj: dict[str, Any], line: int) -> Iterator[Located]:
        path = self.path
        pid = as_id(obj.get("prompt_id"), "prompt_id", path, line)
        if "prompt" not in obj:
            raise fail("missing required field 'prompt'", path, line, pid)
        messages = parse_messages(obj["prompt"], "prompt", path, line, pid)
        criteria = _criteria(obj.get("rubrics"), "rubrics", path, line, pid, "criterion")
        tags = _str_list(obj.get("example_tags"), "example_tags", path, line, pid)
        ideal = obj.get("ideal_completions_data")
        reference: str | None = None
        refs: tuple[str, ...] = ()
        meta: dict[str, Any] = {}
        if ideal is not None:
            if not isinstance(ideal, dict):
                raise fail(
                    f"'ideal_completions_data' must be an object, got {type_name(ideal)}",
                    path,
                    line,
                    pid,
                )
            if ideal.get("ideal_completion") is not None:
                reference = as_str(ideal["ideal_completion"], "ideal_completion", path, line, pid)
            refs = _str_list(
                ideal.get("ideal_completions_ref_completions"),
                "ideal_completions_ref_completions",
                path,
                line,
                pid,
            )
            if ideal.get("ideal_completions_group") is not None:
                meta["ideal_completions_group"] = ideal["ideal_completions_group"]
        case = CaseRecord(
            pid, messages, tags=tags, criteria=criteria, metadata=meta, reference_answer=reference
        )
        yield from self._case(case, line)
        for k, text in enumerate(refs, start=1):
            model = f"reference-{k}"
            yield from self._output(
                OutputRecord(pid, model, text, external_id=f"{pid}:{model}", metadata=dict(meta)),
                line,
            )
        for field in ("completion", "response"):
            if obj.get(field) is not None:
                text = _completion_text(obj[field], field, path, line, pid)
                model = self._model(obj, line, pid)
                oid = obj.get("completion_id")
                yield from self._output(
                    OutputRecord(pid, model, text, external_id=str(oid) if oid else None), line
                )
                break

    def _model(self, obj: dict[str, Any], line: int, item: str) -> str:
        if obj.get("model") is not None:
            return as_str(obj["model"], "model", self.path, line, item)
        if self.model:
            return self.model
        raise fail(
            "line has a completion but no 'model' field; give the model name", self.path, line, item
        )

    def result(self, obj: dict[str, Any], line: int) -> Iterator[Located]:
        path = self.path
        pid = as_id(obj.get("prompt_id"), "prompt_id", path, line)
        if "prompt" not in obj:
            raise fail("missing required field 'prompt'", path, line, pid)
        messages = parse_messages(obj["prompt"], "prompt", path, line, pid)
        items = obj.get("rubric_items")
        criteria = _criteria(items, "rubric_items", path, line, pid, "criterion")
        yield from self._case(CaseRecord(pid, messages, criteria=criteria), line)
        if obj.get("completion") is None:
            raise fail("missing required field 'completion'", path, line, pid)
        text = _completion_text(obj["completion"], "completion", path, line, pid)
        model = self._model(obj, line, pid)
        oid = obj.get("completion_id")
        output_id = str(oid) if oid else None
        meta = {k: obj[k] for k in ("score", "usage") if obj.get(k) is not None}
        yield from self._output(
            OutputRecord(pid, model, text, external_id=output_id, metadata=meta), line
        )
        answers: dict[str, Any] = {}
        notes: list[str] = []
        assert isinstance(items, list)  # checked by _criteria
        for crit, item in zip(criteria, items, strict=True):
            met = item.get("criteria_met")
            if met is None:
                continue
            if not isinstance(met, bool):
                raise fail(
                    f"'criteria_met' must be true or false, got {met!r}",
                    path,
                    line,
                    f"{pid} {crit.key}",
                )
            answers[CASE_CRITERION_PREFIX + crit.key] = met
            if item.get("explanation"):
                notes.append(f"[{crit.key}] {content_text(item['explanation'])}")
        if answers:
            rating = RatingRecord(
                pid,
                model,
                GRADER,
                "judge",
                answers,
                rationale="\n".join(notes),
                output_external_id=output_id,
            )
            yield Located(rating, str(path), line)

    def professional(self, obj: dict[str, Any], line: int) -> Iterator[Located]:
        path = self.path
        cid = as_id(obj.get("id"), "id", path, line)
        conv = obj.get("conversation")
        msgs = conv.get("messages") if isinstance(conv, dict) else conv
        if msgs is None:
            raise fail("missing required field 'conversation.messages'", path, line, cid)
        messages = parse_messages(msgs, "conversation.messages", path, line, cid)
        criteria = _criteria(
            obj.get("rubric_items"), "rubric_items", path, line, cid, "criterion_text"
        )
        tags: list[str] = []
        meta: dict[str, Any] = {}
        for field in ("use_case", "type", "difficulty", "specialty"):
            value = obj.get(field)
            if value is not None:
                tags.append(f"{field}:{value}")
                meta[field] = value
        yield from self._case(
            CaseRecord(cid, messages, tags=tuple(tags), criteria=criteria, metadata=meta), line
        )


def _meta_fields(obj: dict[str, Any], path: Path, line: int) -> tuple[str, str, str, str]:
    """Checked (prompt_id, criterion text, category, criterion key) of a meta-eval row."""
    if "prompt_id" in obj:
        pid = as_id(obj["prompt_id"], "prompt_id", path, line)
    else:  # older rows have no prompt id: the conversation itself identifies the case
        pid = "prompt-" + short_hash(json.dumps(obj.get("prompt"), sort_keys=True), 16)
    rubric = as_str(obj.get("rubric"), "rubric", path, line, pid)
    category = as_str(obj.get("category", "cluster:unknown"), "category", path, line, pid)
    return pid, rubric, category, f"{category.removeprefix('cluster:')}-{short_hash(rubric)}"


def _parse_meta(
    path: Path, model: str | None, progress: Progress, token: CancelToken | None
) -> Iterator[Located]:
    # Pass 1: every case's criteria (a few dozen distinct cluster criteria, so small).
    criteria: dict[str, dict[str, CriterionRecord]] = {}
    with closing(iter_jsonl(path, progress, token, "Scanning")) as lines:
        for line, obj in lines:
            if detect_shape(obj) != "meta":
                raise fail(
                    "line is not a HealthBench meta-eval row (needs 'rubric' and 'binary_labels')",
                    path,
                    line,
                )
            pid, rubric, category, key = _meta_fields(obj, path, line)
            criteria.setdefault(pid, {})[key] = CriterionRecord(key, rubric, 0.0, (category,))
    # Pass 2: cases (first time seen), outputs and per-physician labels; one rating per
    # (completion, physician) holding all the criteria that physician labelled.
    model = model or "meta-eval"
    parser = _Parser(path, model)
    ratings: dict[tuple[str, str], tuple[int, str, dict[str, Any]]] = {}
    with closing(iter_jsonl(path, progress, token)) as lines:
        for line, obj in lines:
            pid, _rubric, _category, key = _meta_fields(obj, path, line)
            messages = parse_messages(obj.get("prompt"), "prompt", path, line, pid)
            case_criteria = tuple(sorted(criteria[pid].values(), key=lambda c: c.key))
            yield from parser._case(CaseRecord(pid, messages, criteria=case_criteria), line)
            text = _completion_text(obj.get("completion"), "completion", path, line, pid)
            oid = (
                str(obj["completion_id"])
                if obj.get("completion_id")
                else f"{pid}:{short_hash(text, 16)}"
            )
            yield from parser._output(OutputRecord(pid, model, text, external_id=oid), line)
            labels, raters = obj.get("binary_labels"), obj.get("anonymized_physician_ids")
            if not isinstance(labels, list) or not all(isinstance(v, bool) for v in labels):
                raise fail("'binary_labels' must be a list of true/false", path, line, pid)
            if not isinstance(raters, list) or not all(isinstance(v, str | int) for v in raters):
                raise fail("'anonymized_physician_ids' must be a list of ids", path, line, pid)
            if len(labels) != len(raters):
                raise fail(
                    f"{len(labels)} binary_labels but {len(raters)} anonymized_physician_ids",
                    path,
                    line,
                    pid,
                )
            for rater, label in zip(raters, labels, strict=True):
                first_line, _pid, answers = ratings.setdefault((oid, str(rater)), (line, pid, {}))
                prior = answers.get(CASE_CRITERION_PREFIX + key)
                if prior is not None and prior != label:
                    raise fail(
                        f"physician {rater} labels this criterion both ways "
                        f"(also on line {first_line})",
                        path,
                        line,
                        pid,
                    )
                answers[CASE_CRITERION_PREFIX + key] = label
    for (oid, rater), (line, pid, answers) in ratings.items():
        yield Located(
            RatingRecord(pid, model, rater, "physician", answers, output_external_id=oid),
            str(path),
            line,
        )


# Eval names simple-evals uses for HealthBench runs, longest first so prefixes do not shadow.
_EVAL_NAMES = ("healthbench_consensus", "healthbench_hard", "healthbench_meta", "healthbench")


def model_from_filename(name: str) -> str:
    """The model named in ``{eval}_{model}_{YYYYMMDD_HHMMSS}_allresults.json`` (simple-evals)."""
    stem = name.removesuffix(".json").removesuffix("_allresults").removesuffix("_DEBUG")
    for eval_name in _EVAL_NAMES:
        if stem.startswith(eval_name + "_"):
            stem = stem[len(eval_name) + 1 :]
            break
    parts = stem.split("_")
    if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isdigit():
        parts = parts[:-2]  # the run's date and time
    return "_".join(parts) or name


def _parse_allresults(
    path: Path, model: str | None, token: CancelToken | None
) -> Iterator[Located]:
    """A simple-evals ``*_allresults.json``: its ``example_level_metadata`` rows."""
    try:
        with path.open("rb") as fh:
            data = json.load(fh)  # one JSON document: cannot be streamed without a streaming parser
    except json.JSONDecodeError as exc:
        raise fail(f"malformed JSON: {exc.msg}", path, exc.lineno) from None
    rows = (
        data.get("metadata", {}).get("example_level_metadata") if isinstance(data, dict) else None
    )
    if not isinstance(rows, list):
        raise fail(
            "not a simple-evals result file: no metadata.example_level_metadata list", path, 1
        )
    if model is None:
        model = model_from_filename(path.name)
    parser = _Parser(path, model)
    for n, row in enumerate(rows, start=1):
        if token is not None:
            token.raise_if_cancelled()
        if not isinstance(row, dict):
            raise fail(f"result row must be an object, got {type_name(row)}", path, n)
        yield from parser.result(row, n)


def parse_healthbench(
    path: str | Path,
    *,
    model: str | None = None,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Records of a HealthBench JSONL (any shape above) or a simple-evals allresults JSON.

    ``model`` names the model of completions that carry no ``model`` field. For an
    ``*_allresults.json`` file ``line`` is the 1-based index in ``example_level_metadata``.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        yield from _parse_allresults(path, model, token)
        return
    with closing(iter_jsonl(path, no_progress, token)) as lines:
        first = next(lines, None)
    if first is None:
        raise fail("empty file", path, 1)
    shape = detect_shape(first[1])
    if shape is None:
        raise fail(
            "not a HealthBench line: expected prompt_id+rubrics, rubric_items or binary_labels",
            path,
            first[0],
        )
    if shape == "meta":
        yield from _parse_meta(path, model, progress, token)
        return
    parser = _Parser(path, model)
    handler = {"main": parser.main, "result": parser.result, "professional": parser.professional}[
        shape
    ]
    with closing(iter_jsonl(path, progress, token)) as lines:
        for line, obj in lines:
            if detect_shape(obj) != shape:
                raise fail(
                    f"line does not have the HealthBench {shape!r} shape of the first line",
                    path,
                    line,
                )
            yield from handler(obj, line)
