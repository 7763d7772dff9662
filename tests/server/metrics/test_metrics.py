"""Operations metrics: figures that add up, in JSON and in the Prometheus text format."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from server.auth.models import Role
from server.core.timeutil import utcnow
from server.jobs.models import Job, JobEvent, JobStatus
from tests.server.conftest import JOB_BODY, TECH_BODY


def test_metrics_add_up(client, auth, app):
    dispatcher = auth(Role.dispatcher)
    tech = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()["id"]
    now = utcnow()
    ids = [client.post("/jobs", json={**JOB_BODY, "sla_due_at": (now + timedelta(hours=h)).isoformat()},
                       headers=dispatcher).json()["id"] for h in (-1, 0.5, 5, 5)]
    with Session(app.state.engine) as session:
        done = session.get(Job, ids[3])
        done.status, done.assigned_technician_id = JobStatus.completed, tech
        session.add(done)
        session.add(JobEvent(job_id=ids[3], status="on_site", at=now + timedelta(minutes=30)))
        session.add(JobEvent(job_id=ids[3], status="completed", at=now + timedelta(minutes=75)))
        session.commit()
    body = client.get("/metrics/ops", headers=dispatcher).json()
    assert body["jobs"]["total"] == 4 and body["jobs"]["open"] == 3
    assert sum(body["jobs"]["by_status"].values()) == 4 and body["jobs"]["by_status"]["completed"] == 1
    assert body["sla"]["breached_open"] == 1 and body["sla"]["at_risk"] == 1 and body["sla"]["met"] == 1
    assert body["response_min"]["count"] == 1 and 29 <= body["response_min"]["mean"] <= 31
    assert body["resolution_min"]["count"] == 1 and 74 <= body["resolution_min"]["mean"] <= 76
    text = client.get("/metrics").text
    assert '# TYPE groundcrew_jobs gauge' in text
    assert 'groundcrew_jobs{status="completed"} 1' in text and "groundcrew_jobs_open 3" in text
    assert 'groundcrew_sla_jobs{state="breached_open"} 1' in text
    assert client.get("/metrics/ops", headers=auth(Role.technician)).status_code == 403


def test_metrics_are_recomputed_at_most_every_cache_period(client, auth, app):
    """Every console polls the figures: within ``metrics_cache_s`` a process answers from its last computation."""
    dispatcher = auth(Role.dispatcher)
    settings = app.state.settings
    settings.metrics_cache_s = 300
    first = client.get("/metrics/ops", headers=dispatcher).json()
    client.post("/jobs", json=JOB_BODY, headers=dispatcher)
    assert client.get("/metrics/ops", headers=dispatcher).json()["jobs"]["total"] == first["jobs"]["total"]
    settings.metrics_cache_s = 0
    app.state.ops_metrics = None
    assert client.get("/metrics/ops", headers=dispatcher).json()["jobs"]["total"] == first["jobs"]["total"] + 1
