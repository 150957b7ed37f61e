"""The shape checks accept the published shapes and reject near misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medreview.errors import InputError
from medreview.exporters.schemas import (
    check_openai_chat,
    check_openai_preference,
    check_trl_preference,
    check_trl_prompt_completion,
    validate_jsonl,
)

SYS = {"role": "system", "content": "grade"}
USER = {"role": "user", "content": "case"}
ASST = {"role": "assistant", "content": "{}"}


def test_openai_chat() -> None:
    assert check_openai_chat({"messages": [SYS, USER, ASST]}) == []
    assert check_openai_chat({"messages": [SYS, USER, {**ASST, "weight": 1}]}) == []
    assert check_openai_chat({"messages": [SYS, USER]})  # no target
    assert check_openai_chat({"messages": [SYS, {"role": "robot", "content": "x"}, ASST]})
    assert check_openai_chat({"messages": [SYS, USER, ASST], "case_id": "c1"})  # extra key
    assert check_openai_chat({"messages": [SYS, {"role": "user", "content": ""}, ASST]})
    assert check_openai_chat({"messages": [{**USER, "weight": 1}, ASST]})


def test_trl_prompt_completion_and_preference() -> None:
    assert check_trl_prompt_completion({"prompt": [SYS, USER], "completion": [ASST]}) == []
    assert check_trl_prompt_completion({"prompt": [SYS, USER], "completion": [USER]})
    good = {"prompt": [USER], "chosen": [ASST], "rejected": [{**ASST, "content": "worse"}]}
    assert check_trl_preference(good) == []
    assert check_trl_preference({**good, "margin": 0.5}) == []
    assert check_trl_preference({**good, "margin": "big"})
    assert check_trl_preference({**good, "rejected": [ASST]})  # identical
    assert check_trl_preference({"prompt": [USER, ASST], "chosen": [ASST],
                                 "rejected": [{**ASST, "content": "b"}]})
    assert check_trl_preference({"prompt": "q", "chosen": "a", "rejected": "b"}) == []
    assert check_openai_preference({"input": {"messages": [USER]}, "preferred_output": [ASST],
                                    "non_preferred_output": [ASST]}) == []
    assert check_openai_preference({"input": {"messages": [USER]}, "preferred_output": [ASST]})


def test_validate_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"messages": [SYS, USER, ASST]}) + "\n"
                    + json.dumps({"messages": [SYS, USER]}) + "\n")
    with pytest.raises(InputError) as exc:
        validate_jsonl(path, "openai_chat")
    assert exc.value.line == 2
