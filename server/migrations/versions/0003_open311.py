"""open311: api keys (hashed) for POSTing GeoReport v2 service requests

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.core.timeutil

revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('open311_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', server.core.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_key_key_hash'), ['key_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_key_key_hash'))
    op.drop_table('open311_key')
