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
from typing import Any

SEAL_KEY = "seal"  # manifest field holding the MAC (hex)
SECRET_KEY = "seal_key"  # manifest field holding the package's secret (hex)
_DOMAIN = b"medreview-package-seal/2\n"


def new_secret() -> str:
    """32 random bytes from ``secrets``, hex."""
    return secrets.token_bytes(32).hex()


def new_token() -> str:
    """An opaque per-package output token (16 random bytes, hex)."""
    return secrets.token_hex(16)


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != SEAL_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def compute_seal(manifest: dict[str, Any], secret_hex: str) -> str:
    key = bytes.fromhex(secret_hex)
    return hmac.new(key, _DOMAIN + _canonical(manifest), hashlib.sha256).hexdigest()


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
