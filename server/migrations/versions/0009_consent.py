"""consent: per-channel opt-outs (SMS STOP and the like)

A feature branch off 0001 like the others (``upgrade heads`` applies every branch).

Revision ID: 0009_consent
Revises: 0001
Create Date: 2026-12-05 10:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0009_consent'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('channel_opt_out',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('twitter', 'facebook', 'email', 'sms', 'webform', 'open311', 'phone',
                                 name='channel', native_enum=False, create_constraint=False, length=32),
              nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('keyword', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('opted_out_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'handle', name='uq_channel_opt_out_channel_handle')
    )
    with op.batch_alter_table('channel_opt_out', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_opt_out_handle'), ['handle'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_opt_out', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_opt_out_handle'))
    op.drop_table('channel_opt_out')
