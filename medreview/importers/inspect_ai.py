"""inspect-ai eval logs (``.json`` and ``.eval``) → cases, outputs and scorer ratings.

Reads the files directly (``inspect_ai`` is not a dependency): a ``.json`` log is one
``EvalLog`` object; a ``.eval`` log is a ZIP holding ``header.json`` (or the older
``start.json``/``_journal/start.json`` + ``results.json``) and one ``samples/<id>_epoch_<n>.json``
per sample, read one member at a time through ``eval_zip`` (zstd members, bounded). Both are
turned into the same records:

* each sample id → one ``CaseRecord`` (input text or messages, ``target`` as the reference,
  sample ``metadata``, MCQ ``choices``); epochs of the same sample share the case; input
  images carried as data URIs → ``AttachmentRecord``s of the case (temporary files, removed
  when the stream is closed);
* each sample's ``output`` → an ``OutputRecord`` of model ``eval.model`` keyed by the sample
  ``uuid`` (or ``<id>:epoch<n>`` for logs older than 0.3.70), with its ``epoch`` and, when the
  model answered more than once, the whole ``conversation``; samples that errored have none;
  epochs that gave the same text are one output (metadata ``epochs``);
* each ``scores[name]`` → a ``RatingRecord`` of judge ``name`` (``name (grader)``) answering
  the question ``inspect.<name>`` (see ``inspect_scores``), the explanation as rationale.

Samples are ordered by (id, epoch) in both forms, and ``line`` is the 1-based position in that
order, so the two forms of one log give identical records.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medreview.domain.records import (
    AttachmentRecord,
    CaseRecord,
    Located,
    Message,
    OutputRecord,
    RatingRecord,
    text_sha256,
)
from medreview.importers._common import (
    JsonTooDeep,
    Seen,
    as_id,
    check_cancel,
    content_text,
    fail,
    loads_limited,
    parse_messages,
    type_name,
)
from medreview.importers.eval_zip import EvalZip
from medreview.importers.inspect_scores import ScorerInfo, convert, grader_of, parts
from medreview.progress import CancelToken, Progress, no_progress

_SAMPLE_MEMBER = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")
# Images carried inline as data URIs become case attachments up to this size each; bigger
# ones (and images given as a path or URL, which are never read) stay a placeholder.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGES_PER_CASE = 32
_IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
                "image/webp": ".webp"}
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[^;,]*)*?);base64,")

Sample = tuple[int, str, dict[str, Any]]


def _sort_key(sample_id: str, epoch: int) -> tuple[int, int, str, int]:
    # Numeric ids sort as numbers (2 before 10), as inspect itself orders them.
    if sample_id.isdigit():
        return (0, int(sample_id), "", epoch)
    return (1, 0, sample_id, epoch)


def _load_json(data: bytes, path: Path, line: int | None, item: str) -> Any:
    try:
        return loads_limited(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text: {exc.reason} at byte {exc.start}", path, line, item) from None
    except json.JSONDecodeError as exc:
        raise fail(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", path, line, item
        ) from None
    except JsonTooDeep as exc:
        raise fail(str(exc), path, line, item) from None


def _eval_zip_header(zf: EvalZip, path: Path) -> dict[str, Any]:
    names = set(zf.names())
    if "header.json" in names:
        header = _load_json(zf.read("header.json"), path, None, "header.json")
        member = "header.json"
    else:
        start = next((n for n in ("_journal/start.json", "start.json") if n in names), None)
        if start is None:
            raise fail("not an inspect .eval log: no header.json or start.json", path, None)
        header = _load_json(zf.read(start), path, None, start)
        member = start
        if isinstance(header, dict) and "results.json" in names:
            header["results"] = _load_json(zf.read("results.json"), path, None, "results.json")
    if not isinstance(header, dict) or not isinstance(header.get("eval"), dict):
        raise fail("inspect log header has no 'eval' object", path, None, member)
    return header


def _sample_members(zf: EvalZip) -> list[str]:
    members = []
    for name in zf.names():
        m = _SAMPLE_MEMBER.match(name)
        if m:
            members.append((_sort_key(m["id"], int(m["epoch"])), name))
    return [name for _key, name in sorted(members)]


def _iter_eval_samples(
    zf: EvalZip, members: list[str], path: Path, token: CancelToken | None
) -> Iterator[Sample]:
    for n, name in enumerate(members, start=1):
        check_cancel(token)
        sample = _load_json(zf.read(name), path, n, name)
        if not isinstance(sample, dict):
            raise fail(f"sample must be an object, got {type_name(sample)}", path, n, name)
        yield n, name, sample


def _sample_key(sample: dict[str, Any]) -> tuple[int, int, str, int]:
    epoch = sample.get("epoch", 1)
    return _sort_key(str(sample.get("id")), epoch if isinstance(epoch, int) else 1)


class _Scan:
    """What the first pass learns: scorers and value kinds, and which epochs share an output."""

    def __init__(self) -> None:
        self.scorers: dict[str, ScorerInfo] = {}
        self.output_of: dict[tuple[str, str], str] = {}  # (case, text sha) -> output id
        self.epochs: dict[str, list[int]] = {}  # output id -> epochs that gave that text


class _SampleParser:
    """Turns samples into records; run once with ``dry`` (validate, learn) and once for real."""

    def __init__(self, path: Path, header: dict[str, Any], scan: _Scan, dry: bool) -> None:
        self.path = path
        spec = header["eval"]
        self.model = str(spec.get("model") or "unknown")
        self.run = {
            k: spec[k]
            for k in ("task", "task_version", "eval_id", "run_id", "created")
            if spec.get(k) is not None
        }
        self.created = spec.get("created")
        scorers = spec.get("scorers")
        self.specs = {
            str(sc.get("name")): sc
            for sc in (scorers if isinstance(scorers, list) else [])
            if isinstance(sc, dict)
        }
        self.model_roles = spec.get("model_roles")
        self.cases = Seen(path, "sample")
        self.outputs = Seen(path, "output")
        self.scan = scan
        self.dry = dry
        self._tmp: Path | None = None

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

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
            raise fail(
                f"field 'epoch' must be an integer, got {type_name(epoch)}", path, line, member
            )
        if "input" not in sample:
            raise fail("sample has no 'input'", path, line, member)
        attachments = sample.get("attachments") or {}
        if not isinstance(attachments, dict):
            raise fail("field 'attachments' must be an object", path, line, member)
        messages = self._messages(sample["input"], line, member, attachments)
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
                f"field 'target' must be a string or list, got {type_name(target)}",
                path, line, member,
            )
        if sample.get("choices"):
            metadata["choices"] = sample["choices"]
        case = CaseRecord(sid, messages, metadata=metadata, reference_answer=reference)
        content = ([(m.role, m.content) for m in messages], reference, metadata)
        if self.cases.is_new(sid, content, line, "a different input or target"):
            images = list(self._images(sample["input"], attachments, sid, line, member))
            if not self.dry:
                yield Located(case, src, line)
                for image in images:
                    yield Located(image, src, line)

        if "output" not in sample and not sample.get("error"):
            raise fail("sample has no 'output' (and no error)", path, line, member)
        output = sample.get("output")
        if output is not None and not isinstance(output, dict):
            raise fail(
                f"field 'output' must be an object, got {type_name(output)}", path, line, member
            )
        text = _output_text(output, attachments) if output else ""
        if sample.get("error") or not text:
            return  # an errored or empty sample has no answer to grade
        assert isinstance(output, dict)
        oid = str(sample.get("uuid") or f"{sid}:epoch{epoch}")
        # Epochs that gave the very same text are one output (the project keys outputs by
        # text): the first such epoch's id and scores stand for it, all its epochs are listed.
        key = (sid, hashlib.sha256(text.encode("utf-8")).hexdigest())
        if self.dry:
            seen = self.scan.epochs.setdefault(self.scan.output_of.setdefault(key, oid), [])
            if epoch not in seen:
                seen.append(epoch)
        elif self.scan.output_of.get(key) != oid:
            return
        meta: dict[str, Any] = {**self.run, "epoch": epoch}
        epochs = self.scan.epochs.get(oid, [epoch])
        if len(epochs) > 1:
            meta["epochs"] = sorted(epochs)
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
        conversation = self._conversation(sample, len(messages), line, member, attachments)
        if conversation:
            meta["conversation"] = conversation
        new = self.outputs.is_new_digest(oid, text_sha256(text), line, "a different output")
        if new and not self.dry:
            yield Located(
                OutputRecord(sid, self.model, text, external_id=oid, metadata=meta), src, line
            )
        yield from self._ratings(sample, sid, oid, text, line, member, attachments)

    def _conversation(
        self, sample: dict[str, Any], n_input: int, line: int, member: str,
        attachments: dict[str, Any],
    ) -> list[dict[str, str]]:
        """The whole exchange when the model spoke more than once (a multi-turn solver)."""
        raw = sample.get("messages")
        if not isinstance(raw, list) or len(raw) <= n_input + 1:
            return []
        msgs = parse_messages(raw, "messages", self.path, line, member)
        if sum(1 for m in msgs if m.role == "assistant") < 2:
            return []
        return [{"role": m.role, "content": _resolve(m.content, attachments)} for m in msgs]

    def _ratings(
        self, sample: dict[str, Any], sid: str, oid: str, text: str, line: int, member: str,
        attachments: dict[str, Any],
    ) -> Iterator[Located]:
        scores = sample.get("scores")
        if scores is None:
            return
        if not isinstance(scores, dict):
            raise fail(
                f"field 'scores' must be an object, got {type_name(scores)}", self.path, line,
                member,
            )
        created = sample.get("completed_at") or self.created
        for name, score in scores.items():
            if not isinstance(score, dict) or "value" not in score:
                raise fail("score has no 'value'", self.path, line, f"{member} scores.{name}")
            info = self.scan.scorers.get(str(name))
            if self.dry:
                if info is None:
                    grader = grader_of(self.specs.get(str(name)), self.model_roles)
                    info = self.scan.scorers[str(name)] = ScorerInfo(str(name), grader)
                info.see(score["value"])
                continue
            assert info is not None
            answers: dict[str, Any] = {}
            for qid, _key, value in parts(info.name, score["value"]):
                answer = convert(value, info.kind(qid))
                if answer is not None:
                    answers[qid] = answer
            if not answers:
                continue
            yield Located(
                RatingRecord(
                    sid,
                    self.model,
                    info.rater,
                    "judge",
                    answers,
                    rationale=_rationale(score, text, attachments),
                    output_external_id=oid,
                    created_at=str(created) if created else None,
                ),
                str(self.path),
                line,
            )

    def _images(
        self, value: Any, attachments: dict[str, Any], sid: str, line: int, member: str
    ) -> Iterator[AttachmentRecord]:
        """Inline (data URI) images of the input messages, written to a temporary file."""
        if not isinstance(value, list):
            return
        count = 0
        for msg in value:
            content = msg.get("content") if isinstance(msg, dict) else None
            if not isinstance(content, list):
                continue
            for part in content:
                if not isinstance(part, dict) or part.get("type") != "image":
                    continue
                uri = part.get("image")
                if isinstance(uri, str) and uri.startswith("attachment://"):
                    uri = attachments.get(uri.removeprefix("attachment://"))
                if not isinstance(uri, str) or not uri.startswith("data:"):
                    continue  # a path or URL in a log is never opened
                count += 1
                if count > MAX_IMAGES_PER_CASE:
                    raise fail(
                        f"more than {MAX_IMAGES_PER_CASE} images in one sample's input",
                        self.path, line, member,
                    )
                data, mime = self._decode_image(uri, line, member)
                if self.dry:
                    continue
                if self._tmp is None:
                    self._tmp = Path(tempfile.mkdtemp(prefix="medreview-inspect-"))
                digest = hashlib.sha256(data).hexdigest()[:16]
                name = f"{_safe(sid)}-image{count}{_IMAGE_TYPES[mime]}"
                file = self._tmp / f"{digest}-{name}"
                file.write_bytes(data)
                yield AttachmentRecord(
                    sid, str(file), "image", filename=name, mime=mime,
                    metadata={"source": "inspect-ai input"},
                )

    def _decode_image(self, uri: str, line: int, member: str) -> tuple[bytes, str]:
        m = _DATA_URI.match(uri[:256])
        mime = m["mime"].lower() if m else ""
        if m is None or mime not in _IMAGE_TYPES:
            raise fail(
                f"input image is not a base64 data URI of {', '.join(_IMAGE_TYPES)}",
                self.path, line, member,
            )
        encoded = uri[m.end():]
        if len(encoded) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
            raise fail(
                f"input image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB",
                self.path, line, member,
            )
        try:
            return base64.b64decode(encoded, validate=True), mime
        except (binascii.Error, ValueError):
            raise fail("input image data URI is not valid base64", self.path, line,
                       member) from None


def _rationale(score: dict[str, Any], output: str, attachments: dict[str, Any]) -> str:
    """The scorer's explanation, plus the answer it extracted when that is not the output."""
    explanation = score.get("explanation")
    text = _resolve(explanation, attachments) if isinstance(explanation, str) else ""
    answer = score.get("answer")
    if isinstance(answer, str) and answer.strip() and answer.strip() != output.strip():
        text = f"{text}\n\nAnswer extracted by the scorer: {answer}".strip()
    return text


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "case"


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


