"""A solve that planned the day as it was before a live change does not store its plan over that change: a job the
dispatcher moved while a re-plan ran would otherwise jump back (and its customer hear the old time) until the next
re-plan. It carries its best plan onto the day as it is now (a short warm-started solve on a fresh snapshot) and
stores that, so its search is not lost; only when the day keeps changing under every carry-over is it left out, and
the re-plan the change queued plans the day as it is now."""

from __future__ import annotations

from sqlmodel import Session, col, select

from server.auth.models import Role
from server.dispatch import service
from server.plans.models import Plan, PlanStop
from tests.server.dispatch.conftest import job_body, technician_body, wait_for, wait_solve

# The long solve's time limit (s). The live change must land while it still runs: on a loaded machine (the suite runs
# in two processes) the test's own requests were once more than 5 s behind a 6 s solve, which then ended first.
SLOW_SOLVE_S = 12.0


def _still_running(client, dispatcher, solve_id: str) -> None:  # type: ignore[no-untyped-def]
    status = client.get(f"/dispatch/solves/{solve_id}", headers=dispatcher).json()["status"]
    assert status == "running", f"the solve ended ({status}) before the live change this test is about"


def _overridden_while_solving(client, dispatcher, settings) -> tuple[str, str, int, int, int]:  # type: ignore[no-untyped-def]
    """A day of two technicians and three jobs; a long solve that the dispatcher overtakes by moving a job once it
    is searching. Returns (the long solve, the re-plan the override queued, the moved job, where it went, the
    override's plan version)."""
    near = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    far = client.post("/technicians", json=technician_body("Tom Kowalski", 9), headers=dispatcher).json()["id"]
    jobs = [client.post("/jobs", json=job_body(settings, f"light {i}", site), headers=dispatcher).json()["id"]
            for i, site in enumerate((0, 1, 6))]
    first = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, first)["status"] == "succeeded"

    # A long solve starts from the day as it is; once it is searching, the dispatcher moves a job to the other
    # technician (a pin: every plan from then on keeps it there).
    slow = client.post("/dispatch/solves", json={"time_limit_s": SLOW_SOLVE_S}, headers=dispatcher).json()["id"]
    wait_for(lambda: any(p.get("cost") is not None for p in client.get(
        f"/dispatch/solves/{slow}", headers=dispatcher).json()["progress"]), 60, "the solve to search")
    current = client.get("/plans/current", headers=dispatcher).json()
    moved = next(s for s in current["stops"] if s["job_id"] in jobs)
    to = far if moved["technician_id"] == near else near
    committed = client.post("/dispatch/overrides/commit", headers=dispatcher, json={
        "action": "assign", "job_id": moved["job_id"], "technician_id": to})
    assert committed.status_code == 200, committed.text
    _still_running(client, dispatcher, slow)
    override_version = client.get("/plans/current", headers=dispatcher).json()["version"]
    replan = committed.json()["replan_solve_id"]
    assert replan and replan != slow
    return slow, replan, moved["job_id"], to, override_version


def _owners_since(app, version: int, job_id: int) -> list[tuple[int, str, int | None]]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        later = session.exec(select(Plan).where(col(Plan.version) > version).order_by(col(Plan.version))).all()
        return [(plan.version, plan.trigger, session.exec(select(PlanStop.technician_id).where(
            PlanStop.plan_id == plan.id, PlanStop.job_id == job_id)).first()) for plan in later]


def test_a_solve_overtaken_by_an_override_stores_its_plan_carried_onto_the_day_as_it_is(  # type: ignore[no-untyped-def]
        client, auth, settings, app) -> None:
    dispatcher = auth(Role.dispatcher)
    slow, replan, job_id, to, override_version = _overridden_while_solving(client, dispatcher, settings)
    carried = wait_solve(client, dispatcher, slow)
    assert carried["status"] == "succeeded" and carried["plan_id"] is not None, carried
    assert any("carrying its best plan onto the day as it is now" in p.get("event", "")
               for p in carried["progress"]), carried["progress"]
    assert wait_solve(client, dispatcher, replan)["status"] == "succeeded"
    # The carried plan and every version after the override keep the job where the dispatcher put it.
    owners = _owners_since(app, override_version, job_id)
    assert len(owners) >= 2, owners  # the carried-over plan and the re-plan's
    assert all(owner == to for _, _, owner in owners), owners
    with Session(app.state.engine) as session:
        stored = session.get(Plan, carried["plan_id"])
        assert stored is not None and stored.version > override_version
    assert client.get("/plans/current", headers=dispatcher).json()["stats"]["solve_job_id"] == replan


