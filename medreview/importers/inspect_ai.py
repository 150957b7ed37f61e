"""inspect-ai eval logs (``.json`` and ``.eval``) → cases, outputs and scorer ratings.

Reads the files directly (``inspect_ai`` is not a dependency): a ``.json`` log is one
``EvalLog`` object; a ``.eval`` log is a ZIP holding ``header.json`` (or the older
``start.json``/``_journal/start.json`` + ``results.json``) and one ``samples/<id>_epoch_<n>.json``
per sample, read one member at a time. Both are turned into the same records:

* each sample id → one ``CaseRecord`` (input text or messages, ``target`` as the reference,
  sample ``metadata``, MCQ ``choices``); epochs of the same sample share the case;
* each sample's ``output`` → an ``OutputRecord`` of model ``eval.model`` keyed by the sample
  ``uuid`` (or ``<id>:epoch<n>`` for logs older than 0.3.70); samples that errored have none;
* each ``scores[name]`` → a ``RatingRecord`` of judge ``name`` with ``answers={"score": value}``
  (plus ``"answer"`` when the scorer extracted one) and the explanation as rationale.

Samples are ordered by (id, epoch) in both forms, and ``line`` is the 1-based position in that
order, so the two forms of one log give identical records.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medreview.domain.records import CaseRecord, Located, Message, OutputRecord, RatingRecord
from medreview.importers._common import (
    Seen,
    as_id,
    check_cancel,
    content_text,
    fail,
    parse_messages,
    type_name,
)
from medreview.progress import CancelToken, Progress, no_progress

_SAMPLE_MEMBER = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")


def _sort_key(sample_id: str, epoch: int) -> tuple[int, int, str, int]:
    # Numeric ids sort as numbers (2 before 10), as inspect itself orders them.
    if sample_id.isdigit():
        return (0, int(sample_id), "", epoch)
    return (1, 0, sample_id, epoch)


def _load_json(data: bytes, path: Path, line: int | None, item: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise fail(f"malformed JSON: {exc}", path, line, item) from None


def _eval_zip_header(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    names = set(zf.namelist())
    if "header.json" in names:
        header = _load_json(zf.read("header.json"), path, None, "header.json")
    else:
        start = next((n for n in ("_journal/start.json", "start.json") if n in names), None)
        if start is None:
            raise fail("not an inspect .eval log: no header.json or start.json", path, None)
        header = _load_json(zf.read(start), path, None, start)
        if isinstance(header, dict) and "results.json" in names:
            header["results"] = _load_json(zf.read("results.json"), path, None, "results.json")
    if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
        raise fail("inspect log header has no 'eval' object", path, None, "header.json")
    return header


def _iter_eval_samples(
    path: Path, token: CancelToken | None
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    with zipfile.ZipFile(path) as zf:
        members = []
        for name in zf.namelist():
            m = _SAMPLE_MEMBER.match(name)
            if m:
                members.append((_sort_key(m["id"], int(m["epoch"])), name))
        members.sort()
        for n, (_key, name) in enumerate(members, start=1):
            check_cancel(token)
            sample = _load_json(zf.read(name), path, n, name)
            if not isinstance(sample, dict):
                raise fail(f"sample must be an object, got {type_name(sample)}", path, n, name)
            yield n, name, sample


def _sample_key(sample: dict[str, Any]) -> tuple[int, int, str, int]:
    epoch = sample.get("epoch", 1)
    return _sort_key(str(sample.get("id")), epoch if isinstance(epoch, int) else 1)


class _SampleParser:
    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        spec = header["eval"]
        self.model = str(spec.get("model") or "unknown")
        self.run = {
            k: spec[k]
            for k in ("task", "task_version", "eval_id", "run_id", "created")
            if spec.get(k) is not None
        }
        self.created = spec.get("created")
        self.cases = Seen(path, "sample")
        self.outputs = Seen(path, "output")

    def _messages(
        self, value: Any, line: int, item: str, attachments: dict[str, Any]
    ) -> tuple[Message, ...]:
        if isinstance(value, str):
            return (Message("user", _resolve(value, attachments)),)
        msgs = parse_messages(value, "input", self.path, line, item)
        return tuple(Message(m.role, _resolve(m.content, attachments)) for m in msgs)

    def records(self, sample: dict[str, Any], line: int, member: str) -> Iterator[Located]:
        path, src = self.path, str(self.path)
        if "id" not in sample:
            raise fail("sample has no 'id'", path, line, member)
        sid = as_id(sample["id"], "id", path, line)
        epoch = sample.get("epoch", 1)
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise fail(f"field 'epoch' must be an integer, got {type_name(epoch)}", path, line, sid)
        if "input" not in sample:
            raise fail("sample has no 'input'", path, line, sid)
        attachments = sample.get("attachments") or {}
        messages = self._messages(sample["input"], line, sid, attachments)
        target = sample.get("target")
        metadata = dict(sample.get("metadata") or {})
        if isinstance(target, list):
            reference: str | None = "\n".join(str(t) for t in target)
            metadata["targets"] = target
        elif target is None or target == "":
            reference = None
        elif isinstance(target, str):
            reference = target
        else:
            raise fail(
                f"field 'target' must be a string or list, got {type_name(target)}", path, line, sid
            )
        if sample.get("choices"):
            metadata["choices"] = sample["choices"]
        case = CaseRecord(sid, messages, metadata=metadata, reference_answer=reference)
        content = ([(m.role, m.content) for m in messages], reference, metadata)
        if self.cases.is_new(sid, content, line, "a different input or target"):
            yield Located(case, src, line)

        output = sample.get("output")
        text = _output_text(output, attachments) if isinstance(output, dict) else ""
        if sample.get("error") or not text:
            return  # an errored or empty sample has no answer to grade
        assert isinstance(output, dict)
        oid = str(sample.get("uuid") or f"{sid}:epoch{epoch}")
        meta: dict[str, Any] = {**self.run, "epoch": epoch}
        if output.get("model"):
            meta["output_model"] = output["model"]
        choices = output.get("choices")
        if (
            isinstance(choices, list)
            and choices
            and isinstance(choices[0], dict)
            and choices[0].get("stop_reason")
        ):
            meta["stop_reason"] = choices[0]["stop_reason"]
        for k in ("usage", "time"):
            if output.get(k) is not None:
                meta[k] = output[k]
        if self.outputs.is_new(oid, text, line, "a different output"):
            yield Located(
                OutputRecord(sid, self.model, text, external_id=oid, metadata=meta), src, line
            )

        scores = sample.get("scores")
        if scores is None:
            return
        if not isinstance(scores, dict):
            raise fail(
                f"field 'scores' must be an object, got {type_name(scores)}", path, line, sid
            )
        created = sample.get("completed_at") or self.created
        for name, score in scores.items():
            if not isinstance(score, dict) or "value" not in score:
                raise fail("score has no 'value'", path, line, f"{sid} scores.{name}")
            answers: dict[str, Any] = {"score": score["value"]}
            if score.get("answer") is not None:
                answers["answer"] = score["answer"]
            rating = RatingRecord(
                sid,
                self.model,
                str(name),
                "judge",
                answers,
                rationale=str(score.get("explanation") or ""),
                output_external_id=oid,
                created_at=str(created) if created else None,
            )
            yield Located(rating, src, line)


def _resolve(text: str, attachments: dict[str, Any]) -> str:
    """Replace ``attachment://<hash>`` text by its content (inspect de-duplicates long text)."""
    if text.startswith("attachment://"):
        value = attachments.get(text.removeprefix("attachment://"))
        if isinstance(value, str) and not value.startswith("data:"):
            return value
    return text


