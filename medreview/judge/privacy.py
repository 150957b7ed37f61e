"""Nothing leaves the machine without consent; keys come from keyring or env and never leak.

* ``is_local_endpoint``: loopback hosts need no consent: decided on the host httpx would
  connect to (IP literals in every form, ``localhost``, names resolving only to loopback).
* ``check_endpoint``: refuses URLs that are not http(s) or that carry credentials.
* ``check_consent``: refuses a remote endpoint unless the project recorded consent.
* ``resolve_api_key``: keyring entry (service ``medreview-judge``, user = endpoint host), then the
  configured environment variable; ``None`` is allowed only for a local endpoint.
* ``redact``: replaces secrets (anything shaped like a bearer or basic credential, user info in
  URLs, ``api-key=``-style query values) in text bound for a log, an error message or the
  database; ``public_url`` is the URL as it may be stored and shown.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from medreview.errors import JudgeError

log = logging.getLogger(__name__)

# Strings shaped like provider keys (sk-..., bearer / basic credentials) are hidden even when
# unknown. "Basic" counts only before a base64 token with a digit or +/= in it, or after
# "Authorization:", so prose such as "basic management" in a judge's reply stays readable.
_KEY_SHAPE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9_\-.=+/]{8,}"
    r"|(?i:authorization)\s*[:=]\s*(?i:basic)\s+\S+"
    r"|(?i:basic)\s+(?=[A-Za-z+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2})")
# User info in any URL inside a text ("http://user:key@host").
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#@]+@")
# Query parameters that carry credentials (Azure ``api-key=``, SAS ``sig=``, ``token=``...).
SECRET_PARAMS = ("api-key", "api_key", "apikey", "key", "token", "access_token", "auth",
                 "sig", "signature", "secret", "client_secret", "password", "pwd", "code")
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)[^&#\s'\"]*")
_NUMERIC_V4 = re.compile(r"(?i)^[0-9a-fx.]+$")
# A name counts as local only if it resolves to loopback addresses alone; the lookup is
# bounded (a dead resolver must not freeze a dialog) and cached briefly per host.
RESOLVE_TIMEOUT_S = 2.0
_RESOLVE_TTL_S = 30.0
_resolved: dict[str, tuple[float, bool]] = {}
_resolved_lock = threading.Lock()

Resolver = Callable[[str], list[str]]


def endpoint_host(base_url: str) -> str:
    """The host name as the keyring knows it (lower case, no port)."""
    try:
        parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        return (parts.hostname or "").lower()
    except ValueError:
        return ""


def _getaddrinfo(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def _only_loopback(addresses: list[str]) -> bool:
    return bool(addresses) and all(_ip_is_loopback(a) for a in addresses)


def _ip_is_loopback(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 (Python 3.11 says False)
    return ip.is_loopback


def _resolves_to_loopback(host: str) -> bool:
    now = time.monotonic()
    with _resolved_lock:
        hit = _resolved.get(host)
        if hit is not None and now - hit[0] < _RESOLVE_TTL_S:
            return hit[1]
    box: list[bool] = []

    def lookup() -> None:
        try:
            box.append(_only_loopback(_getaddrinfo(host)))
        except (OSError, UnicodeError, ValueError):
            box.append(False)

    worker = threading.Thread(target=lookup, daemon=True, name="medreview-resolve")
    worker.start()
    worker.join(RESOLVE_TIMEOUT_S)
    verdict = bool(box and box[0])
    with _resolved_lock:
        if len(_resolved) >= 256:  # a small cache, never a growing one
            _resolved.clear()
        _resolved[host] = (now, verdict)
    return verdict


def http_module() -> Any:
    """The HTTP library the OpenAI SDK sends with: ``httpx2`` (openai >= 3), else ``httpx``."""
    try:
        import httpx2

        return httpx2
    except ImportError:
        import httpx

        return httpx


def _parse(url: str) -> Any:
    """The URL as the SDK's HTTP library parses it (what it would connect to), or None."""
    try:
        return http_module().URL(url)
    except Exception:  # InvalidURL and friends: the client would refuse it too
        return None


