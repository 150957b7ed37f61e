"""The seal's fast canonical text against the reference (``json.dumps`` with the canonical
options): byte for byte on usual and hostile manifests, and the seal it gives."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from medreview.study import seal
from medreview.study.seal import _canonical, _canonical_reference, _outputs_parts


def _manifest(outputs: Any, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "format": "medreview-package/2", "stage": "return", "package_uid": "ab" * 16,
        "rater": {"name": "Dr é \"x\"\n", "kind": "physician"}, "created_at": "2026",
        "outputs": outputs, "seal_key": "00" * 32, "files": {"a": {"sha256": "f" * 64, "size": 3}},
        "seal": "x" * 64,
    }
    m.update(extra)
    return m


def _usual(n: int, rng: random.Random) -> dict[str, Any]:
    return {rng.randbytes(16).hex(): {"text_sha256": rng.randbytes(32).hex()} for _ in range(n)}


def _same(m: dict[str, Any]) -> None:
    assert _canonical(m) == _canonical_reference(m)


def test_usual_manifest_takes_the_fast_path_and_is_equal() -> None:
    rng = random.Random(7)
    for n in (1, 2, 3, 50, 2000):
        outputs = _usual(n, rng)
        assert _outputs_parts(outputs) is not None
        _same(_manifest(outputs))
        secret = seal.new_secret()
        sealed = seal.sealed(_manifest(outputs), secret)
        assert seal.seal_verifies(sealed, secret)
        assert sealed["seal"] == hmac.new(
            bytes.fromhex(secret), seal._DOMAIN + _canonical_reference(sealed),
            hashlib.sha256).hexdigest()


def test_top_level_keys_before_after_or_none() -> None:
    outputs = _usual(5, random.Random(1))
    _same({"outputs": outputs})
    _same({"outputs": outputs, "seal": "s"})
    _same({"a": 1, "outputs": outputs})
    _same({"outputs": outputs, "z": [1, {"b": 2, "a": None}]})
    _same({"outputs": outputs, "outputs ": 1, "output": 2, "outputsX": 3, "Outputs": 4})
    _same({"zz": 1.5e300, "outputs": outputs, "AA": -(10 ** 400), "é": "\u2028\x00\\"})


HOSTILE_OUTPUTS: list[Any] = [
    {}, [], None, "x", 3, {"t": "x"}, {"t": {}}, {"t": {"text_sha256": ""}},
    {"": {"text_sha256": "ab"}}, {"t": {"text_sha256": "é"}}, {"é": {"text_sha256": "ab"}},
    {"t\"": {"text_sha256": "ab"}}, {"t": {"text_sha256": "a\"b"}}, {"t": {"text_sha256": "a\\b"}},
    {"t": {"text_sha256": "a b"}}, {"t u": {"text_sha256": "ab"}}, {"t": {"text_sha256": "a\nb"}},
    {"t": {"text_sha256": "\u0661\u0662"}},  # Arabic-Indic digits: str.isalnum, not ASCII
    {"\u00b2": {"text_sha256": "ab"}}, {"t": {"text_sha256": "ab", "extra": 1}},
    {"t": {"other": "ab"}}, {"t": {"text_sha256": 12}}, {"t": {"text_sha256": 10 ** 500}},
    {"t": {"text_sha256": None}}, {"t": {"text_sha256": ["ab"]}}, {"t": ["text_sha256"]},
    {"t": "text_sha256"}, {"t": {"text_sha256": True}}, {"t": {"text_sha256": 1.5}},
    {"a": {"text_sha256": "ab"}, "b": {"text_sha256": "a-b"}},
    {"a": {"text_sha256": "ab"}, "B": {"text_sha256": "cd"}, "0": {"text_sha256": "ef"}},
    {"a": {"text_sha256": {"text_sha256": "ab"}}},
]


def test_hostile_outputs_equal_the_reference() -> None:
    for outputs in HOSTILE_OUTPUTS:
        _same(_manifest(outputs))
        _same({"outputs": outputs})


def test_str_subclasses_fall_back() -> None:
    class S(str):
        pass

    _same(_manifest({S("ab"): {"text_sha256": "cd"}}))
    _same(_manifest({"ab": {"text_sha256": S("cd")}}))
    _same(_manifest({"ab": {S("text_sha256"): "cd"}}))
    assert _outputs_parts({S("ab"): {"text_sha256": "cd"}}) is None


def test_duplicate_keys_and_escapes_from_parsed_text() -> None:
    texts = [
        '{"outputs": {"aa": {"text_sha256": "11"}, "aa": {"text_sha256": "22"}}}',
        '{"outputs": {"a\\u0061": {"text_sha256": "11"}}, "outputs": {"b": {"text_sha256": "c"}}}',
        '{"outputs": {"aa": {"text_sha256": "1\\u00e9"}}, "rater": {"n": "\\ud83d\\ude00"}}',
        '{"outputs": {"aa": {"text_sha256": "11", "text_sha256": "22"}}, "n": 1e999}',
        '{"outputs": {"\\ud800": {"text_sha256": "11"}}, "n": -0.0}',
        '{"outputs": {"aa": {"text_sha256": "11"}}, "n": ' + "9" * 4000 + "}",
        '{"outputs": {"aa": {"text_sha256": "11"}}, "deep": ' + "[" * 50 + "]" * 50 + "}",
    ]
    for text in texts:
        _same(json.loads(text))


def test_non_str_top_level_keys_fall_back() -> None:
    outputs = _usual(3, random.Random(2))
    m: dict[Any, Any] = {"outputs": outputs, 1: "x"}
    try:
        ref: bytes | str = _canonical_reference(m)
    except TypeError as e:  # sort_keys over mixed key types
        ref = type(e).__name__
    try:
        fast: bytes | str = _canonical(m)
    except TypeError as e:
        fast = type(e).__name__
    assert fast == ref


_text = st.text(max_size=6)
_scalar = st.none() | st.booleans() | st.integers() | st.floats() | _text
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=8)
_token = st.text(alphabet="0123456789abcdefABZ", min_size=0, max_size=4) | _text
_entry = (st.fixed_dictionaries({"text_sha256": _token})
          | st.dictionaries(st.sampled_from(["text_sha256", "x"]), _json, max_size=2) | _json)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_token, _entry, max_size=6), st.dictionaries(_text, _json, max_size=4))
def test_generated_manifests_equal_the_reference(
    outputs: dict[str, Any], rest: dict[str, Any],
) -> None:
    _same({**rest, "outputs": outputs})
