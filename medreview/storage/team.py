"""The team of a PostgreSQL project as database roles: raters, leads and judges with logins.

Schema 0008 made three group roles per database (the lead group owns the tables; rater and
judge groups see what row-level security lets them, see the migration). Here a lead (or the
DBA, a superuser) gives people logins: a login role with a generated password, a member of one
group, and for a physician the link ``rater.db_role`` the policies read. The groups are found
again as the owner of the ``rater`` table, so renaming the database changes nothing.

Passwords never travel in clear: the SCRAM verifier is computed here (libpq's
``PQencryptPasswordConn``) and only it reaches the server, its logs and ``pg_authid``. The
password itself is returned once, in ``Credentials``, for the lead to hand over.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import URL, Connection, Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from medreview.errors import InputError, ProjectError
from medreview.storage import schema
from medreview.storage.health import describe_db_error
from medreview.storage.models import RaterRow
from medreview.storage.raters import get_or_create_rater
from medreview.storage.server_url import (
    DEFAULT_PORT,
    KEYRING_SERVICE,
    ServerUrl,
    connect_args,
    is_database_url,
    parse_server_url,
)

Kind = Literal["lead", "rater", "judge"]
KINDS: tuple[Kind, ...] = ("lead", "rater", "judge")
LEAD_SUFFIX = "_medreview_lead"
BLIND_SCHEMA = "medreview_blind"  # migration 0008's view of outputs for raters
# Login names we create or accept: plain lower-case identifiers, never PostgreSQL's own pg_*.
ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
MAX_NAME = 200
PASSWORD_BYTES = 24  # secrets.token_urlsafe: 32 characters, 192 bits


@dataclass(frozen=True)
class Credentials:
    """What a new member needs: the project URL for their login, and the password (once)."""

    role: str
    kind: Kind
    url: str  # postgresql://role@host:port/db?options — no password
    host: str
    port: int
    database: str
    password: str = field(repr=False)
    rater: str | None = None

    @property
    def keyring_service(self) -> str:
        return KEYRING_SERVICE

    @property
    def keyring_user(self) -> str:
        return f"{self.role}@{self.host}:{self.port}/{self.database}"

    def pgpass_line(self, password: str) -> str:
        """A ``~/.pgpass`` line for this login (``password`` given, so callers may print a
        placeholder instead of the secret)."""
        fields = (self.host, str(self.port), self.database, self.role, password)
        return ":".join(f.replace("\\", "\\\\").replace(":", "\\:") for f in fields)


@dataclass(frozen=True)
class Member:
    role: str
    kind: Kind
    can_login: bool
    rater: str | None = None  # the physician's name, for raters


@dataclass(frozen=True)
class Removed:
    rater: str
    role: str
    dropped: bool  # False: the login is kept because it still has rights elsewhere


@dataclass(frozen=True)
class Groups:
    lead: str
    rater: str
    judge: str
    schema: str  # where the project's tables are

    def of(self, kind: Kind) -> str:
        return {"lead": self.lead, "rater": self.rater, "judge": self.judge}[kind]


def q(name: str) -> str:
    """A quoted SQL identifier (role names cannot be bound parameters in DDL)."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def team_database(url: str) -> Iterator[Engine]:
    """An engine on the PostgreSQL project ``url`` at this version's schema, for team work."""
    if not is_database_url(url):
        raise InputError("team roles exist only for a project on a PostgreSQL server "
                         "(postgresql://user@host/dbname); a project folder uses rater packages")
    server = parse_server_url(url)
    engine = create_engine(server.url, connect_args=connect_args(server, read_only=False),
                           poolclass=NullPool)
    try:
        _check_revision(engine, server)
        yield engine
    finally:
        engine.dispose()


def _check_revision(engine: Engine, server: ServerUrl) -> None:
    try:
        current = schema.current_revision(engine)
    except DBAPIError as exc:
        raise ProjectError(f"cannot open the database: {server.redact(describe_db_error(exc))}",
                           source=server.display) from exc
    head = schema.head_revision()
    if current != head:
        raise ProjectError(f"the database is at schema {current or 'none'}, not {head}: the lead "
                           f"migrates it first (medreview migrate {server.display})",
                           source=server.display)


