"""grading guidelines per form, versioned; the version a judgment revision was made with

A ``guideline`` row holds the Markdown guidelines of a form key at one version (every save is
a new row, old versions are kept). ``judgment_revision.guideline_version`` records which version
the grading screen showed; it is NULL for every revision written before this schema and for
revisions not written from the grading screen. Plain CREATE TABLE and ADD COLUMN (nullable, no
default to backfill): the same on SQLite and PostgreSQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medreview.storage.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guideline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", medreview.storage.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guideline")),
        sa.UniqueConstraint("form_key", "version", name=op.f("uq_guideline_form_key_version")),
    )
    with op.batch_alter_table("guideline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guideline_form_key"), ["form_key"], unique=False)
    with op.batch_alter_table("judgment_revision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guideline_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("judgment_revision", schema=None) as batch_op:
        batch_op.drop_column("guideline_version")
    with op.batch_alter_table("guideline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guideline_form_key"))
    op.drop_table("guideline")
