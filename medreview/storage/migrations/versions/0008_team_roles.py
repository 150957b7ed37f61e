"""raters and leads as database roles: ``rater.db_role`` and, on PostgreSQL, row-level security

Both dialects: ``rater.db_role`` (nullable, unique) names the PostgreSQL login of a physician;
SQLite leaves it empty and has no roles.

PostgreSQL only: three group roles per database, named after it (``<db>_medreview_lead``,
``…_rater``, ``…_judge``; a long name is shortened with a hash) so that two projects on one
server never share one:

- the lead group owns every table (its members bypass row-level security as owners, run later
  migrations and add raters, holding ADMIN on the other two groups);
- the rater group reads the project, forms and guidelines, only the cases, outputs (never the
  table's ``model`` column: blinding holds on the server; the view ``medreview_blind.output``,
  first on a rater login's search_path, shows it blank unless the project reveals models),
  series, attachments and media assigned to the member, only their own assignments,
  judgments and revisions; it inserts judgments and revisions only for itself on what is
  assigned to it, under its own name as author, updates only the mirror columns of its own
  judgments and never updates or deletes a revision; gold labels, issued packages (their seal
  secrets), judge runs and the import log are not granted;
- the judge group reads every case and output and writes runs, ledger, cache and the
  judgments of judge raters only.

A login is mapped to its rater by ``rater.db_role = current_user`` inside the policies. The
migration needs a superuser or a role with CREATEROLE (the DBA, see docs/TEAM.md) and refuses
if the group roles already exist (left over from a dropped database of the same name: their
members would see this one). Tables created by later migrations must be given to the lead group
and granted like these; a migration that changes ``output`` recreates the blind view.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from alembic import op

from medreview.errors import ProjectError

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The rater row of the connected login; used inside every rater policy.
ME = "(SELECT r.id FROM rater r WHERE r.db_role = current_user)"
MY_OUTPUTS = f"(SELECT a.output_id FROM assignment a WHERE a.rater_id IN {ME})"
MY_CASES = ("(SELECT o.case_id FROM output o JOIN assignment a ON a.output_id = o.id "
            f"WHERE a.rater_id IN {ME})")
MY_JUDGMENTS = f"(SELECT j.id FROM judgment j WHERE j.rater_id IN {ME})"
JUDGE_RATERS = "(SELECT r.id FROM rater r WHERE r.kind = 'judge')"
JUDGE_JUDGMENTS = f"(SELECT j.id FROM judgment j WHERE j.rater_id IN {JUDGE_RATERS})"
MY_MEDIA = ("(SELECT t.sha256 FROM attachment t WHERE t.case_id IN "
            f"{MY_CASES})")

# The output columns a rater may read in the table: none that may name the model.
OUTPUT_COLUMNS_FOR_RATERS = ("id", "case_id", "text", "text_sha256", "created_at")
# A rater login's search_path starts with this schema (storage.team sets it): its view
# ``output`` shadows the table, with the columns that name the model — ``model`` itself, and
# ``external_id`` ("case:model"), ``metadata`` (output_model, a grader's score) and ``source``
# (the file, often named after the model) — blank unless the project reveals models. The app's
# queries run unchanged; the table's columns stay out of reach.
BLIND_SCHEMA = "medreview_blind"
_REVEAL = "(SELECT bool_or(p.reveal_models) FROM {schema}.project p)"
BLIND_OUTPUT_VIEW = (
    f"CREATE VIEW {BLIND_SCHEMA}.output WITH (security_barrier) AS SELECT o.id, o.case_id, "
    f"CASE WHEN {_REVEAL} THEN o.external_id END AS external_id, "
    f"CASE WHEN {_REVEAL} THEN o.model ELSE '' END AS model, o.text, o.text_sha256, "
    f"CASE WHEN {_REVEAL} THEN o.metadata ELSE '{{{{}}}}' END AS metadata, "
    f"CASE WHEN {_REVEAL} THEN o.source ELSE '' END AS source, "
    "o.created_at FROM {schema}.output o WHERE o.id IN (SELECT a.output_id FROM "
    "{schema}.assignment a WHERE a.rater_id IN (SELECT r.id FROM {schema}.rater r "
    "WHERE r.db_role = current_user))")
RLS_TABLES = ("rater", "case", "case_criterion", "series", "attachment", "output", "assignment",
              "judgment", "judgment_revision", "media_blob", "media_chunk")

# (table, command, rater's condition) — USING for SELECT/UPDATE, WITH CHECK for INSERT/UPDATE.
RATER_POLICIES: tuple[tuple[str, str, str], ...] = (
    ("rater", "SELECT", "db_role = current_user"),
    ("assignment", "SELECT", f"rater_id IN {ME}"),
    ("output", "SELECT", f"id IN {MY_OUTPUTS}"),
    ("case", "SELECT", f"id IN {MY_CASES}"),
    ("case_criterion", "SELECT", f"case_id IN {MY_CASES}"),
    ("series", "SELECT", f"case_id IN {MY_CASES}"),
    ("attachment", "SELECT", f"case_id IN {MY_CASES}"),
    ("media_blob", "SELECT", f"sha256 IN {MY_MEDIA}"),
    ("media_chunk", "SELECT", f"sha256 IN {MY_MEDIA}"),
    ("judgment", "SELECT", f"rater_id IN {ME}"),
    ("judgment", "INSERT", f"rater_id IN {ME} AND output_id IN {MY_OUTPUTS}"),
    ("judgment", "UPDATE", f"rater_id IN {ME}"),
    ("judgment_revision", "SELECT", f"judgment_id IN {MY_JUDGMENTS}"),
    ("judgment_revision", "INSERT",
     f"judgment_id IN {MY_JUDGMENTS} AND source IN ('ui', 'undo') AND "
     "author = (SELECT r.name FROM rater r WHERE r.db_role = current_user)"),
)
JUDGE_POLICIES: tuple[tuple[str, str, str], ...] = (
    ("rater", "SELECT", "kind = 'judge'"),
    ("rater", "INSERT", "kind = 'judge' AND db_role IS NULL"),
    *((t, "SELECT", "true") for t in ("case", "case_criterion", "series", "attachment", "output",
                                      "media_blob", "media_chunk")),
    ("judgment", "SELECT", f"rater_id IN {JUDGE_RATERS}"),
    ("judgment", "INSERT", f"rater_id IN {JUDGE_RATERS}"),
    ("judgment", "UPDATE", f"rater_id IN {JUDGE_RATERS}"),
    ("judgment_revision", "SELECT", f"judgment_id IN {JUDGE_JUDGMENTS}"),
    ("judgment_revision", "INSERT", f"judgment_id IN {JUDGE_JUDGMENTS}"),
)
READ_ONLY = ("alembic_version", "project", "form", "guideline")
RATER_GRANTS = (
    *((t, "SELECT") for t in READ_ONLY),
    *((t, "SELECT") for t in ("rater", "case", "case_criterion", "series", "attachment",
                              "assignment", "media_blob", "media_chunk")),
    ("output", f"SELECT ({', '.join(OUTPUT_COLUMNS_FOR_RATERS)})"),
    ("judgment", "SELECT, INSERT, UPDATE (status, flagged, current_revision_no, updated_at)"),
    ("judgment_revision", "SELECT, INSERT"),
)
JUDGE_GRANTS = (
    *((t, "SELECT") for t in READ_ONLY),
    *((t, "SELECT") for t in ("case", "case_criterion", "series", "attachment", "output",
                              "media_blob", "media_chunk")),
    ("rater", "SELECT, INSERT"),
    *((t, "SELECT, INSERT, UPDATE") for t in ("judge_run", "judge_item", "judge_cache",
                                               "judgment")),
    ("judgment_revision", "SELECT, INSERT"),
)
RATER_SEQUENCES = ("judgment", "judgment_revision")
JUDGE_SEQUENCES = ("rater", "judge_run", "judge_item", "judgment", "judgment_revision")

GROUP_KINDS = ("lead", "rater", "judge")
_LONGEST_SUFFIX = len("_medreview_rater")
_MAX_ROLE = 63  # PostgreSQL's NAMEDATALEN - 1 (bytes)


def group_roles(database: str) -> dict[str, str]:
    """The three group role names of a database (storage.team finds them again by owner)."""
    room = _MAX_ROLE - _LONGEST_SUFFIX
    base = database
    if len(base.encode("utf-8")) > room:
        slug = re.sub(r"[^a-z0-9_]+", "_", database.lower())[: room - 9]
        base = f"{slug}_{hashlib.sha256(database.encode('utf-8')).hexdigest()[:8]}"
    return {kind: f"{base}_medreview_{kind}" for kind in GROUP_KINDS}


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    # ADD COLUMN and a unique index: no table rebuild on SQLite (rater is referenced by
    # foreign keys, which a batch rebuild would trip over).
    op.add_column("rater", sa.Column("db_role", sa.String(length=63), nullable=True))
    op.create_index(op.f("ix_rater_db_role"), "rater", ["db_role"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade(op.get_bind())
    op.drop_index(op.f("ix_rater_db_role"), table_name="rater")
    with op.batch_alter_table("rater", schema=None) as batch_op:
        batch_op.drop_column("db_role")


def _run(conn: sa.Connection, sql: str) -> None:
    conn.exec_driver_sql(sql)


def _postgresql_upgrade(conn: sa.Connection) -> None:
    me, database, schema, superuser, createrole = conn.exec_driver_sql(
        "SELECT current_user, current_database(), current_schema(), rolsuper, rolcreaterole "
        "FROM pg_roles WHERE rolname = current_user").one()
    if not (superuser or createrole):
        raise ProjectError(f"the team roles of this database are created by its first migration"
                           f" to schema 0008, which needs a superuser or a role with CREATEROLE "
                           f"(connected as {me}); ask the database administrator (docs/TEAM.md)")
    groups = group_roles(database)
    lead, rater, judge = groups["lead"], groups["rater"], groups["judge"]
    taken = [r for (r,) in conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname IN "
                                                "(:a, :b, :c)"), {"a": lead, "b": rater,
                                                                   "c": judge})]
    if taken:
        raise ProjectError(f"role {taken[0]} already exists on this server (left from a dropped "
                           f"database of the same name?); its members would see this project: "
                           f"drop it (DROP ROLE) or use another database name")
    for role in (lead, rater, judge):
        _run(conn, f"CREATE ROLE {q(role)} NOLOGIN")
    _run(conn, f"GRANT {q(rater)}, {q(judge)} TO {q(lead)} WITH ADMIN OPTION")
    if not superuser:  # whoever migrates is a lead (and may hand tables to the group)
        _run(conn, f"GRANT {q(lead)} TO {q(me)}")
    owns_db, owns_schema = conn.exec_driver_sql(
        "SELECT pg_has_role(current_user, d.datdba, 'USAGE'), "
        "pg_has_role(current_user, n.nspowner, 'USAGE') FROM pg_database d, pg_namespace n "
        "WHERE d.datname = current_database() AND n.nspname = current_schema()").one()
    # Only the project's roles connect; nobody creates objects beside the project's tables.
    # (Only the owner may change these; otherwise docs/TEAM.md asks the DBA to.)
    if superuser or owns_db:
        _run(conn, f"REVOKE CONNECT, TEMPORARY ON DATABASE {q(database)} FROM PUBLIC")
        _run(conn, f"GRANT CONNECT ON DATABASE {q(database)} TO {q(lead)}, {q(rater)}, "
                   f"{q(judge)}")
        _run(conn, f"GRANT TEMPORARY ON DATABASE {q(database)} TO {q(lead)}")
    if superuser or owns_schema:
        _run(conn, f"REVOKE CREATE ON SCHEMA {q(schema)} FROM PUBLIC")
        _run(conn, f"GRANT USAGE, CREATE ON SCHEMA {q(schema)} TO {q(lead)}")
    _run(conn, f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(rater)}, {q(judge)}")
    tables = [t for (t,) in conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"))]
    for table in tables:  # owned by the group: its members bypass RLS and run migrations
        _run(conn, f"ALTER TABLE {q(table)} OWNER TO {q(lead)}")
    for table in RLS_TABLES:
        _run(conn, f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY")
        _run(conn, f"CREATE POLICY mr_lead ON {q(table)} TO {q(lead)} USING (true) "
                   "WITH CHECK (true)")
    for group, policies in ((rater, RATER_POLICIES), (judge, JUDGE_POLICIES)):
        kind = "rater" if group == rater else "judge"
        for table, command, condition in policies:
            clause = {"SELECT": f"USING ({condition})",
                      "INSERT": f"WITH CHECK ({condition})",
                      "UPDATE": f"USING ({condition}) WITH CHECK ({condition})"}[command]
            _run(conn, f"CREATE POLICY mr_{kind}_{command.lower()} ON {q(table)} "
                       f"FOR {command} TO {q(group)} {clause}")
    for group, grants in ((rater, RATER_GRANTS), (judge, JUDGE_GRANTS)):
        for table, privileges in grants:
            _run(conn, f"GRANT {privileges} ON {q(table)} TO {q(group)}")
    # The view runs with its owner's rights (the lead group, which RLS does not filter), so it
    # repeats the rater's condition itself; current_user inside it is still the rater.
    _run(conn, f"CREATE SCHEMA {BLIND_SCHEMA} AUTHORIZATION {q(lead)}")
    _run(conn, BLIND_OUTPUT_VIEW.format(schema=q(schema)))
    _run(conn, f"ALTER VIEW {BLIND_SCHEMA}.output OWNER TO {q(lead)}")
    _run(conn, f"GRANT USAGE ON SCHEMA {BLIND_SCHEMA} TO {q(rater)}")
    _run(conn, f"GRANT SELECT ON {BLIND_SCHEMA}.output TO {q(rater)}")
    for group, seq_tables in ((rater, RATER_SEQUENCES), (judge, JUDGE_SEQUENCES)):
        for table in seq_tables:
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                               {"t": q(table)}).scalar()
            if seq:
                _run(conn, f"GRANT USAGE ON SEQUENCE {seq} TO {q(group)}")


def _postgresql_downgrade(conn: sa.Connection) -> None:
    me, database = conn.exec_driver_sql("SELECT current_user, current_database()").one()
    groups = group_roles(database)
    _run(conn, f"DROP SCHEMA IF EXISTS {BLIND_SCHEMA} CASCADE")
    for table in RLS_TABLES:
        for (name,) in conn.execute(sa.text("SELECT policyname FROM pg_policies WHERE "
                                            "schemaname = current_schema() AND tablename = :t"),
                                    {"t": table}):
            _run(conn, f"DROP POLICY {q(name)} ON {q(table)}")
        _run(conn, f"ALTER TABLE {q(table)} DISABLE ROW LEVEL SECURITY")
    tables = [t for (t,) in conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"))]
    for table in tables:
        _run(conn, f"ALTER TABLE {q(table)} OWNER TO {q(me)}")
    present = [r for (r,) in conn.execute(sa.text(
        "SELECT rolname FROM pg_roles WHERE rolname IN (:a, :b, :c)"),
        {"a": groups["lead"], "b": groups["rater"], "c": groups["judge"]})]
    if present:
        _run(conn, "DROP OWNED BY " + ", ".join(q(r) for r in present))
        for role in present:
            _run(conn, f"DROP ROLE {q(role)}")
    if conn.exec_driver_sql("SELECT rolsuper OR pg_has_role(current_user, d.datdba, 'USAGE') "
                            "FROM pg_roles, pg_database d WHERE rolname = current_user "
                            "AND d.datname = current_database()").scalar():
        _run(conn, f"GRANT CONNECT, TEMPORARY ON DATABASE {q(database)} TO PUBLIC")
