"""issued rater packages (uid, rater, outputs by token, seal key)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medreview.storage.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issued_package',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('rater_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', medreview.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['rater_id'], ['rater.id'],
                            name=op.f('fk_issued_package_rater_id_rater')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_package')),
    sa.UniqueConstraint('uid', name=op.f('uq_issued_package_uid'))
    )
    with op.batch_alter_table('issued_package', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_package_rater_id'), ['rater_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('issued_package', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_package_rater_id'))
    op.drop_table('issued_package')
