"""What a judge run asks of the endpoint: model, URL, sampling parameters, retry policy.

Only ``JudgeConfig.recorded_params()`` is stored with a run and enters the cache key; the API
key never lives here (``medreview.judge.privacy`` looks it up when the client is built).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
KEYRING_SERVICE = "medreview-judge"


@dataclass(frozen=True)
class JudgeConfig:
    """An endpoint plus the parameters of every request a run makes."""

    base_url: str
    model: str
    # Where the key comes from: the keyring entry (service, username=base_url host) first,
    # then this environment variable. A local server may need none.
    api_key_env: str = DEFAULT_KEY_ENV
    keyring_service: str = KEYRING_SERVICE
    # Sent only when not None (a server that refuses one gets the run without it).
    temperature: float | None = 0.0
    max_tokens: int | None = 1024
    seed: int | None = None  # opt-in: many servers ignore or refuse it
    n_samples: int = 1  # > 1: self-consistency (majority answer, agreement = confidence)
    logprobs: bool = True  # probed: asked for, dropped for the run if the server refuses it
    structured: str = "auto"  # auto | json_schema | json_object | none
    images: bool = False  # send case images (only when enabled for the run)
    max_images: int = 4
    concurrency: int = 4
    timeout_s: float = 60.0
    max_retries: int = 6
    parse_retries: int = 1  # re-ask when a reply is not parseable JSON
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_cap_s: float = 300.0  # honour Retry-After up to this long
    price_prompt_per_mtok: float = 0.0  # USD per million tokens, for the cost estimate
    price_completion_per_mtok: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # extra request body fields

    def recorded_params(self) -> dict[str, Any]:
        """The parameters that shape a reply: stored with the run and part of the cache key."""
        return {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "n_samples": self.n_samples,
            "logprobs": self.logprobs,
            "structured": self.structured,
            "images": self.images,
            "max_images": self.max_images,
            "extra": dict(self.extra),
        }

    def with_recorded_params(self, params: dict[str, Any]) -> JudgeConfig:
        """This config with a stored run's reply-shaping parameters (used when resuming)."""
        known = {k: v for k, v in params.items() if k in self.recorded_params()}
        return replace(self, **known)

    def estimate_cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_prompt_per_mtok
                + completion_tokens * self.price_completion_per_mtok) / 1_000_000


def cache_key(request_hash: str, model: str, params: dict[str, Any]) -> str:
    """sha256 over (prompt hash, model, parameters): equal keys get the same stored reply."""
    blob = json.dumps({"request": request_hash, "model": model, "params": params},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
