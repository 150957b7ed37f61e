"""Nothing leaves the machine without consent; keys come from keyring or env and never leak.

* ``is_local_endpoint``: loopback hosts (localhost, 127.0.0.0/8, ::1) need no consent.
* ``check_consent``: refuses a remote endpoint unless the project recorded consent.
* ``resolve_api_key``: keyring entry (service ``medreview-judge``, user = endpoint host), then the
  configured environment variable; ``None`` is allowed only for a local endpoint.
* ``redact``: replaces secrets (and anything shaped like a bearer key) in text bound for a log,
  an error message or the database.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from urllib.parse import urlsplit

from medreview.errors import JudgeError

log = logging.getLogger(__name__)

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
# Strings shaped like provider keys (sk-..., long bearer tokens) are hidden even when unknown.
_KEY_SHAPE = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9_\-.=]{8,})")


def endpoint_host(base_url: str) -> str:
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    return (parts.hostname or "").lower()


def is_local_endpoint(base_url: str) -> bool:
    host = endpoint_host(base_url)
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_consent(base_url: str, *, data_may_leave: bool) -> None:
    """Raise ``JudgeError`` when case data would go to a remote endpoint without consent."""
    if is_local_endpoint(base_url) or data_may_leave:
        return
    raise JudgeError(
        "this project has no recorded consent to send case data off this machine; "
        "record it first (Project > Consent, or services.projects.set_consent) or use a "
        "local endpoint (localhost / 127.0.0.1 / ::1)",
        source=public_url(base_url),
    )


def public_url(base_url: str) -> str:
    """The URL without user info or query string (which may carry a key)."""
    parts = urlsplit(base_url)
    if not parts.scheme:
        return redact(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path}"


def resolve_api_key(base_url: str, *, env_var: str, keyring_service: str) -> str | None:
    """The API key for ``base_url``: keyring first, then ``env_var``; ``None`` if neither."""
    key: str | None = None
    try:
        import keyring

        key = keyring.get_password(keyring_service, endpoint_host(base_url) or base_url)
    except Exception as exc:  # no usable backend (headless Linux): fall back to the env var
        log.debug("keyring unavailable: %s", type(exc).__name__)
    if not key:
        key = os.environ.get(env_var) or None
    if key is None and not is_local_endpoint(base_url):
        raise JudgeError(
            f"no API key: store one in the keyring (service {keyring_service!r}, user "
            f"{endpoint_host(base_url)!r}) or set the environment variable {env_var}",
            source=public_url(base_url),
        )
    return key


def store_api_key(base_url: str, key: str, *, keyring_service: str) -> None:
    """Save a key in the OS keyring for ``base_url``'s host (never in the project)."""
    import keyring

    keyring.set_password(keyring_service, endpoint_host(base_url) or base_url, key)


def redact(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` with every secret and key-shaped string replaced by ``[redacted]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPE.sub("[redacted]", text)
