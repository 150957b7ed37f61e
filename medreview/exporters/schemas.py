"""Shape checks for the published training formats (stdlib only).

Each ``check_*`` returns a list of problems (empty = valid); ``validate_jsonl`` applies one to
every line of a file and raises ``InputError`` naming the first bad line.

* OpenAI chat fine-tuning (supervised): ``{"messages": [...]}`` with optional ``tools`` and
  ``parallel_tool_calls``; roles system/developer/user/assistant/tool; string contents; at least
  one assistant message; an optional per-assistant-message ``weight`` of 0 or 1.
* TRL conversational language modeling: ``{"messages": [...]}`` (the same shape).
* TRL conversational prompt-completion: ``{"prompt": [messages], "completion": [messages]}``
  where the completion holds assistant messages only.
* TRL preference (DPO): explicit prompt, conversational: ``{"prompt": [messages, earlier
  assistant turns allowed, not ending with one], "chosen": [assistant messages], "rejected":
  [assistant messages]}``; or
  standard: the three keys are strings. Optional ``margin`` (a number) for RewardTrainer.
* OpenAI preference fine-tuning: ``{"input": {"messages": [...]}, "preferred_output": [assistant
  message], "non_preferred_output": [assistant message]}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medreview.errors import InputError

ROLES = ("system", "developer", "user", "assistant", "tool")
Checker = Callable[[Any], list[str]]


def _messages(value: Any, where: str, *, roles: tuple[str, ...] = ROLES) -> list[str]:
    if not isinstance(value, list) or not value:
        return [f"{where} must be a non-empty list of messages"]
    problems: list[str] = []
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            problems.append(f"{at} is not an object")
            continue
        extra = set(m) - {"role", "content", "weight", "name"}
        if extra:
            problems.append(f"{at} has unexpected keys {sorted(extra)}")
        if m.get("role") not in roles:
            problems.append(f"{at}.role must be one of {', '.join(roles)}")
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            problems.append(f"{at}.content must be non-empty text")
        if "weight" in m and (m.get("role") != "assistant" or m["weight"] not in (0, 1)):
            problems.append(f"{at}.weight is only allowed on assistant messages, as 0 or 1")
    return problems


def _prompt(value: Any, where: str) -> list[str]:
    """A prompt: any conversation (earlier assistant turns allowed) not ending with one."""
    problems = _messages(value, where)
    if not problems and value[-1].get("role") == "assistant":
        problems.append(f"{where} must not end with an assistant message")
    return problems


def check_openai_chat(rec: Any) -> list[str]:
    if not isinstance(rec, dict):
        return ["record is not a JSON object"]
    extra = set(rec) - {"messages", "tools", "parallel_tool_calls"}
    problems = [f"unexpected keys {sorted(extra)}"] if extra else []
    problems += _messages(rec.get("messages"), "messages")
    raw = rec.get("messages")
    msgs: list[Any] = raw if isinstance(raw, list) else []
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in msgs):
        problems.append("messages need at least one assistant message (the target)")
    return problems


def check_trl_messages(rec: Any) -> list[str]:
    if not isinstance(rec, dict) or set(rec) != {"messages"}:
        return ["a TRL conversational language-modeling record has exactly the key 'messages'"]
    return _messages(rec["messages"], "messages")


def check_trl_prompt_completion(rec: Any) -> list[str]:
    if not isinstance(rec, dict) or set(rec) != {"prompt", "completion"}:
        return ["a TRL prompt-completion record has exactly the keys 'prompt' and 'completion'"]
    if isinstance(rec["prompt"], str) and isinstance(rec["completion"], str):
        return [] if rec["completion"] else ["completion is empty"]
    problems = _prompt(rec["prompt"], "prompt")
    problems += _messages(rec["completion"], "completion", roles=("assistant",))
    return problems


def check_trl_preference(rec: Any) -> list[str]:
    if not isinstance(rec, dict):
        return ["record is not a JSON object"]
    keys = set(rec)
    if not {"prompt", "chosen", "rejected"} <= keys:
        return ["a TRL preference record needs 'prompt', 'chosen' and 'rejected'"]
    extra = keys - {"prompt", "chosen", "rejected", "margin"}
    problems = [f"unexpected keys {sorted(extra)}"] if extra else []
    if "margin" in rec and (isinstance(rec["margin"], bool)
                            or not isinstance(rec["margin"], int | float)):
        problems.append("margin must be a number")
    if all(isinstance(rec[k], str) for k in ("prompt", "chosen", "rejected")):
        if rec["chosen"] == rec["rejected"]:
            problems.append("chosen and rejected are identical")
        return problems
    problems += _prompt(rec["prompt"], "prompt")
    problems += _messages(rec["chosen"], "chosen", roles=("assistant",))
    problems += _messages(rec["rejected"], "rejected", roles=("assistant",))
    if not problems and rec["chosen"] == rec["rejected"]:
        problems.append("chosen and rejected are identical")
    return problems


def check_openai_preference(rec: Any) -> list[str]:
    if not isinstance(rec, dict) or set(rec) != {"input", "preferred_output",
                                                 "non_preferred_output"}:
        return ["an OpenAI preference record has exactly 'input', 'preferred_output', "
                "'non_preferred_output'"]
    inp = rec["input"]
    if not isinstance(inp, dict) or not set(inp) <= {"messages", "tools", "parallel_tool_calls"}:
        return ["input must be an object with 'messages' (and optionally tools)"]
    problems = _prompt(inp.get("messages"), "input.messages")
    for k in ("preferred_output", "non_preferred_output"):
        problems += _messages(rec[k], k, roles=("assistant",))
        if isinstance(rec[k], list) and len(rec[k]) != 1:
            problems.append(f"{k} must hold exactly one assistant message")
    return problems


CHECKERS: dict[str, Checker] = {
    "openai_chat": check_openai_chat,
    "trl_messages": check_trl_messages,
    "trl_prompt_completion": check_trl_prompt_completion,
    "trl_preference": check_trl_preference,
    "openai_preference": check_openai_preference,
}


def validate_jsonl(path: Path, checker: Checker | str) -> int:
    """Check every line of ``path``; return the number of records or raise ``InputError``."""
    check = CHECKERS[checker] if isinstance(checker, str) else checker
    n = 0
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                raise InputError("blank line in JSONL", source=str(path), line=line_no)
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not JSON: {exc}", source=str(path), line=line_no) from exc
            problems = check(rec)
            if problems:
                raise InputError("; ".join(problems), source=str(path), line=line_no)
            n += 1
    return n
