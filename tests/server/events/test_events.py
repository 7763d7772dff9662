"""Live events over WebSocket and SSE, filtered by role: a technician receives only their own. Browsers open the
stream with a single-use ticket (POST /events/ticket), never with the access token in the URL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

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


def _ticket(client, headers: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    response = client.post("/events/ticket", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["expires_in_s"] == 30
    return response.json()["ticket"]


def _refused(client, url: str, **kwargs) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Open a WebSocket that the server must refuse: the handshake completes (no HTTP 403) and the server closes
    at once; (close code, reason)."""
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect(url, **kwargs) as ws:  # an HTTP 403 would raise here, before the block
        try:
            ws.receive_json()
        except WebSocketDisconnect as exc:
            return exc.code, exc.reason
    raise AssertionError(f"{url} must not be served")


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
    with client.websocket_connect(f"/events/ws?ticket={_ticket(client, dispatcher)}") as staff_ws, \
            client.websocket_connect(f"/events/ws?ticket={_ticket(client, ben_h)}") as ben_ws, \
            client.websocket_connect(f"/events/ws?ticket={_ticket(client, ana_h)}") as ana_ws:
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


def test_websocket_refuses_bad_tickets_with_close_code_4401(client, auth):
    assert _refused(client, "/events/ws?ticket=garbage")[0] == 4401
    assert _refused(client, "/events/ws")[0] == 4401
    # The access token in the URL is refused even when it is valid: URLs end up in access logs.
    dispatcher = auth(Role.dispatcher)
    code, reason = _refused(client, f"/events/ws?token={_token(dispatcher)}")
    assert code == 4401 and "ticket" in reason


def test_ticket_is_single_use(client, auth):
    dispatcher = auth(Role.dispatcher)
    ticket = _ticket(client, dispatcher)
    with client.websocket_connect(f"/events/ws?ticket={ticket}") as ws:
        assert ws.receive_json()["type"] == "hello"
    code, reason = _refused(client, f"/events/ws?ticket={ticket}")
    assert code == 4401 and "used or expired" in reason
    assert client.get(f"/events/stream?limit=1&ticket={ticket}").status_code == 401


def test_ticket_expires(client, auth, app):
    from datetime import timedelta

    from sqlmodel import Session, select

    from server.auth.models import User
    from server.core.timeutil import utcnow
    from server.events import service

    auth(Role.dispatcher)
    with Session(app.state.engine) as session:
        user_id = session.exec(select(User.id).where(User.role == Role.dispatcher)).first()
        stale = service.issue(session=session, user_id=user_id,
                              now=utcnow() - timedelta(seconds=service.TICKET_TTL_S + 1))
        fresh = service.issue(session=session, user_id=user_id,
                              now=utcnow() - timedelta(seconds=service.TICKET_TTL_S - 5))
    assert _refused(client, f"/events/ws?ticket={stale}")[0] == 4401
    with client.websocket_connect(f"/events/ws?ticket={fresh}") as ws:
        assert ws.receive_json()["type"] == "hello"


def test_ticket_is_bound_to_its_user_and_is_no_token(client, auth, app):
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=TECH_BODY, headers=dispatcher).json()["id"]
    ana_h = auth(Role.technician, ana)
    ticket = _ticket(client, ana_h)
    # Whoever presents Ana's ticket is Ana: a technician's stream, filtered to her (even with staff's header beside it).
    with client.websocket_connect(f"/events/ws?ticket={ticket}", headers=dispatcher) as ws:
        hello = ws.receive_json()
    assert hello["data"] == {"role": "technician", "technician_id": ana}
    # A ticket is not a bearer token, and only the hash is stored.
    other = _ticket(client, ana_h)
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    from sqlalchemy import text

    with app.state.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT ticket_hash FROM event_ticket"))]
    assert stored and other not in stored and all(len(h) == 64 for h in stored)
    assert client.post("/events/ticket").status_code == 401


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["ticket", "header"])
def test_sse_stream(client, auth, app, how):
    """The console opens the stream with a ticket; the mobile app sends its Authorization header."""
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
    if how == "ticket":
        response = client.get(f"/events/stream?limit=1&ticket={_ticket(client, dispatcher)}")
    else:
        response = client.get("/events/stream?limit=1", headers=dispatcher)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "event: plan.created" in response.text and '"version": 7' in response.text
    assert client.get("/events/stream?limit=1").status_code == 401
    refused = client.get(f"/events/stream?limit=1&token={_token(dispatcher)}")
    assert refused.status_code == 401 and "ticket" in refused.json()["detail"]


def test_a_subscriber_that_lost_events_is_told_once_it_has_read_the_rest() -> None:
    """A client too slow to read loses events (its queue is full); once it has read what was kept it hears
    ``stream.gap`` (once per loss), and the console reads its state afresh instead of patching a partial story."""
    import asyncio
    from types import SimpleNamespace

    from server.events.broker import QUEUE_SIZE, Subscription
    from server.events.router import _gap

    async def run() -> None:
        sub = Subscription(user=SimpleNamespace(role=Role.dispatcher), loop=asyncio.get_running_loop())  # type: ignore[arg-type]
        for i in range(QUEUE_SIZE + 3):
            sub.offer(make_event("job.eta", {"job_id": i}))
        assert sub.dropped == 3
        assert _gap(sub) is None  # the events kept come first
        while not sub.queue.empty():
            sub.queue.get_nowait()
        gap = _gap(sub)
        assert gap is not None and gap["type"] == "stream.gap" and gap["data"] == {"dropped": 3}
        assert "_audience" not in gap
        assert _gap(sub) is None  # told once
        sub.offer(make_event("job.eta", {"job_id": 0}))
        assert _gap(sub) is None  # nothing more was lost

    # A thread of its own: another test of the session may have left an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
