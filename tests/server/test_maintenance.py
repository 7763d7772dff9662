"""Data safety: a backup restores exactly what was there (SQLite and PostgreSQL); oversized requests
are refused before they are read."""

from __future__ import annotations

from sqlmodel import Session, select

from server.auth.models import Role
from server.jobs.models import Job
from server.maintenance.service import backup, restore
from tests.server.conftest import JOB_BODY


def test_backup_and_restore_round_trip(client, auth, app, settings, tmp_path):
    dispatcher = auth(Role.dispatcher)
    for i in range(3):
        assert client.post("/jobs", json={**JOB_BODY, "title": f"before {i}"}, headers=dispatcher).status_code == 201
    target = backup(settings=settings, target=tmp_path / "backup.bin")
    assert target.stat().st_size > 0
    client.post("/jobs", json={**JOB_BODY, "title": "after backup"}, headers=dispatcher)
    job_id = client.get("/jobs", headers=dispatcher).json()["items"][0]["id"]
    client.patch(f"/jobs/{job_id}", json={"title": "changed after backup"}, headers=dispatcher)
    app.state.engine.dispose()
    restore(settings=settings, source=target)
    app.state.engine.dispose()
    with Session(app.state.engine) as session:
        titles = sorted(job.title for job in session.exec(select(Job)).all())
    assert titles == ["before 0", "before 1", "before 2"]
    # the restored database still serves the API (users, tokens, migrations intact)
    assert client.get("/jobs", headers=dispatcher).json()["total"] == 3


def test_restore_refuses_a_file_that_is_not_a_backup(settings, tmp_path):
    import pytest

    from server.core.errors import Invalid

    bogus = tmp_path / "not-a-backup.bin"
    bogus.write_bytes(b"hello")
    with pytest.raises(Invalid):
        restore(settings=settings, source=bogus)
    with pytest.raises(Invalid, match="not found"):
        restore(settings=settings, source=tmp_path / "missing.bin")


def test_oversized_request_is_refused_with_413(client, auth, settings, app):
    dispatcher = auth(Role.dispatcher)
    huge = {**JOB_BODY, "description": "x" * (settings.max_request_bytes + 10)}
    response = client.post("/jobs", json=huge, headers=dispatcher)
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]

    def chunks():
        yield b'{"title": "streamed", "description": "'
        for _ in range(settings.max_request_bytes // 10_000 + 2):
            yield b"y" * 10_000
        yield b'"}'

    streamed = client.post("/jobs", content=chunks(), headers={**dispatcher, "Content-Type": "application/json"})
    assert streamed.status_code == 413
    with Session(app.state.engine) as session:
        assert session.exec(select(Job)).all() == []
