"""A local fake of the OpenAI chat-completions API, with faults on demand (tests and demos).

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``) with a reply that fits
the request's JSON schema — taken from ``response_format`` or, failing that, from the last
```json block of the prompt — chosen deterministically from a hash of the messages, so the
same prompt always gets the same grade. Token logprobs (``logprobs``) and ``n`` are supported.

Faults, consumed one per request from ``server.faults`` (or forced for prompts containing a
substring via ``server.sticky``, or drawn at random with ``fault_rate``):

============== =======================================================================
429            status 429 with ``Retry-After: <retry_after>``
500, 503       server errors
timeout        waits ``hang_s`` seconds before answering (longer than the client's timeout)
drop           closes the connection without a response
cut_body       announces a body, sends half of it, closes
bad_body       status 200 with a body that is not JSON
malformed      a completion whose content is prose, not JSON
truncated      a completion whose JSON content is cut in half (finish_reason ``length``)
fenced         the JSON wrapped in a code fence with prose around it (parseable)
invalid        JSON whose answer is not an allowed value
not_applicable every true/false answer replaced by "N/A" (a judge declining to grade)
no_schema      400 whenever ``response_format`` is ``json_schema``
echo_key       401 whose message repeats the Authorization header (as some servers do)
============== =======================================================================

A strict server (``reject={"seed": "openai", ...}``, ``--reject seed=openai``) answers 400 to
every request carrying one of the named parameters, in the words of a real server:

========= =============================================================================
openai    ``{"error": {"message": "Unsupported parameter: 'seed' ...", "param": "seed",
          "code": "unsupported_parameter"}}`` (OpenAI, Azure OpenAI)
litellm   ``litellm.UnsupportedParamsError: ... does not support parameters: ['seed'] ...``
          (a LiteLLM proxy without ``drop_params``)
vllm      ``{"object": "error", "message": "[{'type': 'extra_forbidden', 'loc': ('body',
          'seed'), 'msg': 'Extra inputs are not permitted', ...}]", "code": 400}`` (vLLM and
          other pydantic-validated servers)
========= =============================================================================

Run it: ``python -m medreview.judge.testing_server --port 8011`` (see docs/JUDGE.md).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "503", "timeout", "drop", "cut_body", "bad_body", "malformed",
          "truncated", "fenced", "invalid", "not_applicable", "no_schema", "echo_key")
REJECT_STYLES = ("openai", "litellm", "vllm")
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_SCHEMA_BLOCK = re.compile(r"```json\s*\n(.*?)```", re.S)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]  # lower-case names
    fault: str
    prompt_id: str  # sha256 of the messages: the same prompt, the same id


def prompt_id(messages: Any) -> str:
    blob = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        schema = rf.get("json_schema", {}).get("schema")
        if isinstance(schema, dict):
            return schema
    for msg in reversed(body.get("messages", [])):
        blocks = _SCHEMA_BLOCK.findall(_text_of(msg.get("content")))
        for block in reversed(blocks):
            try:
                obj = json.loads(block)
            except ValueError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


def instance(schema: dict[str, Any], rng: random.Random, name: str = "") -> Any:
    """A deterministic value fitting ``schema`` (the subset of JSON schema the judge uses)."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return {k: instance(v, rng, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("items", {})
        if items.get("type") == "object":
            return [instance(items, rng) for _ in range(rng.choice((0, 0, 1)))]
        return [instance(items, rng)] if "enum" in items else []
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("number", "integer"):
        return round(0.6 + 0.4 * rng.random(), 2) if name == "confidence" else 1
    if name == "quote":
        return ""
    return "Fake judge: decided from a hash of the prompt." if name == "explanation" else "fake"


def refusal(param: str, style: str, body: dict[str, Any]) -> dict[str, Any]:
    """A 400 body refusing ``param`` the way the server family ``style`` words it."""
    if style == "openai":
        return {"error": {"message": f"Unsupported parameter: '{param}' is not supported with "
                          "this model.", "type": "invalid_request_error", "param": param,
                          "code": "unsupported_parameter"}}
    if style == "litellm":
        return {"error": {"message": "litellm.UnsupportedParamsError: openai does not support "
                          f"parameters: ['{param}'], for model={body.get('model')}. To drop "
                          "these, set `litellm.drop_params=True` or for proxy:\n\n"
                          "`litellm_settings:\n drop_params: true`\n",
                          "type": "None", "param": None, "code": "400"}}
    if style == "vllm":
        detail = [{"type": "extra_forbidden", "loc": ("body", param),
                   "msg": "Extra inputs are not permitted", "input": body.get(param)}]
        return {"object": "error", "message": str(detail), "type": "BadRequestError",
                "param": None, "code": 400}
    raise ValueError(f"unknown refusal style {style!r}; one of {', '.join(REJECT_STYLES)}")


