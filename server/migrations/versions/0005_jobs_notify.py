"""jobs notify: PostgreSQL tells every API process which jobs change (server/jobs/cache.py)

Row-level triggers on ``job`` and ``job_report`` send ``NOTIFY groundcrew_jobs`` with the job's id (a TRUNCATE,
with none: any job); PostgreSQL delivers them to the listeners once the writing transaction commits (the same job
named twice in one transaction arrives once). SQLite has no listeners: nothing to do there.

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

TABLES = {"job": "id", "job_report": "job_id"}  # table -> the column naming the job


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION groundcrew_jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            row_json jsonb;
        BEGIN
            IF TG_LEVEL = 'STATEMENT' THEN  -- TRUNCATE: every job
                PERFORM pg_notify('groundcrew_jobs', '');
                RETURN NULL;
            END IF;
            IF TG_OP = 'DELETE' THEN
                row_json := to_jsonb(OLD);
            ELSE
                row_json := to_jsonb(NEW);
            END IF;
            PERFORM pg_notify('groundcrew_jobs', COALESCE(row_json ->> TG_ARGV[0], ''));
            IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> TG_ARGV[0]) IS DISTINCT FROM (row_json ->> TG_ARGV[0]) THEN
                PERFORM pg_notify('groundcrew_jobs', COALESCE(to_jsonb(OLD) ->> TG_ARGV[0], ''));
            END IF;
            RETURN NULL;
        END $$
    """)
    for table, job_column in TABLES.items():
        op.execute(f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION groundcrew_jobs_changed('{job_column}')")
        op.execute(f"CREATE TRIGGER {table}_notify_truncate AFTER TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION groundcrew_jobs_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS groundcrew_jobs_changed()")