def groups(conn: Connection) -> Groups:
    """The project's group roles: the lead group owns ``rater`` (schema 0008)."""
    if conn.dialect.name != "postgresql":
        raise InputError("team roles exist only for a project on a PostgreSQL server")
    # The project's table by the caller's search_path (a rater's starts with the blind view's
    # schema, which holds no ``rater``).
    found = conn.execute(text(
        "SELECT pg_get_userbyid(c.relowner), n.nspname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.oid = to_regclass('rater')")).first()
    owner, where = (found[0], found[1]) if found is not None else (None, None)
    if not isinstance(owner, str) or not owner.endswith(LEAD_SUFFIX):
        raise ProjectError("this database has no team roles (its tables are not owned by a "
                           "medreview lead group); was it migrated to schema 0008 on this server?")
    base = owner[: -len("lead")]
    return Groups(owner, base + "rater", base + "judge", str(where))


def _require_manager(conn: Connection, g: Groups) -> None:
    """A superuser, or a lead with CREATEROLE; anyone else gets one line, before any change."""
    me, superuser, createrole, lead = conn.execute(text(
        "SELECT current_user, rolsuper, rolcreaterole, pg_has_role(current_user, :g, 'MEMBER') "
        "FROM pg_roles WHERE rolname = current_user"), {"g": g.lead}).one()
    if superuser or (createrole and lead):
        return
    raise InputError(f"{me} may not manage this project's team: connect as one of its leads "
                     f"(a member of {g.lead} with CREATEROLE) or as the database administrator")


def check_rater_name(name: str) -> str:
    """The name stripped; one line if it is empty, too long or holds control characters."""
    name = name.strip()
    if not name:
        raise InputError("a rater needs a name")
    if len(name) > MAX_NAME:
        raise InputError(f"a rater name has at most {MAX_NAME} characters", item=name[:40] + "…")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for c in name):
        raise InputError("a rater name may not hold control or invisible characters",
                         item=repr(name)[:60])
    return name


def check_role_name(role: str) -> str:
    if not ROLE_RE.fullmatch(role) or role.startswith("pg_"):
        raise InputError("a login name is 1-63 lower-case letters, digits or _ (not starting "
                         "with a digit or pg_)", item=role[:70])
    return role


def default_role(database: str, name: str) -> str:
    """``<database>_<name>`` in lower-case ASCII: unique per project on a shared server."""
    def slug(s: str) -> str:
        ascii_ = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
        return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", ascii_.lower())).strip("_")

    person = slug(name)
    if not person:
        raise InputError("no login name can be made from this rater name: give one with --role",
                         item=name)
    base = slug(database) or "medreview"
    role = f"{base[:30]}_{person}"[:63].rstrip("_")
    return role if role[0].isalpha() or role[0] == "_" else f"r_{role}"[:63]


def _role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                        {"r": role}).first() is not None


def _is_member(conn: Connection, role: str, group: str) -> bool:
    return conn.execute(text(
        "SELECT 1 FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g "
        "ON g.oid = am.roleid WHERE m.rolname = :r AND g.rolname = :g"),
        {"r": role, "g": group}).first() is not None


def _create_login(conn: Connection, role: str, group: str, *, createrole: bool = False) -> str:
    """A login in ``group`` with a fresh password; returns the password."""
    if _role_exists(conn, role):
        raise InputError(f"a role {role} already exists on this server; choose another login "
                         "name (--role)", item=role)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    dbapi: Any = conn.connection.dbapi_connection
    verifier = dbapi.pgconn.encrypt_password(password.encode(), role.encode(),
                                             b"scram-sha-256").decode("ascii")
    if not verifier.startswith("SCRAM-SHA-256$") or "'" in verifier:
        raise ProjectError("the database driver made no SCRAM password verifier")
    extra = " CREATEROLE" if createrole else ""
    _ddl(conn, f"CREATE ROLE {q(role)} LOGIN{extra} PASSWORD '{verifier}'")
    _ddl(conn, f"GRANT {q(group)} TO {q(role)}")
    return password


def _ddl(conn: Connection, sql: str) -> None:
    """One statement; a refusal by the server (no right, a name taken) in one line (the
    caller's transaction is then rolled back whole)."""
    try:
        conn.exec_driver_sql(sql)
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        reason = describe_db_error(exc)
        if state == "42501":
            raise InputError(f"the server refused: {reason}") from exc
        if state == "42710":
            raise InputError(f"already exists: {reason}") from exc
        raise


def _credentials(conn: Connection, role: str, kind: Kind, password: str,
                 rater: str | None = None) -> Credentials:
    url = conn.engine.url
    host = url.host or "localhost"
    port = url.port or DEFAULT_PORT
    # Built anew: URL.set(password=None) keeps a password the engine's URL holds (shown ***).
    public = URL.create("postgresql", username=role, host=url.host, port=url.port,
                        database=url.database, query=url.query)
    return Credentials(role=role, kind=kind, url=public.render_as_string(hide_password=True),
                       host=host, port=port, database=str(url.database), password=password,
                       rater=rater)


