"""technicians' weekly shift pattern: per ISO weekday a shift (start, end) or off; a weekday left out works
shift_start..shift_end, so existing rows ('{}') keep their everyday shift

On the technicians branch, after 0021 (as 0022 follows 0020 on the horizon branch): it adds a column to technician.

Revision ID: 0023_weekly_shifts
Revises: 0021_technician_absence
Create Date: 2026-12-05 17:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023_weekly_shifts'
down_revision: str | None = '0021_technician_absence'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('technician', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weekly_shifts', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('technician', schema=None) as batch_op:
        batch_op.drop_column('weekly_shifts')
