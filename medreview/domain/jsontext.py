"""JSON text of values that came out of ``json.loads``, written faster than ``json.dumps``.

``json.dumps`` (and ``JSONEncoder.encode``) builds a new C encoder on every call, plus a dict
for its circular-reference check: on the small values an import writes per record (a tag
list, a metadata dict) that is two thirds of the time. An encoder without the circular check
is stateless, so one made once serves every call (and every thread). The text is the same as
``json.dumps`` with the same options writes: the same C encoder does the work.

Only for acyclic values (anything ``json.loads`` returned): a cyclic value would end in a
``RecursionError`` here where ``json.dumps`` raises ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

Dumps = Callable[[Any], str]


def make_dumps(
    *,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    separators: tuple[str, str] = (", ", ": "),
    default: Callable[[Any], Any] | None = None,
) -> Dumps:
    """A function writing the text ``json.dumps(value, **options)`` writes for these options."""
    make = getattr(_encoder, "c_make_encoder", None)  # not in typeshed
    if make is None:  # a Python without the C accelerator: the stdlib's own encoder
        slow = json.JSONEncoder(
            sort_keys=sort_keys, ensure_ascii=ensure_ascii, separators=separators,
            default=default,
        )
        return slow.encode
    item_sep, key_sep = separators
    strings = _encoder.encode_basestring_ascii if ensure_ascii else _encoder.encode_basestring
    if default is None:
        default = json.JSONEncoder().default  # raises TypeError like json.dumps
    c_encode = make(None, default, strings, None, key_sep, item_sep, sort_keys, False, True)
    join = "".join

    def dumps(value: Any) -> str:
        return join(c_encode(value, 0))

    return dumps


# ``json.dumps(value)``: what SQLAlchemy's JSON columns write on SQLite.
dumps_default = make_dumps()