def add_rater(engine: Engine, name: str, *, role: str | None = None) -> Credentials:
    """A login for the physician ``name`` (the rater is created if new; their history stays
    theirs), in the rater group; one transaction."""
    name = check_rater_name(name)
    with engine.begin() as conn:
        g = groups(conn)
        _require_manager(conn, g)
        database = str(conn.execute(text("SELECT current_database()")).scalar_one())
        role = check_role_name(role) if role else default_role(database, name)
        with Session(bind=conn) as s:
            row = get_or_create_rater(s, name, "physician")
            if row.db_role and _is_member(conn, row.db_role, g.rater):
                raise InputError(f"this rater already has the login {row.db_role} (remove it "
                                 "first to issue a new one)", item=name)
            # A db_role that is no member here came with a copy of another database: stale.
            password = _create_login(conn, role, g.rater)
            # The blind view of outputs shadows the table for this login (schema 0008).
            _ddl(conn, f"ALTER ROLE {q(role)} IN DATABASE {q(database)} SET search_path = "
                       f"{BLIND_SCHEMA}, {q(g.schema)}")
            row.db_role = role
            s.flush()
        return _credentials(conn, role, "rater", password, rater=name)


def add_lead(engine: Engine, role: str) -> Credentials:
    """A lead's login: reads and writes everything, adds and removes team members."""
    return _add_plain(engine, check_role_name(role), "lead")


def add_judge(engine: Engine, role: str) -> Credentials:
    """A login for judge runs: reads cases and outputs, writes runs and judge judgments."""
    return _add_plain(engine, check_role_name(role), "judge")


def _add_plain(engine: Engine, role: str, kind: Kind) -> Credentials:
    with engine.begin() as conn:
        g = groups(conn)
        _require_manager(conn, g)
        password = _create_login(conn, role, g.of(kind), createrole=kind == "lead")
        return _credentials(conn, role, kind, password)


def remove_rater(engine: Engine, name: str) -> Removed:
    """Take the physician's login away (their judgments and revisions stay): out of the group,
    unlinked, and dropped unless it still has rights elsewhere on the server."""
    name = check_rater_name(name)
    with engine.begin() as conn:
        g = groups(conn)
        _require_manager(conn, g)
        with Session(bind=conn) as s:
            row = s.scalars(select(RaterRow).where(RaterRow.name == name)).first()
            if row is None:
                raise InputError("no such rater", item=name)
            if not row.db_role:
                raise InputError("this rater has no login", item=name)
            role = row.db_role
            if _is_member(conn, role, g.rater):
                _ddl(conn, f"REVOKE {q(g.rater)} FROM {q(role)}")
            row.db_role = None
            s.flush()
        if not _role_exists(conn, role):
            return Removed(name, role, True)
        # Dropped only when it is nobody's member any more: a login that is also in another
        # project's group (or came with a copy of this project) keeps working there.
        still = conn.execute(text("SELECT count(*) FROM pg_auth_members am JOIN pg_roles m ON "
                                  "m.oid = am.member WHERE m.rolname = :r"), {"r": role}).scalar()
        if still:
            return Removed(name, role, False)
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(f"DROP ROLE {q(role)}")
        except DBAPIError:
            return Removed(name, role, False)  # it owns or holds rights elsewhere: keep it
        return Removed(name, role, True)


def list_members(engine: Engine) -> tuple[Member, ...]:
    """Every login in the project's groups: leads, raters (with their names), judges."""
    with engine.connect() as conn:
        g = groups(conn)
        rows = conn.execute(text(
            "SELECT m.rolname, gr.rolname, m.rolcanlogin FROM pg_auth_members am "
            "JOIN pg_roles gr ON gr.oid = am.roleid JOIN pg_roles m ON m.oid = am.member "
            "WHERE gr.rolname IN (:l, :r, :j) AND m.rolname NOT IN (:l, :r, :j)"),
            {"l": g.lead, "r": g.rater, "j": g.judge}).all()
        names: dict[str | None, str] = dict(conn.execute(
            select(RaterRow.db_role, RaterRow.name).where(RaterRow.db_role.is_not(None))).all())
    by_group: dict[str, Kind] = {g.lead: "lead", g.rater: "rater", g.judge: "judge"}
    members = [Member(role, by_group[group], bool(login), names.get(role))
               for role, group, login in rows]
    return tuple(sorted(members, key=lambda m: (KINDS.index(m.kind), m.role)))