def connect_host(base_url: str) -> str | None:
    """The host the HTTP client would connect to, or None if it would not connect."""
    url = _parse(base_url)
    if url is None:
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return str(url.host)


def is_local_endpoint(base_url: str, *, resolve: Resolver | None = None) -> bool:
    """True when requests to ``base_url`` can only reach this machine's loopback interface.

    Decided on the host httpx connects to: a loopback IP literal (127.0.0.0/8, ::1,
    ::ffff:127.x), a numeric IPv4 form the C resolver accepts (``2130706433``, ``0x7f000001``,
    ``127.1``), ``localhost``, or a name that resolves only to loopback addresses (``resolve``
    replaces ``socket.getaddrinfo`` in tests). A name that cannot be resolved is not local.
    """
    host = connect_host(base_url)
    if host is None:
        return False
    if host.startswith("[") or ":" in host:
        return _ip_is_loopback(unquote(host.strip("[]")).split("%")[0])
    if _NUMERIC_V4.match(host):
        try:  # the same parse getaddrinfo applies to numeric hosts (no DNS)
            return _ip_is_loopback(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            pass
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    if not name or "%" in name:
        return False
    if resolve is not None:
        try:
            return _only_loopback(resolve(name))
        except (OSError, UnicodeError, ValueError):
            return False
    return _resolves_to_loopback(name)


def is_local_without_lookup(base_url: str) -> bool:
    """``is_local_endpoint`` without any name lookup (names other than ``localhost`` count as
    remote): for screens, which must not wait on DNS; it errs toward asking for consent."""
    return is_local_endpoint(base_url, resolve=lambda _host: [])


def endpoint_problem(base_url: str, *, env_var: str = "OPENAI_API_KEY") -> str | None:
    """Why ``base_url`` cannot be used as a judge endpoint (None when it can).

    A URL carrying credentials (user info, or a key in the query) is refused rather than
    stripped: httpx would send user info as Basic auth, and the URL also shows in process
    lists and shell history, so the user must move the key to the keyring or ``env_var``.
    """
    url = _parse(base_url)
    if url is None:
        return f"{redact(base_url)!r} is not a valid URL"
    if url.scheme not in ("http", "https") or not url.host:
        return (f"{public_url(base_url)!r} is not an http(s) URL "
                "(e.g. http://127.0.0.1:8000/v1)")
    where = "the keyring (service 'medreview-judge') or the environment variable " + env_var
    if url.userinfo:
        return ("the base URL carries a user name or key before '@'; remove it and put the "
                f"key in {where}")
    if _SECRET_QUERY.search("?" + url.query.decode("ascii", "replace")):
        return ("the base URL carries a key in its query string; remove it and put the key "
                f"in {where}")
    return None


def check_endpoint(base_url: str, *, env_var: str = "OPENAI_API_KEY") -> None:
    """Raise ``JudgeError`` (naming the URL without secrets) when ``endpoint_problem`` says so."""
    problem = endpoint_problem(base_url, env_var=env_var)
    if problem is not None:
        raise JudgeError(problem, source=public_url(base_url))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    u = _parse(url)
    if u is None:
        return ("", "", None)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, u.host.lower(), port)


def check_consent(base_url: str, *, data_may_leave: bool) -> None:
    """Raise ``JudgeError`` when case data would go to a remote endpoint without consent."""
    check_endpoint(base_url)
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
    try:
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.netloc:
            return redact(base_url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # e.g. a port that is not a number
        return redact(base_url.split("?", 1)[0])
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    return redact(f"{parts.scheme}://{netloc}{parts.path}")


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
    """``text`` with every secret, key-shaped string and URL credential replaced by
    ``[redacted]`` (user info in URLs, ``api-key=``/``key=``/``token=``/``sig=``... values)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = _URL_USERINFO.sub(r"\1[redacted]@", text)
    text = _SECRET_QUERY.sub(r"\1[redacted]", text)
    return _KEY_SHAPE.sub("[redacted]", text)
