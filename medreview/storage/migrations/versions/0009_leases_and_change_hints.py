"""leases of open items, and (PostgreSQL) a change revision announced with NOTIFY

Both dialects:
- ``item_lease`` (rater, output, taken_at, expires_at — seconds since the epoch by the
  database's clock): a rater has the item open; renewed while they work, deleted on submit;
  an expired row counts for nothing (storage/leases.py);
- per assignment (rater, output), how many *other* raters hold a live lease on the output and
  how many finished it — what "next item" needs to skip a pooled item someone else is on,
  without saying who: on PostgreSQL the view ``output_taken``; on SQLite the same query inline
  in storage/leases.py (a SQLite project holds no views: merge refuses packages with any).

PostgreSQL only:
- ``item_lease`` is the lead group's like every table, with row-level security: a rater reads,
  takes, renews and drops only their own leases, on outputs assigned to them;
- ``output_taken`` runs as its owner (the lead group) and so repeats the rule itself: a rater
  sees only the rows of their own assignments, a lead all of them;
- the sequence ``medreview_change_seq`` is the project's change revision: a statement trigger
  on the tables people watch draws one number per writing transaction and sends it with
  ``pg_notify('medreview_changes', …)``, which the server delivers at COMMIT (never for a
  rolled-back write). Listeners treat it as a hint only (storage/notify.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CHANNEL = "medreview_changes"
SEQUENCE = "medreview_change_seq"
NOTE_FUNCTION = "medreview_note_change"
# The tables whose changes a live screen shows (not the judge's ledger and cache: a run's
# progress shows in its judgments and its judge_run row).
WATCHED = ("project", "form", "guideline", "rater", "case", "output", "assignment", "judgment",
           "judgment_revision", "gold_label", "judge_run", "import_log", "item_lease")

# "now" as seconds since the epoch, by the database's clock.
POSTGRES_NOW = "extract(epoch from now())"
_TAKEN = (
    "SELECT a.rater_id, a.output_id, "
    "(SELECT count(*) FROM {s}item_lease l WHERE l.output_id = a.output_id "
    "AND l.rater_id <> a.rater_id AND l.expires_at > {now}) AS leased_by_others, "
    "(SELECT count(*) FROM {s}judgment j WHERE j.output_id = a.output_id "
    "AND j.rater_id <> a.rater_id AND j.status = 'done') AS done_by_others "
    "FROM {s}assignment a")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A quoted SQL string literal (names inside function bodies and view conditions)."""
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.create_table(
        "item_lease",
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["output_id"], ["output.id"],
                                name=op.f("fk_item_lease_output_id_output"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rater_id"], ["rater.id"],
                                name=op.f("fk_item_lease_rater_id_rater"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rater_id", "output_id", name=op.f("pk_item_lease")),
    )
    op.create_index(op.f("ix_item_lease_output_id"), "item_lease", ["output_id"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _postgresql_upgrade(conn)
    # SQLite: no view (storage.leases runs the same query inline). A SQLite project is copied
    # into rater packages, and merge refuses a package database holding any view or trigger.


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in WATCHED:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS mr_note_change ON {q(table)}")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {NOTE_FUNCTION}()")
        conn.exec_driver_sql(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
    conn.exec_driver_sql("DROP VIEW IF EXISTS output_taken")
    op.drop_index(op.f("ix_item_lease_output_id"), table_name="item_lease")
    op.drop_table("item_lease")


def _postgresql_upgrade(conn: sa.Connection) -> None:
    from medreview.storage.team import groups

    g = groups(conn)
    lead, rater, judge, s = q(g.lead), q(g.rater), q(g.judge), q(g.schema)
    me = f"(SELECT r.id FROM {s}.rater r WHERE r.db_role = current_user)"
    mine = f"rater_id IN {me}"
    assigned = f"output_id IN (SELECT a.output_id FROM {s}.assignment a WHERE a.rater_id IN {me})"

    def run(sql: str) -> None:
        conn.exec_driver_sql(sql)

    run(f"ALTER TABLE item_lease OWNER TO {lead}")
    run("ALTER TABLE item_lease ENABLE ROW LEVEL SECURITY")
    run(f"CREATE POLICY mr_lead ON item_lease TO {lead} USING (true) WITH CHECK (true)")
    run(f"CREATE POLICY mr_rater_select ON item_lease FOR SELECT TO {rater} USING ({mine})")
    run(f"CREATE POLICY mr_rater_insert ON item_lease FOR INSERT TO {rater} "
        f"WITH CHECK ({mine} AND {assigned})")
    run(f"CREATE POLICY mr_rater_update ON item_lease FOR UPDATE TO {rater} USING ({mine}) "
        f"WITH CHECK ({mine} AND {assigned})")
    run(f"CREATE POLICY mr_rater_delete ON item_lease FOR DELETE TO {rater} USING ({mine})")
    run(f"GRANT SELECT, INSERT, UPDATE (taken_at, expires_at), DELETE ON item_lease TO {rater}")

    # Owned by the lead group, the view reads every lease and judgment (RLS does not filter
    # the owner), so it keeps a rater to the rows of their own assignments; current_user
    # inside it is still the person asking.
    run("CREATE VIEW output_taken WITH (security_barrier) AS "
        + _TAKEN.format(s=f"{s}.", now=POSTGRES_NOW)
        + f" WHERE a.rater_id IN {me} OR pg_has_role(current_user, {lit(g.lead)}, 'USAGE')")
    run(f"ALTER VIEW output_taken OWNER TO {lead}")
    run(f"GRANT SELECT ON output_taken TO {rater}")

    run(f"CREATE SEQUENCE {SEQUENCE}")
    run(f"ALTER SEQUENCE {SEQUENCE} OWNER TO {lead}")
    # Every writer draws from it (through the trigger) and a listener reads where it stands.
    run(f"GRANT USAGE, SELECT ON SEQUENCE {SEQUENCE} TO {rater}, {judge}")
    # One number per transaction: the first watched statement draws it and keeps it in a
    # transaction-local setting; NOTIFY is queued and sent by the server only at COMMIT.
    run(f"""CREATE FUNCTION {NOTE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  IF coalesce(current_setting('medreview.change_revision', true), '') = '' THEN
    PERFORM set_config('medreview.change_revision',
                       nextval({lit(f'{s}.{SEQUENCE}')})::text, true);
    PERFORM pg_notify('{CHANNEL}', current_setting('medreview.change_revision'));
  END IF;
  RETURN NULL;
END
$f$""")
    run(f"ALTER FUNCTION {NOTE_FUNCTION}() OWNER TO {lead}")
    for table in WATCHED:
        run(f"CREATE TRIGGER mr_note_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {q(table)} FOR EACH STATEMENT EXECUTE FUNCTION {NOTE_FUNCTION}()")
