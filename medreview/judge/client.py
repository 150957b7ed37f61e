"""One chat-completions request, made robust: retries, backoff, Retry-After, format fallback.

Built on the ``openai`` client with its own retries switched off, so the policy is ours and
testable: 429, 408/409, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter (``Retry-After`` / ``retry-after-ms`` honoured up to a cap); other 4xx fail
at once. When the endpoint rejects ``json_schema`` structured output (``structured="auto"``),
the client falls back to ``json_object``, then to a plain request, and remembers that. Every
error text is redacted before it leaves this module.
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

from medreview.judge.config import JudgeConfig
from medreview.judge.privacy import redact
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
                 rng: random.Random | None = None) -> None:
        import openai

        self.config = config
        self._secret = api_key
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._format = "json_schema" if config.structured == "auto" else config.structured
        self._logprobs = config.logprobs
        # A local server may need no key, but the client insists on a string.
        self._client = openai.OpenAI(base_url=config.base_url, api_key=api_key or "not-needed",
                                     max_retries=0, timeout=config.timeout_s)

    def close(self) -> None:
        self._client.close()

    def _body(self, messages: tuple[dict[str, Any], ...], schema: dict[str, Any], n: int,
              seed_offset: int) -> dict[str, Any]:
        c = self.config
        body: dict[str, Any] = {"model": c.model, "messages": list(messages),
                                "temperature": c.temperature, "max_tokens": c.max_tokens}
        if c.seed is not None:
            body["seed"] = c.seed + seed_offset
        if n > 1:
            body["n"] = n
        with self._lock:
            fmt, logprobs = self._format, self._logprobs
        if logprobs:
            body["logprobs"] = True
        if fmt == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "judgment", "strict": True, "schema": schema}}
        elif fmt == "json_object":
            body["response_format"] = {"type": "json_object"}
        if c.extra:
            body["extra_body"] = dict(c.extra)
        return body

    def _downgrade(self) -> bool:
        """Drop one optional feature after a 400; False when nothing is left to drop."""
        with self._lock:
            if self.config.structured == "auto" and self._format != "none":
                self._format = FORMATS[FORMATS.index(self._format) + 1]
                log.info("endpoint refused the reply format; falling back to %s", self._format)
                return True
            if self._logprobs:
                self._logprobs = False
                log.info("endpoint refused logprobs; asking without them")
                return True
        return False

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
            body = self._body(messages, schema, n, seed_offset)
            requests += 1
            try:
                return self._client.chat.completions.create(**body), requests
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status == 400 and self._downgrade():
                    continue
                reason = f"HTTP {status}: {self._short(exc)}"
                if status not in RETRY_STATUSES:
                    raise RequestFailed(reason, requests) from None
                wait = retry_after_seconds(getattr(exc.response, "headers", None))
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
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
