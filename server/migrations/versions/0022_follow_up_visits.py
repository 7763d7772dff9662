"""follow-up and multi-day visits: a job's return visits, the technician it prefers, its release date, parts done;
a horizon visit's part of a multi-day job

On the horizon branch, after 0020: it adds columns to horizon_visit.

Revision ID: 0022_follow_up_visits
Revises: 0020_horizon
Create Date: 2026-12-05 17:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.core.timeutil

revision: str = '0022_follow_up_visits'
down_revision: str | None = '0020_horizon'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_of', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('follow_ups', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('preferred_technician_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('earliest_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('parts_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_job_follow_up_of'), ['follow_up_of'], unique=False)
        batch_op.create_foreign_key('fk_job_follow_up_of_job', 'job', ['follow_up_of'], ['id'])
        batch_op.create_foreign_key('fk_job_preferred_technician_id_technician', 'technician',
                                    ['preferred_technician_id'], ['id'])
    with op.batch_alter_table('horizon_visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('parts', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('horizon_visit', schema=None) as batch_op:
        batch_op.drop_column('parts')
        batch_op.drop_column('part')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_constraint('fk_job_preferred_technician_id_technician', type_='foreignkey')
        batch_op.drop_constraint('fk_job_follow_up_of_job', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_job_follow_up_of'))
        batch_op.drop_column('parts_done')
        batch_op.drop_column('earliest_at')
        batch_op.drop_column('preferred_technician_id')
        batch_op.drop_column('follow_ups')
        batch_op.drop_column('follow_up_of')
