"""Typed field readers for the form loader: each one checks a value and names its path on failure.

Kept apart from ``load`` so the loader reads as the list of rules of the format.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from medreview.errors import RubricError
from medreview.rubrics.schema import ID_PATTERN

_LAST_STEP = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")


def describe(value: Any) -> str:
    """A value's type in the words of the file format."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def closest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or nothing."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Reader:
    """Raises ``RubricError`` naming ``source``, the field path and, for YAML, the line."""

    def __init__(self, source: str, lines: Mapping[str, int] | None = None) -> None:
        self.source = source
        self.lines = lines or {}

    def line_of(self, path: str) -> int | None:
        # A missing field has no line of its own: report the nearest enclosing one.
        while path:
            if path in self.lines:
                return self.lines[path]
            shorter = _LAST_STEP.sub("", path)
            if shorter == path:
                break
            path = shorter
        return None

    def fail(self, path: str, reason: str) -> NoReturn:
        raise RubricError(reason, source=self.source, line=self.line_of(path), item=path or None)

    def mapping(
        self,
        value: Any,
        path: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> Mapping[str, Any]:
        """A mapping whose keys are all in ``allowed`` and include ``required``."""
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a mapping of fields, not {describe(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(path, f"field names must be text, not {describe(key)} {key!r}")
            if key not in allowed:
                self.fail(join(path, key), f"unknown field {key!r}{closest(key, allowed)}")
        for key in required:
            if key not in value or value[key] is None:
                self.fail(join(path, key), f"missing required field {key!r}")
        return value

    def text(self, m: Mapping[str, Any], key: str, path: str, *, nonempty: bool = False) -> str:
        value = m.get(key, "")
        where = join(path, key)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(where, f"must be text, not {describe(value)}")
        if nonempty and not value.strip():
            self.fail(where, "must not be empty")
        return value

    def identifier(self, m: Mapping[str, Any], key: str, path: str) -> str:
        value = self.text(m, key, path, nonempty=True)
        if not ID_PATTERN.match(value):
            self.fail(
                join(path, key),
                f"{value!r} is not a valid identifier (use letters, digits, '_', '.', '-', "
                "starting with a letter or digit)",
            )
        return value

    def boolean(self, m: Mapping[str, Any], key: str, path: str) -> bool:
        value = m.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(join(path, key), f"must be true or false, not {describe(value)}")
        return value

    def number(self, m: Mapping[str, Any], key: str, path: str) -> float | int | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(join(path, key), f"must be a number, not {describe(value)}")
        if not math.isfinite(value):
            self.fail(join(path, key), "must be a finite number")
        return value

    def text_list(self, m: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = m.get(key)
        where = join(path, key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(where, f"must be a list of text, not {describe(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(join(where, i), f"must be non-empty text, not {describe(item)}")
        return tuple(value)

    def items(self, m: Mapping[str, Any], key: str, path: str) -> list[Any]:
        """A list field (``None`` or absent gives an empty list)."""
        value = m.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(join(path, key), f"must be a list, not {describe(value)}")
        return value
