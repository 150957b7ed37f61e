"""Which request parameter a server refused, read from its 400 reply.

Servers say it in different ways; all are handled without knowing the server:

* OpenAI / Azure: ``{"error": {"message": "Unsupported parameter: 'seed' ...", "param": "seed",
  "code": "unsupported_parameter"}}`` (or ``unsupported_value``);
* LiteLLM without ``drop_params``: ``litellm.UnsupportedParamsError: ... does not support
  parameters: {'seed': 0}, for model=...``;
* vLLM and other pydantic servers: ``Extra inputs are not permitted`` (v1: ``extra fields not
  permitted``) with ``'loc': ('body', 'seed')``.

Only parameters the request actually carried and that may be dropped (never ``model`` or
``messages``) are named; a 400 that does not say "unsupported" in some way names nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REQUIRED = frozenset({"model", "messages"})
# Parameter names a server may use for one of ours.
ALIASES = {"top_logprobs": "logprobs", "max_completion_tokens": "max_tokens"}
UNSUPPORTED_CODES = frozenset({"unsupported_parameter", "unsupported_value", "extra_forbidden"})
_UNSUPPORTED = re.compile(
    r"(?i)unsupported|not supported|does not support|doesn't support|not permitted|"
    r"not allowed|unrecogni[sz]ed|unknown (?:parameter|field|argument|key)|"
    r"extra (?:fields?|inputs?|arguments?)|extra_forbidden|not a valid parameter")


def _root(name: str) -> str:
    """``response_format.type`` -> ``response_format``; ``body.seed`` -> ``seed``."""
    parts = [p for p in re.split(r"[.\[\]]", name.strip().strip("'\"`")) if p]
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[1:]
    root = parts[0] if parts else ""
    return ALIASES.get(root, root)


def refused_params(body: Any, message: str, sent: Iterable[str]) -> tuple[str, ...]:
    """The sent, droppable parameters that a 400 reply says the server does not accept."""
    droppable = [k for k in sent if k not in REQUIRED]
    error = body.get("error", body) if isinstance(body, Mapping) else None
    text = message
    if isinstance(error, Mapping):
        text = f"{message} {error.get('message', '')}"
        param, code = error.get("param"), str(error.get("code") or "")
        if isinstance(param, str) and _root(param) in droppable and (
                code in UNSUPPORTED_CODES or _UNSUPPORTED.search(text)):
            return (_root(param),)
    if not _UNSUPPORTED.search(text):
        return ()
    names = sorted(droppable, key=len, reverse=True)
    quoted = [n for n in names if re.search(
        rf"""['"`]{re.escape(n)}['"`]|\bbody\W+{re.escape(n)}\b""", text)]
    if not quoted:  # also the aliases, quoted ("'top_logprobs'" means logprobs)
        quoted = [ALIASES[a] for a in ALIASES if ALIASES[a] in droppable
                  and re.search(rf"""['"`]{a}['"`]""", text)]
    if quoted:
        return tuple(dict.fromkeys(quoted))
    bare = [n for n in names if re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])",
                                          text)]
    return tuple(dict.fromkeys(bare))
