"""media stored in the database (PostgreSQL projects): content-addressed blobs in chunks

``media_blob`` names a blob by its sha256 (size, number of chunks); ``media_chunk`` holds its
bytes in order, 1 MiB each, so a large DICOM file is streamed in and out instead of held in
memory. A blob row is written in the same transaction as all of its chunks: a blob that is
there is whole. SQLite projects keep their media in the ``media/`` folder and leave both tables
empty. Plain CREATE TABLE: the same on SQLite and PostgreSQL (BLOB / BYTEA).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medreview.storage.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_at", medreview.storage.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_media_blob")),
    )
    op.create_table(
        "media_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media_blob.sha256"],
                                name=op.f("fk_media_chunk_sha256_media_blob"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_media_chunk")),
    )


def downgrade() -> None:
    op.drop_table("media_chunk")
    op.drop_table("media_blob")
