"""A whole day on the demo city, end to end through the API: complaints arrive through the channels and
become jobs, the morning plan assigns them, technicians work through their statuses, an urgent complaint
is inserted while the day runs, every reporter gets the arrival window and the closing message in their
own thread, and the metrics add up."""

from __future__ import annotations

import pytest

from server.auth.models import Role
from tests.server.dispatch.conftest import SITES, wait_for, wait_solve

SKILLS = {s: 3 for s in ("electrical", "roads", "water", "sanitation", "forestry", "parking", "housing",
                         "animal_control", "general")}
COMPLAINTS = [
    "The streetlight in front of my house is out, the whole block is dark at night",
    "Huge pothole in the road, cars are swerving around it",
    "Water main break, water is flooding the street",
    "Trash has not been collected for two weeks and the bins are overflowing",
    "Streetlight flickering and then going out every evening",
    "Deep pothole damaged my tire on this street",
]


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # the watcher runs (as in production); every job arriving after the morning plan is inserted at once
    return settings.model_copy(update={"dispatch_background": True, "dispatch_urgent_priority": 1,
                                       "dispatch_watch_interval_s": 0.1})


def _complain(client, k: int, text: str, site: int) -> dict:  # type: ignore[no-untyped-def]
    lat, lon = SITES[site]
    r = client.post("/channels/webform", json={
        "submission_id": f"day-{k}", "name": f"Resident {k}", "email": f"resident{k}@example.org",
        "text": text, "lat": lat, "lon": lon})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _outbound(client, agent, conversation_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["text"] for m in client.get(f"/conversations/{conversation_id}", headers=agent).json()["messages"]
            if m["direction"] == "outbound" and m["author_kind"] == "system"]


def test_a_whole_day(client, auth, settings):
    dispatcher, agent = auth(Role.dispatcher), auth(Role.agent)
    techs = {}
    for i, name in enumerate(["Ana Ruiz", "Marcus Webb", "Priya Shah"]):
        body = {"name": name, "skills": SKILLS, "home_lat": SITES[i][0], "home_lon": SITES[i][1],
                "shift_start": "00:05", "shift_end": "23:55", "overtime_allowed_min": 0}
        tid = client.post("/technicians", json=body, headers=dispatcher).json()["id"]
        techs[tid] = auth(Role.technician, tid)

    # 1. complaints arrive through the web form channel and become jobs
    received = [_complain(client, k, text, 3 + k) for k, text in enumerate(COMPLAINTS)]
    jobs = {r["job_id"]: r["conversation_id"] for r in received if r["job_id"]}
    assert len(jobs) >= 4, [(r["category"], r["case_status"]) for r in received]

    # 2. the morning plan
    solve = client.post("/dispatch/solves", json={"trigger": "morning", "time_limit_s": 1}, headers=dispatcher)
    assert solve.status_code == 202
    assert wait_solve(client, dispatcher, solve.json()["id"])["status"] == "succeeded"
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert plan["trigger"] == "morning" and {s["job_id"] for s in plan["stops"]} >= set(jobs)

    # 3. an urgent complaint arrives mid-day: inserted at once, its reporter told who and when
    urgent = _complain(client, 99, "The streetlight at my corner is out, the whole block is dark at night", 11)
    assert urgent["job_id"]
    wait_for(lambda: client.get(f"/jobs/{urgent['job_id']}", headers=dispatcher).json()["status"] == "assigned",
             30, "the urgent insertion")
    told = wait_for(lambda: _outbound(client, agent, urgent["conversation_id"]), 30, "the urgent job's notice")
    assert "arriving about" in told[0]
    jobs[urgent["job_id"]] = urgent["conversation_id"]

    # 4. technicians work through their day via the API
    for job_id in jobs:
        job = client.get(f"/jobs/{job_id}", headers=dispatcher).json()
        tech = techs[job["assigned_technician_id"]]
        for step in ("en_route", "on_site"):
            r = client.post(f"/jobs/{job_id}/status", json={"status": step}, headers=tech)
            assert r.status_code == 200, r.text
        done = client.post(f"/jobs/{job_id}/status", headers=tech,
                           json={"status": "completed", "notes": "fixed", "parts_used": [{"part": "misc"}]})
        assert done.status_code == 200, done.text

    # 5. every reporter has the arrival window and the closing message in their own thread
    for job_id, conversation_id in jobs.items():
        texts = _outbound(client, agent, conversation_id)
        assert any("is on the way, arriving about" in t for t in texts), (job_id, texts)
        assert "has been fixed" in texts[-1], (job_id, texts)
        reports = client.get(f"/jobs/{job_id}/reports", headers=dispatcher).json()
        assert reports and all(r["customer_id"] for r in reports)

    # 6. the metrics add up
    metrics = client.get("/metrics/ops", headers=dispatcher).json()
    n = len(jobs)
    assert metrics["jobs"]["by_status"]["completed"] == n
    assert metrics["jobs"]["open"] == metrics["jobs"]["total"] - n - metrics["jobs"]["by_status"]["cancelled"] \
        - metrics["jobs"]["by_status"]["unable"]
    assert metrics["response_min"]["count"] == n and metrics["resolution_min"]["count"] == n
    assert metrics["resolution_min"]["mean"] >= metrics["response_min"]["mean"] >= 0
    assert f'groundcrew_jobs{{status="completed"}} {n}' in client.get("/metrics").text
