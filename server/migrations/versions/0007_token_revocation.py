"""auth: token revocation (user.token_version) and sign-in throttling per IP and per IP + account

A feature branch off 0001 like the others (``upgrade heads`` applies every branch). A column with a server default
(existing users start at version 0; tokens issued before this revision carry no version and are refused, so everyone
signs in once more) and a plain table: the same on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0001
Create Date: 2026-12-05 08:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))

    op.create_table('sign_in_throttle',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('window_start_s', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_window_start_s'), ['window_start_s'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_window_start_s'))
    op.drop_table('sign_in_throttle')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('token_version')
