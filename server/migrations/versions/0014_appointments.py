"""appointments: arrival windows booked with the customer on their own channel (issue 30)

A feature branch off 0001 like the others (``upgrade heads`` applies every branch).

Revision ID: 0014_appointments
Revises: 0001
Create Date: 2026-12-05 13:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0014_appointments'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = server.core.timeutil.UTCDateTime(timezone=True)
    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('status', sa.Enum('offered', 'booked', 'reoffer', 'cancelled', 'done', name='appointmentstatus',
                                native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('offer_round', sa.Integer(), nullable=False),
    sa.Column('invalid_replies', sa.Integer(), nullable=False),
    sa.Column('window_start', utc, nullable=True),
    sa.Column('window_end', utc, nullable=True),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', utc, nullable=False),
    sa.Column('booked_at', utc, nullable=True),
    sa.Column('reminded_at', utc, nullable=True),
    sa.Column('updated_at', utc, nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.ForeignKeyConstraint(['technician_id'], ['technician.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id')
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_status'))
        batch_op.drop_index(batch_op.f('ix_appointment_customer_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_conversation_id'))
    op.drop_table('appointment')
