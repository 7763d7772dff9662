"""A job a dispatcher unassigns by hand stays off the plan: the re-plan every override asks for used to put it straight
back (measured: back on the same technician within a second). It is held, with that reason, through re-plans and
automatic urgent insertion, until a dispatcher assigns it (or releases it to the planner with "unpin")."""

from __future__ import annotations

from server.auth.models import Role
from server.dispatch.control import insert_urgent
from server.dispatch.problem import HELD_REASON
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def _reason(plan: dict, job_id: int) -> str | None:
    return next((u["reason"] for u in plan["unassigned"] if u["job_id"] == job_id), None)


def test_an_unassigned_job_stays_off_the_plan_until_a_dispatcher_places_or_releases_it(  # type: ignore[no-untyped-def]
        client, auth, settings, app) -> None:
    settings.dispatch_auto_replan = True  # as deployed: every override asks for a re-plan
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    client.post("/technicians", json=technician_body("Tom Kowalski", 5), headers=dispatcher)
    for i in range(4):
        assert client.post("/jobs", json=job_body(settings, f"light {i}", 2 + i), headers=dispatcher).status_code == 201
    first = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, first)["status"] == "succeeded"
    job_id = client.get("/plans/current", headers=dispatcher).json()["stops"][0]["job_id"]

    unassigned = client.post("/dispatch/overrides/commit", headers=dispatcher,
                             json={"action": "unassign", "job_id": job_id}).json()
    assert wait_solve(client, dispatcher, unassigned["replan_solve_id"])["status"] == "succeeded"
    job = client.get(f"/jobs/{job_id}", headers=dispatcher).json()
    assert (job["status"], job["assigned_technician_id"], job["dispatch_hold"]) == ("unassigned", None, True)
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert job_id not in {s["job_id"] for s in plan["stops"]} and _reason(plan, job_id) == HELD_REASON

    # A manual re-plan and the urgent insertion leave it where the dispatcher put it: nowhere.
    again = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, again)["status"] == "succeeded"
    assert insert_urgent(engine=app.state.engine, settings=settings, job_id=job_id) is None
    assert client.get(f"/jobs/{job_id}", headers=dispatcher).json()["status"] == "unassigned"
    assert _reason(client.get("/plans/current", headers=dispatcher).json(), job_id) == HELD_REASON

    # The dispatcher places it: no longer held.
    placed = client.post("/dispatch/overrides/commit", headers=dispatcher,
                         json={"action": "assign", "job_id": job_id, "technician_id": ana})
    assert placed.status_code == 200, placed.text
    job = client.get(f"/jobs/{job_id}", headers=dispatcher).json()
    assert (job["status"], job["assigned_technician_id"], job["dispatch_hold"]) == ("assigned", ana, False)
    assert wait_solve(client, dispatcher, placed.json()["replan_solve_id"])["status"] == "succeeded"

    # Unassigned again, then released to the planner: the next re-plan may place it anywhere.
    held = client.post("/dispatch/overrides/commit", headers=dispatcher, json={"action": "unassign", "job_id": job_id})
    assert wait_solve(client, dispatcher, held.json()["replan_solve_id"])["status"] == "succeeded"
    released = client.post("/dispatch/overrides/commit", headers=dispatcher, json={"action": "unpin", "job_id": job_id})
    assert released.status_code == 200, released.text
    assert client.get(f"/jobs/{job_id}", headers=dispatcher).json()["dispatch_hold"] is False
    replan = released.json()["replan_solve_id"]
    assert replan and wait_solve(client, dispatcher, replan)["status"] == "succeeded"
    job = client.get(f"/jobs/{job_id}", headers=dispatcher).json()
    assert job["status"] == "assigned", job  # four jobs, two technicians with the whole day: room for it