def tokens_of(text: str) -> list[dict[str, Any]]:
    out = []
    for tok in _TOKEN.findall(text):
        lp = -0.2231435513 if tok in ("true", "false") else -0.01  # p = 0.8 for the verdict
        out.append({"token": tok, "logprob": lp, "bytes": list(tok.encode()), "top_logprobs": []})
    return out


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return  # the client gave up (cancelled run, timeout fault): not a server error
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as srv: srv.url`` — a threaded server on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, delay_s: float = 0.0,
                 retry_after: str = "0", hang_s: float = 2.0, fault_rate: float = 0.0,
                 random_faults: tuple[str, ...] = ("429", "500", "drop", "malformed"),
                 seed: int = 0, honour_n: bool = True, logprobs: bool = True,
                 reject: dict[str, str] | None = None) -> None:
        self.delay_s = delay_s
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.fault_rate = fault_rate
        self.random_faults = random_faults
        self.honour_n = honour_n
        self.logprobs = logprobs
        self.reject: dict[str, str] = dict(reject or {})  # parameter -> refusal style
        for style in self.reject.values():
            refusal("x", style, {})  # fail early on an unknown style
        self.faults: collections.deque[str] = collections.deque()
        self.sticky: list[tuple[str, str]] = []  # (substring of the request body, fault)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name="fake-openai")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, fault: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if fault is None or r.fault == fault)

    def _choose_fault(self, raw: str) -> str:
        with self._lock:
            for needle, fault in self.sticky:
                if needle in raw:
                    return fault
            if self.faults:
                return self.faults.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.random_faults)
        return "ok"

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [
                        {"id": "fake-judge", "object": "model", "owned_by": "medreview"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._json(400, {"error": {"message": "request body is not JSON"}})
                    return
                if not self.path.rstrip("/").endswith("chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                refused = next((p for p in server.reject if p in body), None)
                fault = f"reject:{refused}" if refused else server._choose_fault(raw)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server._record(RecordedRequest(self.path, body, headers, fault,
                                               prompt_id(body.get("messages"))))
                if server.delay_s:
                    time.sleep(server.delay_s)
                self._serve(body, fault)

            def _serve(self, body: dict[str, Any], fault: str) -> None:
                if fault.startswith("reject:"):
                    param = fault.split(":", 1)[1]
                    self._json(400, refusal(param, server.reject[param], body))
                    return
                if fault == "429":
                    self._json(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                               {"Retry-After": server.retry_after})
                    return
                if fault == "echo_key":
                    self._json(401, {"error": {"message": "Incorrect API key provided: "
                                               + self.headers.get("Authorization", "")}})
                    return
                if fault in ("500", "503"):
                    self._json(int(fault), {"error": {"message": "server error"}})
                    return
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "no_schema" and (body.get("response_format") or {}).get(
                        "type") == "json_schema":
                    self._json(400, {"error": {"message": "response_format json_schema is "
                                               "not supported"}})
                    return
                if fault == "timeout":
                    time.sleep(server.hang_s)
                payload = json.dumps(self._completion(body, fault)).encode()
                if fault == "cut_body":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "bad_body":
                    payload = b'{"id": "chatcmpl-fake", "choices": [ {oops'
                self._send(200, payload)

            def _completion(self, body: dict[str, Any], fault: str) -> dict[str, Any]:
                messages = body.get("messages", [])
                pid = prompt_id(messages)
                schema = schema_of(body) or {"type": "object", "properties": {}}
                n = int(body.get("n") or 1) if server.honour_n else 1
                varied = float(body.get("temperature") or 0) > 0
                choices = []
                for i in range(n):
                    rng = random.Random(f"{pid}:{i if varied else 0}")
                    obj = instance(schema, rng)
                    content = json.dumps(obj, indent=1)
                    finish = "stop"
                    if fault == "malformed":
                        content = "I looked at the response and I think it is mostly fine."
                    elif fault == "truncated":
                        content, finish = content[: max(1, len(content) // 2)], "length"
                    elif fault == "fenced":
                        content = f"Here is my grading.\n```json\n{content}\n```\nHope it helps."
                    elif fault == "invalid":
                        content = json.dumps(_spoil(obj))
                    elif fault == "not_applicable":
                        content = json.dumps(_not_applicable(obj))
                    choice: dict[str, Any] = {"index": i, "finish_reason": finish,
                                              "message": {"role": "assistant", "content": content}}
                    if body.get("logprobs") and server.logprobs:
                        choice["logprobs"] = {"content": tokens_of(content)}
                    else:
                        choice["logprobs"] = None
                    choices.append(choice)
                prompt_tokens = len(json.dumps(messages)) // 4
                completion_tokens = sum(len(c["message"]["content"]) // 4 + 1 for c in choices)
                return {"id": f"chatcmpl-{pid[:12]}", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model", "fake-judge"),
                        "choices": choices,
                        "usage": {"prompt_tokens": prompt_tokens,
                                  "completion_tokens": completion_tokens,
                                  "total_tokens": prompt_tokens + completion_tokens}}

            def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(obj).encode(), headers)

            def _send(self, status: int, payload: bytes,
                      headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout fault): nothing to answer

        return Handler


def _spoil(obj: Any) -> Any:
    """The same reply with every boolean and enum-like value replaced by nonsense."""
    if isinstance(obj, dict):
        return {k: ("maybe" if k in ("criteria_met", "value") else _spoil(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_spoil(v) for v in obj]
    return obj


def _not_applicable(obj: Any) -> Any:
    """The same reply with every true/false answer replaced by "N/A" (a judge declining)."""
    if isinstance(obj, dict):
        return {k: _not_applicable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_not_applicable(v) for v in obj]
    return "N/A" if isinstance(obj, bool) else obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m medreview.judge.testing_server",
                                description="A fake OpenAI-compatible judge on 127.0.0.1.")
    p.add_argument("--port", type=int, default=8011)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="share of requests that get a random fault (429, 500, drop, malformed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reject", action="append", default=[], metavar="PARAM=STYLE",
                   help="answer 400 to requests carrying PARAM, worded like STYLE "
                   f"({'|'.join(REJECT_STYLES)}), e.g. seed=openai (repeatable)")
    args = p.parse_args(argv)
    reject = dict(r.split("=", 1) if "=" in r else (r, "openai") for r in args.reject)
    srv = FakeOpenAIServer(port=args.port, delay_s=args.delay, fault_rate=args.fault_rate,
                           seed=args.seed, reject=reject)
    print(f"fake OpenAI endpoint on {srv.url} (Ctrl+C to stop)", flush=True)  # noqa: T201
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv._httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