def test_a_solve_overtaken_on_every_carry_over_is_not_stored_over_the_change(  # type: ignore[no-untyped-def]
        client, auth, settings, app, monkeypatch) -> None:
    monkeypatch.setattr(service, "CARRY_OVER_TRIES", 0)  # the day changed again under each carry-over
    dispatcher = auth(Role.dispatcher)
    slow, replan, job_id, to, override_version = _overridden_while_solving(client, dispatcher, settings)
    stale = wait_solve(client, dispatcher, slow)
    assert stale["status"] == "cancelled" and stale["plan_id"] is None, stale
    assert stale["error"].startswith("superseded: the day changed while this solve ran") and replan in stale["error"]
    assert wait_solve(client, dispatcher, replan)["status"] == "succeeded"

    # Every version since the override keeps the job where the dispatcher put it, and the latest is the re-plan's.
    owners = _owners_since(app, override_version, job_id)
    assert owners, "the re-plan stored a version"
    assert all(owner == to for _, _, owner in owners), owners
    assert client.get("/plans/current", headers=dispatcher).json()["stats"]["solve_job_id"] == replan


def _searching(progress: list[dict]) -> bool:
    """The solve has read the day and is searching: it reported a best plan, or (a regional solve) cut its regions."""
    return any(p.get("cost") is not None or p.get("regions_planned") == 0 for p in progress)


def _sick_while_solving(client, dispatcher, settings) -> tuple[str, int, int, set[int]]:  # type: ignore[no-untyped-def]
    """Ana and Tom with three jobs; a long solve, and Ana off sick once it is searching. Returns (the long solve,
    Ana, Tom, the jobs)."""
    ana = client.post("/technicians", json=technician_body("Ana Ruiz", 0), headers=dispatcher).json()["id"]
    tom = client.post("/technicians", json=technician_body("Tom Kowalski", 9), headers=dispatcher).json()["id"]
    jobs = {client.post("/jobs", json=job_body(settings, f"light {i}", site), headers=dispatcher).json()["id"]
            for i, site in enumerate((0, 1, 6))}
    first = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()["id"]
    assert wait_solve(client, dispatcher, first)["status"] == "succeeded"
    slow = client.post("/dispatch/solves", json={"time_limit_s": SLOW_SOLVE_S}, headers=dispatcher).json()["id"]
    wait_for(lambda: _searching(client.get(f"/dispatch/solves/{slow}", headers=dispatcher).json()["progress"]), 60,
             "the solve to search")
    assert client.post(f"/technicians/{ana}/dispatch-status", json={"status": "off_sick"},
                       headers=dispatcher).status_code == 200
    _still_running(client, dispatcher, slow)
    return slow, ana, tom, jobs


def test_a_solve_overtaken_by_a_technician_off_sick_does_not_give_them_their_jobs_back(  # type: ignore[no-untyped-def]
        client, auth, settings, monkeypatch) -> None:
    """An off-sick call writes no plan version but sends the technician's jobs back to the pool: a solve that planned
    the day before it must not store a plan giving them back (seen once in a full run of test_event_payloads)."""
    monkeypatch.setattr(service, "CARRY_OVER_TRIES", 0)
    dispatcher = auth(Role.dispatcher)
    slow, ana, _, _ = _sick_while_solving(client, dispatcher, settings)
    stale = wait_solve(client, dispatcher, slow)
    assert stale["status"] == "cancelled" and stale["error"].startswith("superseded"), stale
    latest = client.get("/dispatch/solves", headers=dispatcher).json()[0]
    assert wait_solve(client, dispatcher, latest["id"])["status"] in ("succeeded", "failed")
    assert all(s["technician_id"] != ana for s in client.get("/plans/current", headers=dispatcher).json()["stops"])


def test_a_solve_overtaken_by_a_technician_off_sick_carries_their_jobs_to_the_others(  # type: ignore[no-untyped-def]
        client, auth, settings) -> None:
    dispatcher = auth(Role.dispatcher)
    slow, _, tom, jobs = _sick_while_solving(client, dispatcher, settings)
    carried = wait_solve(client, dispatcher, slow)
    assert carried["status"] == "succeeded" and carried["plan_id"] is not None, carried
    plan = client.get(f"/plans/{carried['plan_id']}", headers=dispatcher)
    assert plan.status_code == 200, plan.text
    stops = plan.json()["stops"]
    assert all(s["technician_id"] == tom for s in stops), stops  # Ana's jobs went to Tom, none back to her
    assert {s["job_id"] for s in stops} == jobs, stops


def test_a_regional_solve_overtaken_by_a_technician_off_sick_carries_their_jobs_to_the_others(  # type: ignore[no-untyped-def]
        client, auth, settings, app) -> None:
    """A day solved in regions is carried over too, region by region (it was stored as it was, giving the sick
    technician's jobs back, or dropped when a later re-plan was queued)."""
    app.state.settings.dispatch_regions = 2  # Ana and Tom live in different regions
    dispatcher = auth(Role.dispatcher)
    slow, _, tom, jobs = _sick_while_solving(client, dispatcher, settings)
    carried = wait_solve(client, dispatcher, slow)
    assert carried["status"] == "succeeded" and carried["plan_id"] is not None, carried
    assert any("carrying its best plan onto the day as it is now" in p.get("event", "")
               for p in carried["progress"]), carried["progress"]
    plan = client.get(f"/plans/{carried['plan_id']}", headers=dispatcher).json()
    assert plan["stats"]["phases"][0]["regions"] == 1  # the day as it is now: Tom's region only
    assert all(s["technician_id"] == tom for s in plan["stops"]) and {s["job_id"] for s in plan["stops"]} == jobs
