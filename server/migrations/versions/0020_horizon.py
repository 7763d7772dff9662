"""planning horizon: tentative plans for the working days after today

A feature branch off 0001 like the others (``upgrade heads`` applies every branch).

Revision ID: 0020_horizon
Revises: 0001
Create Date: 2026-12-05 13:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0020_horizon'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('horizon_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('technicians', sa.Integer(), nullable=False),
    sa.Column('jobs', sa.Integer(), nullable=False),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('travel_min', sa.Integer(), nullable=False),
    sa.Column('unassigned', sa.JSON(), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('horizon_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_horizon_run_created_at'), ['created_at'], unique=False)
    op.create_table('horizon_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('start_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['horizon_run.id'], ),
    sa.ForeignKeyConstraint(['technician_id'], ['technician.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('horizon_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_horizon_visit_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_horizon_visit_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_horizon_visit_technician_id'), ['technician_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('horizon_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_horizon_visit_technician_id'))
        batch_op.drop_index(batch_op.f('ix_horizon_visit_run_id'))
        batch_op.drop_index(batch_op.f('ix_horizon_visit_job_id'))
    op.drop_table('horizon_visit')
    with op.batch_alter_table('horizon_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_horizon_run_created_at'))
    op.drop_table('horizon_run')
