"""judge request ledger and response cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medreview.storage.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('judge_cache',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', medreview.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_judge_cache'))
    )
    op.create_table('judge_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('output_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', medreview.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['output_id'], ['output.id'], name=op.f('fk_judge_item_output_id_output')),
    sa.ForeignKeyConstraint(['run_id'], ['judge_run.id'], name=op.f('fk_judge_item_run_id_judge_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judge_item')),
    sa.UniqueConstraint('run_id', 'output_id', 'item_key', name=op.f('uq_judge_item_run_id_output_id_item_key'))
    )
    with op.batch_alter_table('judge_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_item_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('judge_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_item_run_id'))
    op.drop_table('judge_item')
    op.drop_table('judge_cache')
