"""A project on a PostgreSQL server: its URL, its password, and how it is shown.

``postgresql://user@host:port/dbname`` (``postgresql+psycopg://`` and ``postgres://`` too).
TLS and other libpq options in the query (``sslmode``, ``sslrootcert``…) go to the driver
unchanged. The password comes, in this order, from the URL (discouraged: it shows in process
lists and shell history), ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads those itself), or the OS
keyring (service ``medreview-postgres``, user ``user@host:port/dbname``). A password is never
part of a message: ``display`` has none, and ``redact`` takes it out of driver errors.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from medreview.errors import ProjectError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "medreview-postgres"
DRIVER = "postgresql+psycopg"
_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")
DEFAULT_PORT = 5432
CONNECT_TIMEOUT_S = "10"
# libpq's TCP keepalives and unacknowledged-data timeout (ms); a URL's own values win.
DEAD_LINK_OPTIONS = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
                     "keepalives_count": "3", "tcp_user_timeout": "30000"}


def is_database_url(value: object) -> bool:
    """True for a ``postgresql://`` style string (a folder path is never one)."""
    if not isinstance(value, str):
        return False
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.lower() in _SCHEMES


@dataclass(frozen=True)
class ServerUrl:
    """A parsed server URL without its password; ``password`` kept apart, never shown."""

    url: URL
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL as messages show it: no password, ``postgresql://`` scheme."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    @property
    def keyring_user(self) -> str:
        u = self.url
        return f"{u.username or ''}@{u.host or 'localhost'}:{u.port or DEFAULT_PORT}/{u.database}"

    @property
    def local_id(self) -> str:
        """A folder name for this database's local files (media cache, judge run notes)."""
        host = "".join(c if c.isalnum() else "-" for c in f"{self.url.host}-{self.url.database}")
        digest = hashlib.sha256(self.keyring_user.encode("utf-8")).hexdigest()[:12]
        return f"{host[:60]}-{digest}"

    def redact(self, text: str) -> str:
        return redact(text, self.password)


def redact(text: str, password: str | None) -> str:
    """``text`` with the password (and any ``:secret@`` in a URL) replaced by ``***``."""
    if password:
        text = text.replace(password, "***")
    return text


def parse_server_url(text: str, *, use_keyring: bool = True) -> ServerUrl:
    """Parse and check ``text``; a password missing from it is looked up in the keyring
    (unless ``PGPASSWORD`` is set, which libpq then uses). Errors never quote the password."""
    try:
        url = make_url(text)
    except Exception:  # sqlalchemy's error quotes the string: not even in a chained traceback
        raise ProjectError("not a valid database URL; expected "
                           "postgresql://user@host:port/dbname") from None
    if url.drivername not in _SCHEMES:
        raise ProjectError(f"unsupported database URL scheme {url.drivername!r}; expected "
                           "postgresql://user@host:port/dbname")
    password = url.password if isinstance(url.password, str) else None
    # URL.set ignores None: build it anew, so no copy of the password stays in the URL.
    url = URL.create(DRIVER, username=url.username, host=url.host, port=url.port,
                     database=url.database, query=url.query)
    if not url.database:
        raise ProjectError("the database URL names no database (…/dbname)",
                           source=ServerUrl(url).display)
    server = ServerUrl(url, password)
    if password is None and use_keyring and not os.environ.get("PGPASSWORD"):
        server = ServerUrl(url, _keyring_password(server))
    return server


def _keyring_password(server: ServerUrl) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, server.keyring_user)
    except Exception as exc:  # no usable keyring: libpq may still find .pgpass
        log.debug("keyring unavailable: %s", type(exc).__name__)
        return None


def connect_args(server: ServerUrl, *, read_only: bool) -> dict[str, object]:
    """Driver arguments beside the URL: the password, a connect timeout, a name in
    ``pg_stat_activity`` and, read-only, a server-side refusal of every write."""
    args: dict[str, object] = {"application_name": "medreview"}
    if "connect_timeout" not in server.url.query:
        args["connect_timeout"] = CONNECT_TIMEOUT_S
    # A link that dies without a reset (a pulled cable, a dropped VPN) is noticed in about
    # 30 s instead of the OS's ~15 min of retransmissions: a save in flight then fails as
    # "unreachable" (kept and retried) instead of holding the database thread.
    for key, value in DEAD_LINK_OPTIONS.items():
        if key not in server.url.query:
            args[key] = value
    if server.password is not None:
        args["password"] = server.password
    if read_only:
        options = str(server.url.query.get("options", ""))
        args["options"] = (options + " -c default_transaction_read_only=on").strip()
    return args


def local_folder(server: ServerUrl) -> Path:
    """This user's folder for files of a server project that are not in the database."""
    from medreview.paths import user_data_dir

    path = user_data_dir() / "servers" / server.local_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def media_cache_folder(server: ServerUrl) -> Path:
    """Verified copies of media read from the database (viewers and exporters need files)."""
    from medreview.paths import user_cache_dir

    return user_cache_dir() / "server-media" / server.local_id
