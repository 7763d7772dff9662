"""Storage: migrations match the models, times are aware UTC, the audit log is append-only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, create_engine, select

import server.models  # noqa: F401
from server.audit import service as audit
from server.audit.models import AuditEntry, AuditLogIsAppendOnly
from server.jobs.models import Job


def test_migrations_match_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_times_round_trip_as_aware_utc(database_url):
    engine = create_engine(database_url)
    local = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    with Session(engine) as session:
        job = Job(title="t", lat=39.28, lon=-76.58, sla_due_at=local)
        session.add(job)
        session.commit()
        job_id = job.id
    with Session(engine) as session:
        loaded = session.get(Job, job_id)
        assert loaded.sla_due_at.tzinfo is not None
        assert loaded.sla_due_at.utcoffset() == timedelta(0)
        assert loaded.sla_due_at == local
    engine.dispose()


def test_audit_log_is_append_only(database_url):
    engine = create_engine(database_url)
    with Session(engine) as session:
        audit.record(session=session, action="create", entity="job", entity_id=1)
        session.commit()
        entry = session.exec(select(AuditEntry)).one()
        entry.action = "tampered"
        session.add(entry)
        with pytest.raises(AuditLogIsAppendOnly):
            session.commit()
        session.rollback()
        with pytest.raises(AuditLogIsAppendOnly):
            session.delete(session.exec(select(AuditEntry)).one())
            session.commit()
    engine.dispose()
