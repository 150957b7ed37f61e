"""The consent rule on the 28 tricky URLs of the attack run (security-notes F5/6b), plus the
URL checks and redaction. No traffic and no DNS: names go through an injected resolver."""

from __future__ import annotations

import socket

import pytest

from medreview.errors import JudgeError
from medreview.judge.privacy import (
    check_consent,
    connect_host,
    endpoint_problem,
    is_local_endpoint,
    public_url,
    redact,
)


def no_dns(host: str) -> list[str]:
    raise OSError(f"no DNS in tests ({host})")


# (url, local?) — "local" is decided on the host httpx connects to, never on how a name ends.
TRICKY = [
    ("http://127.0.0.1.nip.io/v1", False),  # a DNS name (public wildcard DNS), not resolved here
    ("http://localhost@example.com/v1", False),  # user info; the host is example.com
    ("http://[::1]:8000/v1", True),
    ("http://0.0.0.0:8000/v1", False),  # "any address", not loopback: needs consent
    ("http://[::ffff:7f00:1]/v1", True),  # IPv4-mapped 127.0.0.1
    ("http://[::ffff:127.0.0.1]/v1", True),
    ("http://2130706433/v1", True),  # 127.0.0.1 as one integer (the C resolver accepts it)
    ("http://0x7f000001/v1", True),
    ("http://127.1/v1", True),
    ("http://017700000001/v1", True),  # octal
    ("http://LOCALHOST:11434/v1", True),
    ("http://localhost./v1", True),
    ("http://evil.localhost/v1", False),  # ends in .localhost, resolves to nothing here
    ("http://127.0.0.1:80@example.com/v1", False),
    ("http://example.com#@127.0.0.1/v1", False),
    ("http://example.com\\@127.0.0.1/v1", True),  # httpx connects to 127.0.0.1 (refused: user info)
    ("http://127.0.0.1%2eexample.com/v1", False),
    ("127.0.0.1:8000/v1", False),  # no scheme: not a URL the client would use
    ("localhost:11434", False),  # parses as scheme "localhost"
    ("http://[::1%25eth0]/v1", True),
    ("http://user:sk-abcdefghijkl@127.0.0.1/v1", True),  # local, but refused for its key
    ("http://127.0.0.1\t.example.com/v1", False),  # httpx refuses control characters
    ("http://ex\nample.com@127.0.0.1/", False),
    ("https://127.0.0.1.example.com/v1", False),
    ("http://localhost.localdomain/v1", False),  # only local if it resolves to loopback
    ("file:///etc/passwd", False),
    ("http://[0:0:0:0:0:0:0:1]/v1", True),
    ("http://[::]/v1", False),
]


def test_the_list_is_the_attack_runs_28() -> None:
    assert len(TRICKY) == 28 and len({u for u, _ in TRICKY}) == 28


@pytest.mark.parametrize(("url", "local"), TRICKY)
def test_tricky_url_verdict(url: str, local: bool) -> None:
    assert is_local_endpoint(url, resolve=no_dns) is local
    if not local:
        with pytest.raises(JudgeError):
            check_consent(url, data_may_leave=False)


@pytest.mark.parametrize("url", ["http://2130706433/v1", "http://0x7f000001/v1",
                                 "http://127.1/v1", "http://017700000001/v1"])
def test_numeric_forms_are_what_the_socket_layer_connects_to(url: str) -> None:
    """The rule's reading of a numeric host matches the C resolver's (no DNS involved)."""
    host = connect_host(url)
    assert host is not None
    infos = socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM, 0,
                               socket.AI_NUMERICHOST)
    assert {i[4][0] for i in infos} == {"127.0.0.1"}


@pytest.mark.parametrize(("addresses", "local"), [
    (["127.0.0.1"], True),
    (["127.0.1.1", "::1"], True),
    (["127.0.0.1", "93.184.216.34"], False),  # one way out is enough to need consent
    (["::ffff:127.0.0.1"], True),
    (["0.0.0.0"], False),
    ([], False),
])
def test_names_count_only_if_they_resolve_only_to_loopback(addresses: list[str],
                                                           local: bool) -> None:
    calls: list[str] = []

    def resolve(host: str) -> list[str]:
        calls.append(host)
        return addresses

    assert is_local_endpoint("http://evil.localhost:8000/v1", resolve=resolve) is local
    assert calls == ["evil.localhost"]


def test_literals_never_need_the_resolver() -> None:
    def forbidden(host: str) -> list[str]:
        raise AssertionError(f"resolved {host}")

    for url in ("http://127.0.0.1:1/v1", "http://[::1]/v1", "http://2130706433/v1",
                "http://localhost/v1", "http://10.0.0.1/v1"):
        is_local_endpoint(url, resolve=forbidden)


@pytest.mark.parametrize("url", [
    "http://user:sk-abcdefghijkl@127.0.0.1/v1",
    "http://apikey:3f9a0c1b2d4e5f60718293a4b5c6d7e8@127.0.0.1:8128/v1",
    "http://example.com\\@127.0.0.1/v1",
    "http://127.0.0.1:8128/v1?api-key=3f9a0c1b2d4e5f60718293a4b5c6d7e8",
    "https://x.openai.azure.com/openai/v1/?api-version=1&key=abcd1234",
    "https://x.example.org/v1?sig=abcd1234&token=zzz",
])
def test_urls_with_credentials_are_refused_without_echoing_them(url: str) -> None:
    problem = endpoint_problem(url, env_var="MY_KEY")
    assert problem is not None and "MY_KEY" in problem and "keyring" in problem
    with pytest.raises(JudgeError) as err:
        check_consent(url, data_may_leave=True)
    for secret in ("sk-abcdefghijkl", "3f9a0c1b2d4e5f60718293a4b5c6d7e8", "abcd1234", "zzz",
                   "apikey"):
        assert secret not in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "127.0.0.1:8000/v1", "localhost:11434",
                                 "http://ex\nample.com/"])
def test_non_http_urls_are_refused(url: str) -> None:
    assert endpoint_problem(url) is not None


def test_plain_urls_pass() -> None:
    for url in ("http://127.0.0.1:8000/v1", "https://api.openai.com/v1",
                "https://r.openai.azure.com/openai/v1/?api-version=preview"):
        assert endpoint_problem(url) is None


def test_redact_scrubs_urls_and_credentials_in_any_text() -> None:
    key = "3f9a0c1b2d4e5f60718293a4b5c6d7e8"
    text = (f"POST http://apikey:{key}@127.0.0.1:8128/v1/chat?api-key={key}&x=1 failed: "
            f"Authorization: Basic YXBpa2V5OjNmOWEwYzFi; https://h/p?sig=s1g&token=t0k")
    out = redact(text)
    for secret in (key, "apikey:", "YXBpa2V5OjNmOWEwYzFi", "s1g", "t0k"):
        assert secret not in out
    assert "x=1" in out and "127.0.0.1:8128/v1/chat" in out
    assert public_url(f"http://apikey:{key}@127.0.0.1:8128/v1?api-key={key}") == (
        "http://127.0.0.1:8128/v1")
    assert key not in public_url(f"http://u:{key}@[::1:8/v1")  # unparseable: still redacted


def test_redact_leaves_prose_about_basic_care_alone() -> None:
    text = "Covers basic management and Basic understanding of bearer of bad news."
    assert redact(text) == text
