"""A solve that planned the day as it was before a live change does not store its plan over that change: a job the
dispatcher moved while a re-plan ran would otherwise jump back (and its customer hear the old time) until the next
re-plan. The re-plan the change queued plans the day as it is now."""

from __future__ import annotations

from sqlmodel import Session, col, select

from server.auth.models import Role
from server.plans.models import Plan, PlanStop
from tests.server.dispatch.conftest import job_body, technician_body, wait_for, wait_solve


def test_a_solve_overtaken_by_an_override_is_not_stored_over_it(client, auth, settings, app) -> None:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    near = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    far = client.post("/technicians", json=technician_body("Tom Kowalski", 9), headers=dispatcher).json()["id"]
    jobs = [client.post("/jobs", json=job_body(settings, f"light {i}", site), headers=dispatcher).json()["id"]
            for i, site in enumerate((0, 1, 6))]
    first = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, first)["status"] == "succeeded"

    # A long solve starts from the day as it is; once it is searching, the dispatcher moves a job to the other
    # technician (a pin: every plan from then on keeps it there).
    slow = client.post("/dispatch/solves", json={"time_limit_s": 6.0}, headers=dispatcher).json()["id"]
    wait_for(lambda: any(p.get("cost") is not None for p in client.get(
        f"/dispatch/solves/{slow}", headers=dispatcher).json()["progress"]), 60, "the solve to search")
    current = client.get("/plans/current", headers=dispatcher).json()
    moved = next(s for s in current["stops"] if s["job_id"] in jobs)
    to = far if moved["technician_id"] == near else near
    committed = client.post("/dispatch/overrides/commit", headers=dispatcher, json={
        "action": "assign", "job_id": moved["job_id"], "technician_id": to})
    assert committed.status_code == 200, committed.text
    override_version = client.get("/plans/current", headers=dispatcher).json()["version"]
    replan = committed.json()["replan_solve_id"]
    assert replan and replan != slow

    stale = wait_solve(client, dispatcher, slow)
    assert stale["status"] == "cancelled" and stale["plan_id"] is None, stale
    assert stale["error"].startswith("superseded: the day changed while this solve ran") and replan in stale["error"]
    assert wait_solve(client, dispatcher, replan)["status"] == "succeeded"

    # Every version since the override keeps the job where the dispatcher put it, and the latest is the re-plan's.
    with Session(app.state.engine) as session:
        later = session.exec(select(Plan).where(col(Plan.version) > override_version)).all()
        assert later, "the re-plan stored a version"
        for plan in later:
            owner = session.exec(select(PlanStop.technician_id).where(
                PlanStop.plan_id == plan.id, PlanStop.job_id == moved["job_id"])).first()
            assert owner == to, (plan.version, plan.trigger, owner)
    assert client.get("/plans/current", headers=dispatcher).json()["stats"]["solve_job_id"] == replan


def test_a_solve_overtaken_by_a_technician_off_sick_does_not_give_them_their_jobs_back(  # type: ignore[no-untyped-def]
        client, auth, settings) -> None:
    """An off-sick call writes no plan version but sends the technician's jobs back to the pool: a solve that planned
    the day before it must not store a plan giving them back (seen once in a full run of test_event_payloads)."""
    dispatcher = auth(Role.dispatcher)
    ana = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    client.post("/technicians", json=technician_body("Tom Kowalski", 9), headers=dispatcher)
    for i, site in enumerate((0, 1, 6)):
        client.post("/jobs", json=job_body(settings, f"light {i}", site), headers=dispatcher)
    first = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, first)["status"] == "succeeded"
    slow = client.post("/dispatch/solves", json={"time_limit_s": 6.0}, headers=dispatcher).json()["id"]
    wait_for(lambda: any(p.get("cost") is not None for p in client.get(
        f"/dispatch/solves/{slow}", headers=dispatcher).json()["progress"]), 60, "the solve to search")
    assert client.post(f"/technicians/{ana}/dispatch-status", json={"status": "off_sick"},
                       headers=dispatcher).status_code == 200
    stale = wait_solve(client, dispatcher, slow)
    assert stale["status"] == "cancelled" and stale["error"].startswith("superseded"), stale
    latest = client.get("/dispatch/solves", headers=dispatcher).json()[0]
    assert wait_solve(client, dispatcher, latest["id"])["status"] in ("succeeded", "failed")
    assert all(s["technician_id"] != ana for s in client.get("/plans/current", headers=dispatcher).json()["stops"])
