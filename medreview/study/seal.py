"""The seal of a rater package: HMAC-SHA256 over its manifest (which lists every member's sha256
and size), keyed with that package's own random secret.

The secret is made when the lead's project issues the package and is kept there
(``issued_package.secret``); a copy travels in the manifest so the rater's app can seal the
graded package. So a valid seal proves only that whoever sealed held this package's file — the
rater, or anyone they gave it to — and that nothing changed after sealing. It cannot prove who
graded: the lead's merge checks everything else (issued uid, rater, outputs, kinds, times)
against its own record of what it issued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from operator import itemgetter
from typing import Any

from medreview.domain.jsontext import make_dumps

SEAL_KEY = "seal"  # manifest field holding the MAC (hex)
SECRET_KEY = "seal_key"  # manifest field holding the package's secret (hex)
_DOMAIN = b"medreview-package-seal/2\n"
# json.dumps with the canonical options, its C encoder made once
_dumps = make_dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def new_secret() -> str:
    """32 random bytes from ``secrets``, hex."""
    return secrets.token_bytes(32).hex()


def new_token() -> str:
    """An opaque per-package output token (16 random bytes, hex)."""
    return secrets.token_hex(16)


def _canonical_reference(manifest: dict[str, Any]) -> bytes:
    """The canonical text by definition (``_canonical`` must give these bytes)."""
    body = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


_OUTPUTS = "outputs"
_TEXT_HASH = "text_sha256"
_get_hash = itemgetter(_TEXT_HASH)
_token_to_hash = '":{"text_sha256":"'  # between an entry's token and its hash


def _plain(strings: list[Any]) -> bool:
    """Every item an exact ``str`` of ASCII letters and digits (none empty): such strings are
    written as they are under ``ensure_ascii``, no escape; tested in C loops."""
    if not strings or set(map(type, strings)) != {str}:
        return False
    if 0 in set(map(len, strings)):
        return False
    joined = "".join(strings)
    # bytes.isalnum is a table lookup, str.isalnum a Unicode category test per character
    return joined.isascii() and joined.encode("ascii").isalnum()


def _outputs_parts(outputs: Any) -> list[str] | None:
    """The pieces of the canonical text of the usual ``outputs`` map (token ->
    {"text_sha256": hex}), to be joined, made by C-level maps (the C encoder's per-dict sort
    and escaping cost ~0.7 µs an item), or None when it is anything else (then the reference
    encoder writes it)."""
    if type(outputs) is not dict or not outputs:
        return None
    tokens = sorted(outputs) if set(map(type, outputs)) == {str} else None
    if tokens is None or not _plain(tokens):
        return None
    entries = list(map(outputs.__getitem__, tokens))
    if set(map(type, entries)) != {dict} or set(map(len, entries)) != {1}:
        return None
    try:
        hashes = list(map(_get_hash, entries))
    except KeyError:
        return None
    if not _plain(hashes):
        return None
    # one join over a flat list (no string per entry): {"tok":{"text_sha256":"hash"},"tok...}}
    parts = ['"},"', "", _token_to_hash, ""] * len(tokens)
    parts[1::4] = tokens
    parts[3::4] = hashes
    parts[0] = '{"'
    parts.append('"}}')
    return parts


def _canonical(manifest: dict[str, Any]) -> bytes:
    """``_canonical_reference``'s bytes; the outputs map, which is nearly all of a big
    manifest, written from ``_outputs_parts`` between the encoder's text of the keys sorted
    before and after it."""
    body = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    outputs = body.get(_OUTPUTS)
    parts = _outputs_parts(outputs) if set(map(type, body)) == {str} else None
    if parts is None:
        return _canonical_reference(manifest)
    before = {k: v for k, v in body.items() if k < _OUTPUTS}
    after = {k: v for k, v in body.items() if k > _OUTPUTS}
    head = _dumps(before)[:-1]  # "{...": the closing brace dropped
    tail = _dumps(after)[1:]  # "...}": the opening brace dropped
    # joined once: each concatenation would copy the whole (megabytes of) text again
    parts[0] = head + ("," if before else "") + '"outputs":' + parts[0]
    parts[-1] += ("," if after else "") + tail
    return "".join(parts).encode("ascii")


def compute_seal(manifest: dict[str, Any], secret_hex: str) -> str:
    key = bytes.fromhex(secret_hex)
    mac = hmac.new(key, _DOMAIN, hashlib.sha256)
    mac.update(_canonical(manifest))  # not _DOMAIN + text: a copy of megabytes
    return mac.hexdigest()


def sealed(manifest: dict[str, Any], secret_hex: str) -> dict[str, Any]:
    """``manifest`` with its seal set."""
    out = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    out[SEAL_KEY] = compute_seal(out, secret_hex)
    return out


def seal_verifies(manifest: dict[str, Any], secret_hex: str) -> bool:
    mac = manifest.get(SEAL_KEY)
    if not isinstance(mac, str):
        return False
    return hmac.compare_digest(mac, compute_seal(manifest, secret_hex))
