"""The job board from memory while no job changed (server/jobs/cache.py), on the real PostgreSQL: answers come
from memory only while they are current — after a change through this process at once, after a change by anyone
else once PostgreSQL's notification has arrived, and never while the listening connection is down."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlmodel import Session

from server.auth.models import Role
from server.jobs.models import Job, JobStatus
from tests.conftest import PG_ADMIN_URL
from tests.server.conftest import JOB_BODY, TECH_BODY, statements_run

pytestmark = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                     indirect=True)


def _listening(app) -> None:  # type: ignore[no-untyped-def]
    """Wait until the process listens for job notifications (it connects in the background at start)."""
    feed = app.state.jobs_feed
    for _ in range(300):
        if feed.tag() is not None:
            return
        time.sleep(0.01)
    raise AssertionError("the jobs feed never connected")


def _elsewhere(settings, sql: str) -> None:  # type: ignore[no-untyped-def]
    """A write by another process: its own connection, committed."""
    with psycopg.connect(settings.resolved_database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _board(client, headers) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    response = client.get("/jobs", headers=headers)
    assert response.status_code == 200, response.text
    return [(j["title"], j["priority"]) for j in response.json()["items"]]


def test_a_board_read_again_while_no_job_changed_comes_from_memory(client, auth, app):
    dispatcher = auth(Role.dispatcher)
    job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
    _listening(app)
    first = client.get("/jobs", headers=dispatcher)
    one = client.get(f"/jobs/{job['id']}", headers=dispatcher)
    with statements_run(app.state.engine) as statements:
        again = client.get("/jobs", headers=dispatcher)
        one_again = client.get(f"/jobs/{job['id']}", headers=dispatcher)
    assert statements == []  # nothing asked of the database
    assert again.content == first.content and one_again.content == one.content


def test_a_change_through_this_process_is_seen_at_once(client, auth, app, settings):
    """Without waiting for its notification: here none comes (the triggers are off), so only the process's own
    note of its commit can make the next read fresh."""
    dispatcher = auth(Role.dispatcher)
    job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
    _elsewhere(settings, "ALTER TABLE job DISABLE TRIGGER job_notify")
    _listening(app)
    assert _board(client, dispatcher) == [("Streetlight out", 6)]
    assert client.patch(f"/jobs/{job['id']}", json={"priority": 9, "version": 1}, headers=dispatcher).is_success
    assert _board(client, dispatcher) == [("Streetlight out", 9)]  # the very next read
    assert client.get(f"/jobs/{job['id']}", headers=dispatcher).json()["priority"] == 9
    client.post("/jobs", json={**JOB_BODY, "title": "Pothole", "priority": 7}, headers=dispatcher)
    assert _board(client, dispatcher) == [("Streetlight out", 9), ("Pothole", 7)]


def test_a_change_by_another_process_is_seen_once_its_notification_arrives(client, auth, app, settings):
    dispatcher = auth(Role.dispatcher)
    job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
    _listening(app)
    assert _board(client, dispatcher) == [("Streetlight out", 6)]
    _elsewhere(settings, f"UPDATE job SET priority = 2 WHERE id = {job['id']}")
    for _ in range(200):  # delivered within milliseconds; a stale answer forever would fail here
        if _board(client, dispatcher) == [("Streetlight out", 2)]:
            break
        time.sleep(0.01)
    assert _board(client, dispatcher) == [("Streetlight out", 2)]
    assert client.get(f"/jobs/{job['id']}", headers=dispatcher).json()["priority"] == 2
    _elsewhere(settings, f"INSERT INTO job_report (job_id, channel, created_at) VALUES ({job['id']}, 'sms', now())")
    for _ in range(200):  # a new report moves the job's reporter count
        if client.get(f"/jobs/{job['id']}", headers=dispatcher).json()["reporter_count"] == 1:
            break
        time.sleep(0.01)
    assert client.get("/jobs", headers=dispatcher).json()["items"][0]["reporter_count"] == 1


def test_nothing_comes_from_memory_while_the_listening_connection_is_down(client, auth, app, settings):
    dispatcher = auth(Role.dispatcher)
    client.post("/jobs", json=JOB_BODY, headers=dispatcher)
    _listening(app)
    assert _board(client, dispatcher) == [("Streetlight out", 6)]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:  # the listener dies (a restart, a DBA's kill)
        pid = admin.execute("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN groundcrew_jobs' AND datname = "
                            "%s", (settings.resolved_database_url.rsplit("/", 1)[1],)).fetchone()[0]
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            time.sleep(0.01)
    # Its notification of this change is lost with it; the board must not be the one in memory.
    _elsewhere(settings, "UPDATE job SET priority = 3")
    assert _board(client, dispatcher) == [("Streetlight out", 3)]
    _listening(app)  # back by itself
    _elsewhere(settings, "UPDATE job SET priority = 4")
    for _ in range(200):
        if _board(client, dispatcher) == [("Streetlight out", 4)]:
            break
        time.sleep(0.01)
    assert _board(client, dispatcher) == [("Streetlight out", 4)]


def test_memory_answers_do_not_cross_roles(client, auth, app):
    """The board is kept per technician scope, one job's visibility is decided per request."""
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()
    bob = client.post("/technicians", json={**TECH_BODY, "name": "Bob Lee"}, headers=dispatcher).json()
    job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
    with Session(app.state.engine) as session:  # assigned to Ana (as a committed plan does)
        row = session.get(Job, job["id"])
        row.assigned_technician_id, row.status = ana["id"], JobStatus.assigned
        session.add(row)
        session.commit()
    _listening(app)
    as_ana, as_bob = auth(Role.technician, technician_id=ana["id"]), auth(Role.technician, technician_id=bob["id"])
    assert client.get(f"/jobs/{job['id']}", headers=dispatcher).status_code == 200  # now in memory
    assert client.get(f"/jobs/{job['id']}", headers=as_ana).status_code == 200
    assert client.get(f"/jobs/{job['id']}", headers=as_bob).status_code == 404
    assert len(client.get("/jobs", headers=dispatcher).json()["items"]) == 1
    assert client.get("/jobs", headers=as_bob).json()["items"] == []
    assert len(client.get("/jobs", headers=as_ana).json()["items"]) == 1


