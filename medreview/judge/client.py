"""One chat-completions request, made robust: retries, backoff, Retry-After, format fallback.

Built on the ``openai`` client with its own retries switched off, so the policy is ours and
testable: 429, 408/409, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter (``Retry-After`` / ``retry-after-ms`` honoured up to a cap); other 4xx fail
at once. Every error text is redacted before it leaves this module.

Only parameters the config sets are sent (``seed`` is opt-in; ``logprobs`` and the reply
format are probed). A 400 that names a parameter the server does not support drops that
parameter for the rest of the run and the request is repeated without it (not a failure);
``dropped_params()`` lists what was dropped. When the endpoint rejects ``json_schema``
(``structured="auto"``), the client falls back to ``json_object``, then to a plain request.

The HTTP client refuses to send anything to another origin than the configured endpoint, so a
redirect cannot carry case text past the consent check (``EndpointRefused`` ends the run).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medreview.errors import JudgeError
from medreview.judge.config import JudgeConfig
from medreview.judge.params import refused_params
from medreview.judge.privacy import check_endpoint, http_module, origin, public_url, redact
from medreview.progress import CancelToken

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FORMATS = ("json_schema", "json_object", "none")


class RequestFailed(Exception):
    """A request that will not succeed (retries exhausted or a non-retryable error)."""

    def __init__(self, reason: str, requests: int) -> None:
        self.reason = reason
        self.requests = requests
        super().__init__(reason)


class EndpointRefused(JudgeError):
    """The endpoint tried to send us elsewhere (a redirect to another origin): stop the run."""


def origin_guard(base_url: str) -> Callable[[Any], None]:
    """An httpx request hook that refuses any request (a redirect hop included) to another
    origin (scheme, host, port) than ``base_url``'s, before a byte is sent."""
    expected = origin(base_url)

    def hook(request: Any) -> None:
        target = str(request.url)
        if origin(target) != expected:
            raise EndpointRefused(
                f"redirect to {public_url(target)} refused: the judge only talks to the "
                "configured endpoint", source=public_url(base_url))

    return hook