class _Log:
    """An opened log whose samples can be read twice (a ``.eval`` ZIP or a ``.json`` file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: EvalZip | None = None
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic.startswith(b"PK") or path.suffix.lower() == ".eval":
            self.zip = EvalZip(path)
            try:
                self.header = _eval_zip_header(self.zip, path)
                self.members = _sample_members(self.zip)
            except BaseException:
                self.zip.close()
                raise
            self.total = len(self.members)
            return
        log = _load_json(path.read_bytes(), path, None, "log")
        if not is_inspect_json(log):
            raise fail("not an inspect-ai log: no 'eval' object", path, None)
        self.header = log
        raw = log.get("samples") or []
        if not isinstance(raw, list):
            raise fail(f"'samples' must be a list, got {type_name(raw)}", path, None)
        for i, s in enumerate(raw):
            if not isinstance(s, dict):
                raise fail(f"sample must be an object, got {type_name(s)}", path, None,
                           f"samples[{i}]")
        self.ordered = sorted(enumerate(raw), key=lambda pair: _sample_key(pair[1]))
        self.total = len(self.ordered)

    def samples(self, token: CancelToken | None) -> Iterator[Sample]:
        if self.zip is not None:
            return _iter_eval_samples(self.zip, self.members, self.path, token)
        return ((n, f"samples[{i}]", s) for n, (i, s) in enumerate(self.ordered, start=1))

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def _scan(log: _Log, token: CancelToken | None) -> _Scan:
    """First pass: every sample checked, scorers and shared outputs learnt; nothing yielded."""
    scan = _Scan()
    parser = _SampleParser(log.path, log.header, scan, dry=True)
    for n, member, sample in log.samples(token):
        check_cancel(token)
        for _ in parser.records(sample, n, member):
            pass
    return scan


def inspect_scorers(path: str | Path, token: CancelToken | None = None) -> list[ScorerInfo]:
    """The scorers of a log, with their value kinds, after checking every sample.

    Raises ``ImportFailed`` for any bad sample, so a caller can add the scorer questions to
    the project knowing the log will import.
    """
    log = _Log(Path(path))
    try:
        return list(_scan(log, token).scorers.values())
    finally:
        log.close()


def parse_inspect_log(
    path: str | Path,
    *,
    progress: Progress = no_progress,
    token: CancelToken | None = None,
) -> Iterator[Located]:
    """Records of one inspect-ai log, ``.eval`` (ZIP) or ``.json``.

    Two passes: the first checks every sample and learns the scorers' value kinds (a score
    question's type depends on all its values) and which epochs gave the same text; the
    second yields. A bad log therefore fails before its first record.
    """
    path = Path(path)
    log = _Log(path)
    parser: _SampleParser | None = None
    try:
        scan = _scan(log, token)
        parser = _SampleParser(path, log.header, scan, dry=False)
        total = log.total
        for n, member, sample in log.samples(token):
            check_cancel(token)
            yield from parser.records(sample, n, member)
            progress(n, total, f"Reading {path.name}: sample {n} of {total}")
    finally:
        if parser is not None:
            parser.close()
        log.close()
