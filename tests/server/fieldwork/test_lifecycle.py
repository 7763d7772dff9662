"""Technician lifecycle through the API: timestamps on every step, completion with notes, parts, photo and
signature, idempotent retries, live pings moving the ETA, customer notices — and the illegal moves refused."""

from __future__ import annotations

import base64

from sqlmodel import Session, select

from server.auth.models import Role
from server.conversations.models import Message
from server.jobs.models import JobReport
from tests.server.dispatch.conftest import SITES, job_body, technician_body, wait_for, wait_solve


def _report(client, agent, app, job_id: int, handle: str, channel: str = "sms") -> int:  # type: ignore[no-untyped-def]
    message = client.post("/conversations/inbound", headers=agent, json={
        "channel": channel, "external_id": f"in-{handle}-{job_id}", "author_handle": handle,
        "author_name": "Sam Reporter", "text": "The streetlight on my corner is out"}).json()
    with Session(app.state.engine) as session:
        session.add(JobReport(job_id=job_id, customer_id=message["customer_id"], message_id=message["id"],
                              channel=channel))
        session.commit()
    return message["conversation_id"]


def _planned_day(client, auth, settings, app):  # type: ignore[no-untyped-def]
    dispatcher, agent = auth(Role.dispatcher), auth(Role.agent)
    tech_ids = [client.post("/technicians", json=technician_body(n, i), headers=dispatcher).json()["id"]
                for i, n in enumerate(["Ana Ruiz", "Marcus Webb"])]
    jobs = [client.post("/jobs", json=job_body(settings, f"light {i}", 3 + i), headers=dispatcher).json()["id"]
            for i in range(4)]
    conversations = {jobs[0]: [_report(client, agent, app, jobs[0], "+14105550101"),
                               _report(client, agent, app, jobs[0], "reporter@example.org", "email")]}
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    wait_solve(client, dispatcher, solve["id"])
    job = client.get(f"/jobs/{jobs[0]}", headers=dispatcher).json()
    tech = job["assigned_technician_id"]
    technician = auth(Role.technician, tech)
    other = auth(Role.technician, next(t for t in tech_ids if t != tech))
    return dispatcher, agent, technician, other, jobs, conversations, tech


def _texts(client, agent, conversation_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["text"] for m in client.get(f"/conversations/{conversation_id}", headers=agent).json()["messages"]
            if m["direction"] == "outbound"]


def test_whole_lifecycle_with_customer_messages(client, auth, settings, app):
    dispatcher, agent, technician, _, jobs, conversations, _tech = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    key = {"status": "en_route", "idempotency_key": "outbox-1"}
    first = client.post(f"/jobs/{job_id}/status", json=key, headers=technician)
    assert first.status_code == 200 and first.json()["status"] == "en_route" and first.json()["eta_at"]
    replay = client.post(f"/jobs/{job_id}/status", json=key, headers=technician)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replay") == "true"
    for conv in conversations[job_id]:  # every reporter, on their own channel, exactly once
        texts = _texts(client, agent, conv)
        assert len(texts) == 1 and "is on the way, arriving about" in texts[0]
        assert texts[0].split()[0] in ("Ana", "Marcus")
    # a ping far away moves the ETA by more than the margin: one update message
    settings.dispatch_eta_margin_min = 1
    far = SITES[9]
    ping = client.post("/technicians/me/location", json={"lat": far[0], "lon": far[1]}, headers=technician)
    assert ping.status_code == 202 and ping.json()["eta_updates"] == 1
    assert client.post(f"/jobs/{job_id}/status", json={"status": "on_site"}, headers=technician).status_code == 200
    photo = base64.b64encode(b"\x89PNG\r\n\x1a\n fake photo bytes").decode()
    done = client.post(f"/jobs/{job_id}/status", headers=technician, json={
        "status": "completed", "notes": "Replaced the lamp", "parts_used": [{"part": "LED lamp 40W", "quantity": 1}],
        "photos": [{"filename": "after.png", "content_base64": photo}],
        "signature": {"filename": "sig.png", "content_base64": photo}, "signed_by": "Sam"})
    assert done.status_code == 200, done.text
    assert (settings.data_dir / "uploads" / "jobs" / str(job_id) / "photo0-after.png").exists()
    events = client.get(f"/jobs/{job_id}/events", headers=dispatcher).json()
    steps = [e["status"] for e in events]
    assert steps[-3:] == ["en_route", "on_site", "completed"] and "assigned" in steps
    assert all(e["at"] for e in events)
    for conv in conversations[job_id]:
        texts = _texts(client, agent, conv)
        assert any(t.startswith("Update:") for t in texts)
        assert "has been fixed" in texts[-1]
    delivered = wait_for(lambda: _all_sent(app), 10, "delivery")
    assert delivered


