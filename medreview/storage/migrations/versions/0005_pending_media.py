"""media waiting for their cases (imported before the case exists)

A media folder may be imported before the cases it belongs to. Its files go into the media
store as usual and get a ``pending_media`` row under the case key (folder name or manifest
case id); the import that later adds that case attaches them. Plain CREATE TABLE: the same on
SQLite and PostgreSQL.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medreview.storage.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("study_uid", sa.String(length=128), nullable=True),
        sa.Column("series_uid", sa.String(length=128), nullable=True),
        sa.Column("sop_uid", sa.String(length=128), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("series_description", sa.String(length=500), nullable=False),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("sort_index", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("created_at", medreview.storage.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_media")),
        sa.UniqueConstraint("case_key", "sha256", name=op.f("uq_pending_media_case_key_sha256")),
    )
    with op.batch_alter_table("pending_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_media_case_key"), ["case_key"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_pending_media_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_media_sha256"))
        batch_op.drop_index(batch_op.f("ix_pending_media_case_key"))
    op.drop_table("pending_media")
