"""technician absences: days a technician does not work (leave, training, a sick note)

A feature branch off 0001 like the others (``upgrade heads`` applies every branch).

Revision ID: 0021_technician_absence
Revises: 0001
Create Date: 2026-12-05 14:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0021_technician_absence'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('technician_absence',
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['technician_id'], ['technician.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('technician_absence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_technician_absence_technician_id'), ['technician_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('technician_absence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_technician_absence_technician_id'))
    op.drop_table('technician_absence')