def _output_text(output: dict[str, Any], attachments: dict[str, Any]) -> str:
    completion = output.get("completion")
    if isinstance(completion, str) and completion:
        return _resolve(completion, attachments)
    choices = output.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return _resolve(content_text(message.get("content")), attachments)
    return ""


def is_inspect_json(obj: Any) -> bool:
    """An ``EvalLog`` object: an ``eval`` spec plus samples or the version/status header."""
    if not isinstance(obj, dict) or not isinstance(obj.get("eval"), dict):
        return False
    return "samples" in obj or ("version" in obj and "status" in obj)


def parse_inspect_log(
    path: str | Path,
    *,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Records of one inspect-ai log, ``.eval`` (ZIP) or ``.json``."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            header = _eval_zip_header(zf, path)
            total = sum(1 for n in zf.namelist() if _SAMPLE_MEMBER.match(n))
        samples: Iterator[tuple[int, str, dict[str, Any]]] = _iter_eval_samples(path, token)
    else:
        with path.open("rb") as fh:
            log = _load_json(fh.read(), path, None, "log")
        if not is_inspect_json(log):
            raise fail("not an inspect-ai log: no 'eval' object", path, None)
        header = log
        raw = log.get("samples") or []
        if not isinstance(raw, list):
            raise fail(f"'samples' must be a list, got {type_name(raw)}", path, None)
        for i, s in enumerate(raw, start=1):
            if not isinstance(s, dict):
                raise fail(
                    f"sample must be an object, got {type_name(s)}", path, None, f"samples[{i - 1}]"
                )
        ordered = sorted(enumerate(raw), key=lambda pair: _sample_key(pair[1]))
        total = len(ordered)
        samples = ((n, f"samples[{i}]", s) for n, (i, s) in enumerate(ordered, start=1))
    parser = _SampleParser(path, header)
    for n, member, sample in samples:
        check_cancel(token)
        yield from parser.records(sample, n, member)
        progress(n, total, f"Reading {path.name}: sample {n} of {total}")
