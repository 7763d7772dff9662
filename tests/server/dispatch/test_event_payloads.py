"""Live events carry what changed, so a console patches the job it holds instead of reading the whole job list again
(issue 29, live updates as deltas): a technician's step carries the job's new version and pin, an assignment and an
unassignment by a new plan carry the job's new version, and a technician off sick names the jobs sent back to the
pool. Each is checked against the job as GET /jobs/{id} shows it afterwards."""

from __future__ import annotations

from typing import Any

from server.auth.models import Role
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def _next(ws, kind: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    while True:
        event = ws.receive_json()
        if event["type"] == kind:
            return event["data"]


def test_job_and_technician_events_carry_what_changed(client, auth, settings) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    jobs = [client.post("/jobs", json=job_body(settings, f"light {i}", 2 + i), headers=dispatcher).json()["id"]
            for i in range(3)]
    wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 0.5},
                                               headers=dispatcher).json()["id"])
    ana_h = auth(Role.technician, ana)
    ticket = client.post("/events/ticket", headers=dispatcher).json()["ticket"]
    with client.websocket_connect(f"/events/ws?ticket={ticket}") as ws:
        assert ws.receive_json()["type"] == "hello"
        # A new plan's unassignment and assignment (an override's plan): the job's version after it.
        assert client.post("/dispatch/overrides/commit", headers=dispatcher,
                           json={"action": "unassign", "job_id": jobs[0]}).status_code == 200
        gone = _next(ws, "job.unassigned")
        assert gone["job_id"] == jobs[0]
        assert gone["version"] == client.get(f"/jobs/{jobs[0]}", headers=dispatcher).json()["version"]
        assert client.post("/dispatch/overrides/commit", headers=dispatcher,
                           json={"action": "assign", "job_id": jobs[0], "technician_id": ana}).status_code == 200
        back = _next(ws, "job.assigned")
        after = client.get(f"/jobs/{jobs[0]}", headers=dispatcher).json()
        assert back["job_id"] == jobs[0] and back["technician_id"] == ana and back["version"] == after["version"]

        # A technician's step: status, version and pin as the job now is.
        first = min((s for s in client.get("/plans/current", headers=dispatcher).json()["stops"]
                     if s["technician_id"] == ana), key=lambda s: s["sequence"])["job_id"]
        assert client.post(f"/jobs/{first}/status", json={"status": "en_route"}, headers=ana_h).status_code == 200
        step = _next(ws, "job.status")
        now = client.get(f"/jobs/{first}", headers=dispatcher).json()
        assert (step["job_id"], step["status"], step["version"], step["pinned"]) == \
            (first, "en_route", now["version"], now["pinned"])

        # Off sick: the jobs that go back to the pool are named.
        waiting = {j for j in jobs if client.get(f"/jobs/{j}", headers=dispatcher).json()["status"] == "assigned"}
        assert waiting
        assert client.post(f"/technicians/{ana}/dispatch-status", json={"status": "off_sick"},
                           headers=dispatcher).status_code == 200
        sick = _next(ws, "technician.status")
        assert sick["status"] == "off_sick" and set(sick["unassigned_job_ids"]) == waiting
        # Back in the pool: no longer Ana's (the re-plan the sick call asks for may already have given them to
        # someone else, so "unassigned" is not something to wait for).
        assert all(client.get(f"/jobs/{j}", headers=dispatcher).json()["assigned_technician_id"] != ana
                   for j in waiting)
