"""booking policy: how arrival windows are offered, set in the console (window length, windows at once, days ahead,
lead time: NULL = the server's setting; per-service switches; blackout days), one row

On the appointments branch, after 0014.

Revision ID: 0024_booking_policy
Revises: 0014_appointments
Create Date: 2026-12-05 19:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0024_booking_policy'
down_revision: str | None = '0014_appointments'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('booking_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_min', sa.Integer(), nullable=True),
    sa.Column('offer_count', sa.Integer(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('lead_min', sa.Integer(), nullable=True),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('blackouts', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('booking_policy')
