"""Live events over WebSocket and SSE, filtered by role: a technician receives only their own."""

from __future__ import annotations

import threading
import time

import pytest

from server.auth.models import Role
from server.events.broker import make_event, publish
from tests.server.conftest import JOB_BODY, TECH_BODY


def _next(ws) -> dict:  # type: ignore[no-untyped-def]
    while True:
        event = ws.receive_json()
        if event["type"] != "heartbeat":
            return event


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


def _job_for(client, dispatcher, tech_id: int) -> int:  # type: ignore[no-untyped-def]
    job = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()["id"]
    client.patch(f"/jobs/{job}", json={}, headers=dispatcher)
    from sqlmodel import Session

    from server.jobs.models import Job, JobStatus

    with Session(client.app.state.engine) as session:
        row = session.get(Job, job)
        row.status, row.assigned_technician_id = JobStatus.assigned, tech_id
        session.add(row)
        session.commit()
    return job


def test_websocket_filters_by_role(client, auth):
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()["id"]
    ben = client.post("/technicians", json={**TECH_BODY, "name": "Ben Ode"}, headers=dispatcher).json()["id"]
    ana_h, ben_h = auth(Role.technician, ana), auth(Role.technician, ben)
    job = _job_for(client, dispatcher, ana)
    with client.websocket_connect(f"/events/ws?token={_token(dispatcher)}") as staff_ws, \
            client.websocket_connect(f"/events/ws?token={_token(ben_h)}") as ben_ws, \
            client.websocket_connect(f"/events/ws?token={_token(ana_h)}") as ana_ws:
        for ws in (staff_ws, ben_ws, ana_ws):
            assert ws.receive_json()["type"] == "hello"
        assert client.post(f"/jobs/{job}/status", json={"status": "en_route"}, headers=ana_h).status_code == 200
        staff_event = _next(staff_ws)
        assert staff_event["type"] == "job.status" and staff_event["data"]["job_id"] == job
        assert set(staff_event) == {"type", "id", "at", "data"}
        assert _next(ana_ws)["data"]["status"] == "en_route"
        # Ben's next event is his own ping: Ana's job event never reached him
        assert client.post("/technicians/me/location", json={"lat": 39.29, "lon": -76.58},
                           headers=ben_h).status_code == 202
        first = _next(ben_ws)
        assert first["type"] == "technician.location" and first["data"]["technician_id"] == ben


def test_websocket_refuses_bad_tokens(client):
    from starlette.websockets import WebSocketDisconnect

    try:
        with client.websocket_connect("/events/ws?token=garbage") as ws:
            ws.receive_json()
        raise AssertionError("a bad token must not connect")
    except WebSocketDisconnect as exc:
        assert exc.code == 4401


@pytest.mark.timeout(60)
def test_sse_stream(client, auth, app):
    dispatcher = auth(Role.dispatcher)

    from server.events.broker import hub

    before = hub.subscribers

    def later() -> None:
        # Publish once the stream has subscribed (a fixed sleep raced with a slow first request: the event went out
        # before anyone listened and the stream waited for ever).
        deadline = time.monotonic() + 30
        while hub.subscribers <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        publish(app.state.settings, make_event("plan.created", {"version": 7}, staff_only=True))

    threading.Thread(target=later, daemon=True).start()
    response = client.get(f"/events/stream?limit=1&token={_token(dispatcher)}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "event: plan.created" in response.text and '"version": 7' in response.text
    assert client.get("/events/stream?limit=1").status_code == 401