@dataclass(frozen=True)
class ChatReply:
    texts: tuple[str, ...]
    tokens: tuple[tuple[tuple[str, float], ...] | None, ...]  # per choice: (token, logprob)
    finish_reasons: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    requests: int  # HTTP requests made, retries included


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` s or date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random."""
    d = min(cap, base * 2.0 ** max(0, attempt - 1))
    return d / 2 + rng.uniform(0, d / 2)


def cancellable_sleep(seconds: float, token: CancelToken | None) -> None:
    end = time.monotonic() + seconds
    while True:
        if token is not None:
            token.raise_if_cancelled()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class JudgeClient:
    """Thread-safe wrapper over ``openai.OpenAI`` for one endpoint and model."""

    def __init__(self, config: JudgeConfig, api_key: str | None, *,
                 sleep: Callable[[float, CancelToken | None], None] = cancellable_sleep,
                 rng: random.Random | None = None, dropped: tuple[str, ...] = ()) -> None:
        import openai

        check_endpoint(config.base_url, env_var=config.api_key_env)  # no credentials in URLs
        self.config = config
        self._secret = api_key
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._format = "json_schema" if config.structured == "auto" else config.structured
        self._logprobs = config.logprobs
        self._skip: set[str] = set()  # top-level body keys the server refused
        self._dropped: list[str] = []  # what was dropped, in order, as recorded with the run
        for entry in dropped:  # a resumed run starts without what the server refused before
            self._apply_drop(entry)
        # Our own transport: every request, each redirect hop included, must go to the
        # configured origin (the hook runs before a hop is sent). Same-origin redirects such
        # as a trailing slash are still followed; the SDK's default client follows any.
        self._http = http_module().Client(
            timeout=config.timeout_s, follow_redirects=True, max_redirects=5,
            event_hooks={"request": [origin_guard(config.base_url)]})
        # A local server may need no key, but the client insists on a string.
        self._client = openai.OpenAI(base_url=config.base_url, api_key=api_key or "not-needed",
                                     max_retries=0, timeout=config.timeout_s,
                                     http_client=self._http)

    def close(self) -> None:
        self._client.close()
        self._http.close()

    def dropped_params(self) -> tuple[str, ...]:
        """Parameters dropped for this run because the endpoint refused them, in order."""
        with self._lock:
            return tuple(self._dropped)

    def _apply_drop(self, entry: str) -> None:
        """Record and apply one dropped parameter (caller holds the lock or is __init__)."""
        if entry in self._dropped:
            return
        self._dropped.append(entry)
        if entry == "response_format=json_schema":
            if self._format == "json_schema":
                self._format = "json_object"
        elif entry == "response_format":
            self._format = "none"
        elif entry == "logprobs":
            self._logprobs = False
        else:
            self._skip.add(entry)

    def _body(self, messages: tuple[dict[str, Any], ...], schema: dict[str, Any], n: int,
              seed_offset: int) -> dict[str, Any]:
        c = self.config
        with self._lock:
            fmt, logprobs, skip = self._format, self._logprobs, set(self._skip)
        body: dict[str, Any] = {"model": c.model, "messages": list(messages)}
        optional: dict[str, Any] = {
            "temperature": c.temperature, "max_tokens": c.max_tokens,
            "seed": None if c.seed is None else c.seed + seed_offset,
            "n": n if n > 1 else None, "logprobs": True if logprobs else None}
        if fmt == "json_schema":
            optional["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "judgment", "strict": True, "schema": schema}}
        elif fmt == "json_object":
            optional["response_format"] = {"type": "json_object"}
        body |= {k: v for k, v in optional.items() if v is not None and k not in skip}
        extra = {k: v for k, v in c.extra.items() if k not in skip}
        if extra:
            body["extra_body"] = extra
        return body

    def _drop_refused(self, body: dict[str, Any], exc: Any, known: int) -> bool:
        """After a 400: drop what the server says it does not support; False if nothing.

        Parameters named in the reply go first; a 400 naming nothing still steps the probed
        features down (reply format, then logprobs), as servers often refuse them vaguely.
        ``known`` is how many drops the refused request was built with: if another thread
        dropped something since, the request is simply sent again in the new shape.
        """
        sent = [k for k in body if k != "extra_body"] + list(body.get("extra_body", {}))
        named = refused_params(getattr(exc, "body", None), str(exc), sent)
        with self._lock:
            before = len(self._dropped)
            if before > known:
                return True
            for name in named:
                if name == "response_format" and self._format == "json_schema" and (
                        self.config.structured == "auto"):
                    self._apply_drop("response_format=json_schema")
                else:
                    self._apply_drop(name)
            if not named:
                if self.config.structured == "auto" and self._format != "none":
                    self._apply_drop("response_format=json_schema"
                                     if self._format == "json_schema" else "response_format")
                elif self._logprobs:
                    self._apply_drop("logprobs")
            new = self._dropped[before:]
        if new:
            log.info("endpoint refused %s; asking without it for the rest of the run",
                     ", ".join(new))
        return bool(new)

    def complete(self, messages: tuple[dict[str, Any], ...], schema: dict[str, Any], *,
                 n: int = 1, token: CancelToken | None = None) -> ChatReply:
        """``n`` samples for ``messages``; tops up with single requests if a server gives fewer."""
        texts: list[str] = []
        toks: list[tuple[tuple[str, float], ...] | None] = []
        finishes: list[str] = []
        prompt = completion = requests = 0
        while len(texts) < n:
            want = n - len(texts)
            resp, made = self._create(messages, schema, want, len(texts), token)
            requests += made
            usage = getattr(resp, "usage", None)
            prompt += int(getattr(usage, "prompt_tokens", 0) or 0)
            completion += int(getattr(usage, "completion_tokens", 0) or 0)
            choices = list(resp.choices or [])[:want]
            if not choices:
                raise RequestFailed("reply had no choices", requests)
            for ch in choices:
                texts.append(ch.message.content or "")
                finishes.append(str(ch.finish_reason or ""))
                lp = getattr(ch, "logprobs", None)
                content = getattr(lp, "content", None) if lp is not None else None
                toks.append(tuple((t.token, float(t.logprob)) for t in content)
                            if content else None)
        return ChatReply(tuple(texts), tuple(toks), tuple(finishes), prompt, completion, requests)

    def _create(self, messages: tuple[dict[str, Any], ...], schema: dict[str, Any], n: int,
                seed_offset: int, token: CancelToken | None) -> tuple[Any, int]:
        import openai

        attempt = requests = 0
        while True:
            if token is not None:
                token.raise_if_cancelled()
            with self._lock:
                known = len(self._dropped)
            body = self._body(messages, schema, n, seed_offset)
            requests += 1
            try:
                return self._client.chat.completions.create(**body), requests
            except EndpointRefused:
                raise
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 400 and self._drop_refused(body, exc, known):
                    continue
                reason = f"HTTP {status}: {self._short(exc)}"
                if status not in RETRY_STATUSES:
                    raise RequestFailed(reason, requests) from None
                wait = retry_after_seconds(getattr(exc.response, "headers", None))
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                if isinstance(exc.__cause__, EndpointRefused):
                    raise exc.__cause__ from None
                reason = "timed out" if isinstance(exc, openai.APITimeoutError) else (
                    f"connection failed: {self._short(exc.__cause__ or exc)}")
                wait = None
            except (openai.APIResponseValidationError, ValueError) as exc:
                reason = f"malformed HTTP response: {self._short(exc)}"
                wait = None
            attempt += 1
            if attempt > self.config.max_retries:
                raise RequestFailed(f"{reason} (gave up after {requests} requests)", requests)
            delay = (min(wait, self.config.retry_after_cap_s) if wait is not None else
                     backoff_delay(attempt, self.config.backoff_base_s,
                                   self.config.backoff_max_s, self._rng))
            log.info("judge request failed (%s); retry %d in %.2fs", reason, attempt, delay)
            self._sleep(delay, token)

    def _short(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return redact(text, (self._secret,))[:300]
