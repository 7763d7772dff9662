"""A technician reads only their own jobs and the conversations of those jobs' customers."""

from __future__ import annotations

from sqlmodel import Session

from server.auth.models import Role
from server.jobs.models import JobReport
from tests.server.conftest import JOB_BODY, TECH_BODY


def _setup(client, auth, app):
    dispatcher = auth(Role.dispatcher)
    agent = auth(Role.agent)
    t1 = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()["id"]
    t2 = client.post("/technicians", json={**TECH_BODY, "name": "Marcus Webb"}, headers=dispatcher).json()["id"]
    messages = []
    for handle, text in (("@alice", "streetlight out on Eastern Ave"), ("@bob", "pothole on Boston St")):
        msg = client.post("/conversations/inbound", headers=agent, json={
            "channel": "twitter", "external_id": f"tw-{handle}", "author_handle": handle, "text": text,
        }).json()
        messages.append(msg)
    jobs = []
    for tech_id, msg in ((t1, messages[0]), (t2, messages[1])):
        job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()
        jobs.append(job["id"])
        with Session(app.state.engine) as session:
            from server.jobs.models import Job

            row = session.get(Job, job["id"])
            row.assigned_technician_id = tech_id
            session.add(row)
            session.add(JobReport(job_id=job["id"], customer_id=msg["customer_id"], message_id=msg["id"],
                                  channel="twitter"))
            session.commit()
    return t1, t2, jobs, messages


def test_technician_sees_only_own_jobs(client, auth, app):
    t1, _t2, jobs, _messages = _setup(client, auth, app)
    tech = auth(Role.technician, technician_id=t1)
    listed = client.get("/jobs", headers=tech).json()
    assert [j["id"] for j in listed["items"]] == [jobs[0]]
    assert client.get(f"/jobs/{jobs[0]}", headers=tech).status_code == 200
    denied = client.get(f"/jobs/{jobs[1]}", headers=tech)
    assert denied.status_code == 404
    assert client.get(f"/jobs/{jobs[1]}/reports", headers=tech).status_code == 404
    # technicians cannot create or change jobs
    assert client.post("/jobs", json=JOB_BODY, headers=tech).status_code == 403
    assert client.patch(f"/jobs/{jobs[0]}", json={"priority": 9}, headers=tech).status_code == 403


def test_technician_reads_only_their_customers_conversations(client, auth, app):
    t1, _t2, _jobs, messages = _setup(client, auth, app)
    tech = auth(Role.technician, technician_id=t1)
    own, other = messages
    assert client.get(f"/customers/{own['customer_id']}", headers=tech).status_code == 200
    assert client.get(f"/customers/{other['customer_id']}", headers=tech).status_code == 403
    assert client.get(f"/conversations/{own['conversation_id']}", headers=tech).status_code == 200
    assert client.get(f"/conversations/{other['conversation_id']}", headers=tech).status_code == 403
    convs = client.get("/conversations", headers=tech).json()["items"]
    assert {c["id"] for c in convs} == {own["conversation_id"]}
    customers = client.get("/customers", headers=tech).json()["items"]
    assert {c["id"] for c in customers} == {own["customer_id"]}
    # technician reads only their own technician record
    assert client.get(f"/technicians/{t1}", headers=tech).status_code == 200
    assert client.get(f"/technicians/{_t2}", headers=tech).status_code == 404
    assert [t["id"] for t in client.get("/technicians", headers=tech).json()["items"]] == [t1]
    # staff-only lists are refused outright
    assert client.get("/cases", headers=tech).status_code == 403
    assert client.get("/plans", headers=tech).status_code == 403
    assert client.get("/audit", headers=tech).status_code == 403


def test_technician_without_record_sees_nothing(client, auth, app):
    _setup(client, auth, app)
    tech = auth(Role.technician)
    assert client.get("/jobs", headers=tech).json()["total"] == 0
    assert client.get("/customers", headers=tech).json()["total"] == 0
