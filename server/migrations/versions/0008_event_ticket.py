"""events: single-use tickets for opening the event stream (the access token stays out of URLs)

A feature branch off 0001 like the others (``upgrade heads`` applies every branch). A plain table: the same on
SQLite and PostgreSQL.

Revision ID: 0008_event_ticket
Revises: 0001
Create Date: 2026-12-05 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0008_event_ticket'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_ticket',
    sa.Column('ticket_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('ticket_hash')
    )
    with op.batch_alter_table('event_ticket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_ticket_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_ticket_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event_ticket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_ticket_user_id'))
        batch_op.drop_index(batch_op.f('ix_event_ticket_expires_at'))
    op.drop_table('event_ticket')
