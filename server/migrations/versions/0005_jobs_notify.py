"""jobs notify: PostgreSQL tells every API process when jobs change (server/jobs/cache.py)

Statement-level triggers on ``job`` and ``job_report`` send ``NOTIFY groundcrew_jobs``; PostgreSQL delivers it to
the listeners once the writing transaction commits (several in one transaction arrive as one). SQLite has no
listeners: nothing to do there.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 01:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("job", "job_report")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION groundcrew_jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('groundcrew_jobs', '');
            RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION groundcrew_jobs_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS groundcrew_jobs_changed()")