def test_it_can_be_turned_off(settings, auth, client):  # type: ignore[no-untyped-def]
    """GROUNDCREW_JOBS_CACHE=false (a PgBouncer in transaction mode between the API and PostgreSQL): every read
    goes to the database."""
    from fastapi.testclient import TestClient

    from server.app import create_app

    dispatcher = auth(Role.dispatcher)  # a user in this database (the fixtures' app)
    app = create_app(settings.model_copy(update={"jobs_cache": False}))
    with TestClient(app) as other:
        other.get("/jobs", headers=dispatcher)
        assert app.state.jobs_feed is None
        with statements_run(app.state.engine) as statements:
            assert other.get("/jobs", headers=dispatcher).status_code == 200
        assert statements
    app.state.engine.dispose()


def test_one_job_changing_leaves_the_others_in_memory(client, auth, app, settings):
    """Notifications name their job: the board and that job are read again, another job is not."""
    dispatcher = auth(Role.dispatcher)
    first = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
    second = client.post("/jobs", json={**JOB_BODY, "title": "Pothole"}, headers=dispatcher).json()
    _listening(app)
    for job in (first, second):
        client.get(f"/jobs/{job['id']}", headers=dispatcher)
    _board(client, dispatcher)
    _elsewhere(settings, f"UPDATE job SET priority = 2 WHERE id = {first['id']}")
    for _ in range(200):
        if client.get(f"/jobs/{first['id']}", headers=dispatcher).json()["priority"] == 2:
            break
        time.sleep(0.01)
    assert client.get(f"/jobs/{first['id']}", headers=dispatcher).json()["priority"] == 2
    with statements_run(app.state.engine) as statements:
        assert client.get(f"/jobs/{second['id']}", headers=dispatcher).json()["priority"] == 6
    assert statements == []  # still in memory
    with statements_run(app.state.engine) as statements:
        assert ("Streetlight out", 2) in _board(client, dispatcher)
    assert statements  # the board moved with it
    # A report moved from one job to the other changes both (the trigger names the old job too).
    _elsewhere(settings, f"INSERT INTO job_report (job_id, channel, created_at) VALUES ({first['id']}, 'sms', now())")
    _elsewhere(settings, f"UPDATE job_report SET job_id = {second['id']}")
    for job_id, count in ((second["id"], 1), (first["id"], 0)):
        for _ in range(200):
            if client.get(f"/jobs/{job_id}", headers=dispatcher).json()["reporter_count"] == count:
                break
            time.sleep(0.01)
        assert client.get(f"/jobs/{job_id}", headers=dispatcher).json()["reporter_count"] == count
