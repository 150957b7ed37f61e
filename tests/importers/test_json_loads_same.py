"""The importers' ``json.loads`` without its per-call layers (``_common._json_loads``) gives
what ``json.loads`` gives: the same value (types included) or the same error (class, message,
position) for valid, malformed, hostile and randomly damaged lines."""

from __future__ import annotations

import json
import random
from typing import Any

from medreview.importers._common import _json_loads

SAMPLES = [
    '{"id": "c1", "prompt": "q", "model": "m", "output": "a", "tags": ["x"], "n": 1}\n',
    '  {"a": 1.0, "b": true, "c": null, "d": [1, 1.0, true, "1"]}  \r\n', '[]', '"x"', "1",
    "-0.0", "1e400", "NaN", "-Infinity", '{"a": NaN}', '"\\ud800"', '"\\u00e9\\n"', '{"a":1,"a":2}',
    "", " ", "\n", "\ufeff{}", "{}\ufeff", "{} {}", "{}x", "{", "}", '{"a" 1}', '{"a":}', "[1,]",
    "tru", "01", '"unterminated', '"bad \\x escape"', '"ctrl \x01"', "[" * 5000 + "]" * 5000,
    '{"k": "' + "é" * 300 + '"}',
]


def _outcome(fn: Any, text: str) -> tuple[Any, ...]:
    try:
        value = fn(text)
    except json.JSONDecodeError as exc:
        return ("error", exc.msg, exc.pos, exc.lineno, exc.colno)
    except RecursionError:
        return ("recursion",)
    return ("value", json.dumps(value, sort_keys=True), repr(value))


def test_same_values_and_errors_as_json_loads() -> None:
    rnd = random.Random(11)
    texts = list(SAMPLES)
    alphabet = '{}[]",:. \n\t0123456789eE-+truefalsnul\\u\ufeff'
    for _ in range(3000):  # damaged copies: cut, inserted, replaced characters
        base = list(rnd.choice(SAMPLES[:13]))
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randint(0, len(base))
            kind = rnd.random()
            if kind < 0.3:
                del base[at:]
            elif kind < 0.65:
                base.insert(at, rnd.choice(alphabet))
            elif base:
                base[min(at, len(base) - 1)] = rnd.choice(alphabet)
        texts.append("".join(base))
    outcomes = [_outcome(_json_loads, t) for t in texts]
    assert outcomes == [_outcome(json.loads, t) for t in texts]
    kinds = {o[0] for o in outcomes}
    assert kinds == {"value", "error", "recursion"}  # every branch was met
