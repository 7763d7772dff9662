"""a job a dispatcher unassigned by hand is held off the plan until assigned or released

On the job branch, after 0022.

Revision ID: 0025_dispatch_hold
Revises: 0022_follow_up_visits
Create Date: 2026-12-06 02:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025_dispatch_hold'
down_revision: str | None = '0022_follow_up_visits'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_hold', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('dispatch_hold')
