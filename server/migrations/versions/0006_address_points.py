"""address points: known addresses (imported files, field confirmations) and technicians' last accurate fixes

A feature branch off 0001 like the others (``upgrade heads`` applies every branch). Plain tables and indexes:
the same on SQLite and PostgreSQL.

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-05 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0006'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('address_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('text_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('confirmations', sa.Integer(), nullable=False),
    sa.Column('suspended_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspended_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('text_key', 'lat', 'lon', name='uq_address_point_text_key_point')
    )
    with op.batch_alter_table('address_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_point_text_key'), ['text_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_address_point_source'), ['source'], unique=False)

    op.create_table('technician_fix',
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=False),
    sa.Column('at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['technician_id'], ['technician.id'], ),
    sa.PrimaryKeyConstraint('technician_id')
    )


def downgrade() -> None:
    op.drop_table('technician_fix')
    with op.batch_alter_table('address_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_point_source'))
        batch_op.drop_index(batch_op.f('ix_address_point_text_key'))
    op.drop_table('address_point')
