"""Opening a project on a PostgreSQL server from the app: the URL a lead sent, a typed
password, TLS options, and the keyring.

The password travels apart from the URL (``ServerLogin.password``, never in a ``repr``), is
given to the driver only, and reaches the OS keyring only when the rater asked for it and the
project opened with it. What the app shows and remembers (titles, the recent list, messages)
is ``display_url``: the URL without any password.

The storage layer is imported on first use (the start page asks ``is_server_url`` of its
recent entries before any project is open).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medreview.errors import ProjectError

if TYPE_CHECKING:
    from medreview.services.projects import Project
    from medreview.storage.server_url import ServerUrl

log = logging.getLogger(__name__)

# libpq's sslmode values; "" leaves the URL's choice (libpq's default is "prefer").
SSL_MODES = ("", "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# What `medreview team add-rater` prints before the URL: pasted with it, it is dropped.
_LABELS = ("project:", "url:")


@dataclass(frozen=True)
class ServerLogin:
    """What the "Open server project" dialog asks for."""

    url: str
    password: str | None = field(default=None, repr=False)
    remember: bool = False
    read_only: bool = False


def is_server_url(text: object) -> bool:
    """A ``postgresql://`` project (cheap for anything else: no storage import)."""
    if not isinstance(text, str) or "://" not in text:
        return False
    from medreview.storage.server_url import is_database_url

    return is_database_url(text.strip())


def clean_url(text: str) -> str:
    """The URL out of what was pasted: surrounding space, a ``project:`` label (as
    ``medreview team add-rater`` prints it) and quotes go."""
    url = text.strip()
    if url.lower().startswith(_LABELS):
        url = url.split(":", 1)[1].strip()
    return url.strip("'\"<>").strip()


def with_tls(url: str, sslmode: str = "", sslrootcert: str = "") -> str:
    """``url`` with TLS options added to its query (libpq reads them unchanged); a value the
    dialog leaves empty keeps what the URL says."""
    if sslmode not in SSL_MODES:
        raise ProjectError(f"unknown TLS mode {sslmode!r}; one of {', '.join(SSL_MODES[1:])}")
    if not sslmode and not sslrootcert:
        return url
    parsed = _parse(url)
    query = dict(parsed.url.query)
    if sslmode:
        query["sslmode"] = sslmode
    if sslrootcert:
        query["sslrootcert"] = sslrootcert
    rebuilt = parsed.url.set(query=query)
    # Keep a password typed into the URL itself where it was (it is never shown).
    if parsed.password is not None:
        rebuilt = rebuilt.set(password=parsed.password)
    return rebuilt.render_as_string(hide_password=False)


def _parse(url: str) -> ServerUrl:
    from medreview.storage.server_url import parse_server_url

    return parse_server_url(clean_url(url), use_keyring=False)


def display_url(url: str) -> str:
    """The URL as the app shows and remembers it: ``postgresql://``, no password."""
    return str(_parse(url).display)


def describe(url: str) -> tuple[str, str]:
    """(database, "host:port") for the start page's recent list."""
    server = _parse(url)
    u = server.url
    return str(u.database), f"{u.host or 'localhost'}:{u.port or 5432}"


def open_server(login: ServerLogin) -> Project:
    """Open the server project (on the project's database thread). A password typed in the
    dialog is used as given; none means the URL's, ``PGPASSWORD``/``.pgpass`` or the keyring.
    Stored in the keyring only after the project opened with it, and only if asked."""
    from medreview.storage.project import open_server_project

    url = clean_url(login.url)
    password = login.password or None
    project = open_server_project(url, read_only=True if login.read_only else None,
                                  password=password)
    if login.remember and password:
        remember_password(url, password)
    return project


def remember_password(url: str, password: str) -> str | None:
    """Keep ``password`` in the OS keyring for this URL's login; a line saying why not, or
    None when it is kept."""
    from medreview.storage.server_url import KEYRING_SERVICE

    server = _parse(url)
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, server.keyring_user, password)
    except Exception as exc:  # no usable keyring (a headless session): the open still counts
        reason = ("the password was not remembered: no usable system keyring "
                  f"({type(exc).__name__})")
        log.warning("%s", reason)
        return reason
    return None


def forget_password(url: str) -> None:
    from medreview.storage.server_url import KEYRING_SERVICE

    server = _parse(url)
    try:
        import keyring

        keyring.delete_password(KEYRING_SERVICE, server.keyring_user)
    except Exception:  # nothing kept, or no keyring: nothing to forget
        return
