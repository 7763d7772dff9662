"""inbox: conversation status open/pending/snoozed/resolved with an assignee, snooze time, first-response SLA start and
resolved time; canned replies

A feature branch off 0001 like the others (``upgrade heads`` applies every branch). The old statuses map on:
waiting → pending, closed → resolved (nothing set them before this revision).

Revision ID: 0015_inbox
Revises: 0001
Create Date: 2026-12-05 13:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0015_inbox'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('snoozed_until', server.core.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('awaiting_since', server.core.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversation_assignee_user_id'), ['assignee_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_awaiting_since'), ['awaiting_since'], unique=False)
        batch_op.create_foreign_key('fk_conversation_assignee_user_id_user', 'user', ['assignee_user_id'], ['id'])
    op.execute("UPDATE conversation SET status = 'pending' WHERE status = 'waiting'")
    op.execute("UPDATE conversation SET status = 'resolved' WHERE status = 'closed'")
    op.create_table('canned_reply',
    sa.Column('short_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('short_code', name='uq_canned_reply_short_code')
    )


def downgrade() -> None:
    op.drop_table('canned_reply')
    op.execute("UPDATE conversation SET status = 'open' WHERE status = 'snoozed'")
    op.execute("UPDATE conversation SET status = 'waiting' WHERE status = 'pending'")
    op.execute("UPDATE conversation SET status = 'closed' WHERE status = 'resolved'")
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conversation_assignee_user_id_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_conversation_awaiting_since'))
        batch_op.drop_index(batch_op.f('ix_conversation_assignee_user_id'))
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('awaiting_since')
        batch_op.drop_column('snoozed_until')
        batch_op.drop_column('assignee_user_id')