def _all_sent(app) -> bool:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        out = session.exec(select(Message).where(Message.direction == "outbound")).all()
        return bool(out) and all(m.delivery_status == "recorded" for m in out)


def test_illegal_moves_are_refused_with_the_reason(client, auth, settings, app):
    dispatcher, _, technician, other, jobs, _, _ = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    skipping = client.post(f"/jobs/{job_id}/status", json={"status": "completed"}, headers=technician)
    assert skipping.status_code == 409 and "cannot go from assigned to completed" in skipping.json()["detail"]
    not_mine = client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=other)
    assert not_mine.status_code == 404 and not_mine.json()["detail"] == f"job {job_id} not found"  # as if none
    no_reason = client.post(f"/jobs/{job_id}/status", json={"status": "unable"}, headers=technician)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    for step in ("en_route", "on_site", "completed"):
        assert client.post(f"/jobs/{job_id}/status", json={"status": step}, headers=technician).status_code == 200
    back = client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    assert back.status_code == 409 and "from completed to en_route" in back.json()["detail"]
    bogus = client.post(f"/jobs/{job_id}/status", json={"status": "teleported"}, headers=technician)
    assert bogus.status_code == 422 and "status" in bogus.json()["detail"]
    cancel = client.post(f"/jobs/{jobs[1]}/status", json={"status": "cancelled"}, headers=technician)
    assert cancel.status_code == 403
    bad_photo = client.post(f"/jobs/{jobs[2]}/status", headers=dispatcher, json={
        "status": "completed", "photos": [{"filename": "x.png", "content_base64": "!!!not base64!!!"}]})
    assert bad_photo.status_code in (409, 422)
    reused = client.post(f"/jobs/{jobs[1]}/status", json={"status": "en_route", "idempotency_key": "k-1"},
                         headers=dispatcher)
    assert reused.status_code == 200
    clash = client.post(f"/jobs/{jobs[2]}/status", json={"status": "en_route", "idempotency_key": "k-1"},
                        headers=dispatcher)
    assert clash.status_code == 409 and "idempotency_key" in clash.json()["detail"]
    assert client.post("/technicians/me/location", json={"lat": 95, "lon": 0}, headers=technician).status_code == 422
    assert client.post("/technicians/me/location", json={"lat": 39.3, "lon": -76.6},
                       headers=dispatcher).status_code == 403


def test_unable_with_reason_tells_the_customer_and_replans(client, auth, settings, app):
    _, agent, technician, _, jobs, conversations, _ = _planned_day(client, auth, settings, app)
    job_id = jobs[0]
    client.post(f"/jobs/{job_id}/status", json={"status": "en_route"}, headers=technician)
    unable = client.post(f"/jobs/{job_id}/status", json={"status": "unable", "reason": "pole is damaged, needs crane"},
                         headers=technician)
    assert unable.status_code == 200 and unable.json()["status"] == "unable"
    assert "needs crane" in _texts(client, agent, conversations[job_id][0])[-1]
