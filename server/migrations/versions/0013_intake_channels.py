"""intake channels: provider events acknowledged without a complaint (unknown kinds, receipts, echoes, opt-outs)

A feature branch off 0001 like the others (``upgrade heads`` applies every branch).

Revision ID: 0013_intake_channels
Revises: 0001
Create Date: 2026-12-05 10:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0013_intake_channels'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('intake_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('twitter', 'facebook', 'email', 'sms', 'webform', 'open311', 'phone',
                                 name='channel', native_enum=False, create_constraint=False, length=32),
              nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_event_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_event_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_event_received_at'))
        batch_op.drop_index(batch_op.f('ix_intake_event_channel'))
    op.drop_table('intake_event')
