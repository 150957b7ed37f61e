"""study items: why an assignment is more than an ordinary one (issue #18)

Both dialects: ``study_item`` (rater, output, kind, due_at, reason, created_by, created_at),
unique per (rater, output, kind). Kinds:

- ``qualification``: a gold item of the rater's qualification round; their real queue opens
  once the round is passed (storage/qualification.py);
- ``check`` / ``attention``: a hidden gold item or an attention item mixed into the queue; it
  looks like any other item to the rater and is never written into a package;
- ``retest``: the item is served to the same rater again, blank, from ``due_at`` on; the
  answer is written as a revision with source ``retest`` (storage/retests.py);
- ``escalation``: an additional (senior) rater was given the item by an escalation rule;
  ``reason`` says which.

PostgreSQL: the lead group owns the table; a rater reads only their own rows of the kinds that
are not hidden (qualification, retest, escalation), never check/attention rows, and writes
nothing; the judge group has no grant. Gold labels stay hidden from raters except the gold of
their own qualification items once they have finished that item (feedback after each item).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

VISIBLE_TO_RATER = ("qualification", "retest", "escalation")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_table(
        "study_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("output_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["output_id"], ["output.id"],
                                name=op.f("fk_study_item_output_id_output")),
        sa.ForeignKeyConstraint(["rater_id"], ["rater.id"],
                                name=op.f("fk_study_item_rater_id_rater")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_item")),
        sa.UniqueConstraint("rater_id", "output_id", "kind",
                            name=op.f("uq_study_item_rater_id_output_id_kind")),
    )
    op.create_index(op.f("ix_study_item_rater_id"), "study_item", ["rater_id"], unique=False)
    op.create_index(op.f("ix_study_item_output_id"), "study_item", ["output_id"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        _postgresql_upgrade(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        from medreview.storage.team import groups

        g = groups(conn)
        s, rater = q(g.schema), q(g.rater)
        conn.exec_driver_sql("DROP POLICY IF EXISTS mr_rater_insert ON judgment_revision")
        conn.exec_driver_sql(  # schema 0008's: ordinary saves and undo only
            f"CREATE POLICY mr_rater_insert ON judgment_revision FOR INSERT TO {rater} WITH "
            f"CHECK (judgment_id IN (SELECT j.id FROM {s}.judgment j WHERE j.rater_id IN "
            f"(SELECT r.id FROM {s}.rater r WHERE r.db_role = current_user)) AND source IN "
            "('ui', 'undo') AND author = (SELECT r.name FROM "
            f"{s}.rater r WHERE r.db_role = current_user))")
        conn.exec_driver_sql(f"REVOKE SELECT ON gold_label FROM {rater}")
        conn.exec_driver_sql("DROP POLICY IF EXISTS mr_rater_qualification_gold ON gold_label")
        conn.exec_driver_sql("DROP POLICY IF EXISTS mr_lead ON gold_label")
        conn.exec_driver_sql("ALTER TABLE gold_label DISABLE ROW LEVEL SECURITY")
    op.drop_index(op.f("ix_study_item_output_id"), table_name="study_item")
    op.drop_index(op.f("ix_study_item_rater_id"), table_name="study_item")
    op.drop_table("study_item")


def _postgresql_upgrade(conn: sa.Connection) -> None:
    from medreview.storage.team import groups

    g = groups(conn)
    lead, rater, s = q(g.lead), q(g.rater), q(g.schema)
    me = f"(SELECT r.id FROM {s}.rater r WHERE r.db_role = current_user)"
    kinds = ", ".join(f"'{k}'" for k in VISIBLE_TO_RATER)

    def run(sql: str) -> None:
        conn.exec_driver_sql(sql)

    run(f"ALTER TABLE study_item OWNER TO {lead}")
    run(f"ALTER SEQUENCE IF EXISTS study_item_id_seq OWNER TO {lead}")
    run("ALTER TABLE study_item ENABLE ROW LEVEL SECURITY")
    run(f"CREATE POLICY mr_lead ON study_item TO {lead} USING (true) WITH CHECK (true)")
    run(f"CREATE POLICY mr_rater_select ON study_item FOR SELECT TO {rater} "
        f"USING (rater_id IN {me} AND kind IN ({kinds}))")
    run(f"GRANT SELECT ON study_item TO {rater}")
    # Feedback after a qualification item: its gold, once the rater has finished that item.
    run("ALTER TABLE gold_label ENABLE ROW LEVEL SECURITY")
    run(f"CREATE POLICY mr_lead ON gold_label TO {lead} USING (true) WITH CHECK (true)")
    run(f"CREATE POLICY mr_rater_qualification_gold ON gold_label FOR SELECT TO {rater} USING ("
        f"output_id IN (SELECT i.output_id FROM {s}.study_item i WHERE i.rater_id IN {me} "
        "AND i.kind = 'qualification') AND "
        f"output_id IN (SELECT j.output_id FROM {s}.judgment j WHERE j.rater_id IN {me} "
        "AND j.status = 'done'))")
    run(f"GRANT SELECT ON gold_label TO {rater}")
    # A rater may write a retest revision (source 'retest') of an item chosen for their
    # retest; ordinary saves and undo as before (schema 0008's policy, widened).
    run("DROP POLICY mr_rater_insert ON judgment_revision")
    run(f"CREATE POLICY mr_rater_insert ON judgment_revision FOR INSERT TO {rater} WITH CHECK ("
        f"judgment_id IN (SELECT j.id FROM {s}.judgment j WHERE j.rater_id IN {me}) AND "
        f"author = (SELECT r.name FROM {s}.rater r WHERE r.db_role = current_user) AND ("
        "source IN ('ui', 'undo') OR (source = 'retest' AND judgment_id IN ("
        f"SELECT j.id FROM {s}.judgment j JOIN {s}.study_item i ON i.rater_id = j.rater_id "
        f"AND i.output_id = j.output_id WHERE j.rater_id IN {me} AND i.kind = 'retest'))))")
    # Live screens hear about study items like the other watched tables (migration 0009).
    run("CREATE TRIGGER mr_note_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON study_item FOR EACH STATEMENT EXECUTE FUNCTION medreview_note_change()")
