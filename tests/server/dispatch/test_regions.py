"""Large areas are split into dispatch regions solved in parallel and merged into one feasible plan."""

from __future__ import annotations

import dataclasses

from sqlmodel import Session

import routing
from server.auth.models import Role
from server.core.city import load_city
from server.dispatch.problem import build_snapshot, tech_key
from server.dispatch.regions import partition, solve_regions
from tests.server.dispatch.conftest import SITES, job_body, technician_body, wait_solve


def test_regions_partition_and_merge(client, auth, settings, app):
    dispatcher = auth(Role.dispatcher)
    for i in range(4):
        client.post("/technicians", json=technician_body(f"Tech {i}", [0, 8, 5, 9][i]), headers=dispatcher)
    for k in range(12):
        client.post("/jobs", json=job_body(settings, f"job {k}", k % len(SITES)), headers=dispatcher)
    regional = settings.model_copy(update={"dispatch_regions": 2})
    with Session(app.state.engine) as session:
        snapshot = build_snapshot(session=session, settings=regional, city=load_city(regional))
    subs = partition(regional, snapshot)
    assert len(subs) == 2 and all(s.technicians for s in subs)
    assert sorted(j.id for s in subs for j in s.jobs) == sorted(j.id for j in snapshot.problem.jobs)
    # Each region carries its own places only, not the whole day's matrix (every region got all of it before).
    for sub in subs:
        own = {t.start_location for t in sub.technicians} | {j.location for j in sub.jobs}
        assert sub.travel_time_s.shape[0] == len(own) < snapshot.problem.travel_time_s.shape[0]
    told: list[tuple[int, int]] = []
    plan = solve_regions(regional, snapshot, 0.5, on_region=lambda planned, regions: told.append((planned, regions)))
    assert told == [(0, 2), (1, 2), (2, 2)]  # the regions cut, then each region's plan counted in as it came
    assert not routing.check_feasibility(snapshot.problem, plan)
    assert plan.objective.jobs_served == 12 and plan.stats.phases[0]["regions"] == 2
    # through the API, a regional solve stores one plan like any other
    app.state.settings.dispatch_regions = 2
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    done = wait_solve(client, dispatcher, solve["id"])
    assert done["status"] == "succeeded"
    events = [p.get("event") for p in done["progress"]]
    assert events.index("1 of 2 regions planned") < events.index("2 of 2 regions planned"), events
    assert len(client.get("/plans/current", headers=dispatcher).json()["stops"]) == 12


def test_regions_solved_here_share_the_solves_time(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Without a broker, two regions at a time: n regions get 2/n of the limit each, so the solve ends within its
    limit (20 regions of a 5,000-job day took 10 x the limit, past the point where it is taken for abandoned)."""
    from server.dispatch import regions

    given: list[float] = []

    def fake_solve(problem_dict: dict, time_limit_s: float, should_stop=None, warm=None, in_force=None) -> dict:  # type: ignore[no-untyped-def]
        given.append(time_limit_s)
        return routing.Plan(routes=[]).to_dict()

    def eight_regions(_settings, snapshot, keep=None):  # type: ignore[no-untyped-def]
        return [snapshot.problem] * 8

    monkeypatch.setattr(regions, "solve_one", fake_solve)
    monkeypatch.setattr(regions, "partition", eight_regions)

    class FakeSnapshot:
        problem = routing.Problem([routing.Technician("t1", 0, 3600, 0)], [], [[0]])

    regions.solve_regions(settings.model_copy(update={"broker_url": None}), FakeSnapshot(), 10.0)  # type: ignore[arg-type]
    assert given == [2.5] * 8


def test_a_regional_solve_stops_when_asked_and_keeps_a_whole_plan(client, auth, settings, app):
    """Regions solved here get the solve's stop: a 600 s regional solve, stopped once running, ends long before its
    limit (the regions were searched for their whole share before) with every job in the stored plan."""
    from datetime import datetime

    from tests.server.dispatch.conftest import wait_for

    dispatcher = auth(Role.dispatcher)
    for i in range(4):
        client.post("/technicians", json=technician_body(f"Tech {i}", [0, 8, 5, 9][i]), headers=dispatcher)
    for k in range(12):
        client.post("/jobs", json=job_body(settings, f"job {k}", k % len(SITES)), headers=dispatcher)
    app.state.settings.dispatch_regions = 2
    started = client.post("/dispatch/solves", json={"time_limit_s": 600}, headers=dispatcher).json()
    wait_for(lambda: client.get(f"/dispatch/solves/{started['id']}", headers=dispatcher).json()["status"]
             == "running" or None, 120, "the regional solve running")
    assert client.delete(f"/dispatch/solves/{started['id']}", headers=dispatcher).status_code == 200
    done = wait_solve(client, dispatcher, started["id"], timeout_s=250)
    assert done["status"] == "cancelled" and done["plan_id"], done
    ran_s = (datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])).total_seconds()
    assert ran_s < 200, ran_s  # far below the 600 s asked for: it was stopped
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert plan["stats"]["phases"][0]["regions"] == 2 and len(plan["stops"]) == 12


def test_a_regional_replan_starts_each_region_from_the_plan_in_force(client, auth, settings, app):
    """A regional re-plan keeps jobs with the technicians they are planned for: each region starts from its part of
    the plan being re-planned and moving a job costs the disruption (regions were solved from scratch before, so
    every re-plan of a big day could reshuffle who goes where). Two technicians share each home, so handing one's
    day to the other costs no travel: only a warm start tells the solver which of them customers were promised."""
    dispatcher = auth(Role.dispatcher)
    homes_of = {client.post("/technicians", json=technician_body(name, site), headers=dispatcher).json()["id"]: site
                for name, site in (("North A", 0), ("North B", 0), ("South A", 9), ("South B", 9))}
    for k, site in enumerate((0, 1, 6, 0, 1, 6, 9, 10, 4, 9, 10, 4)):
        client.post("/jobs", json=job_body(settings, f"job {k}", site), headers=dispatcher)
    regional = settings.model_copy(update={"dispatch_regions": 2})
    with Session(app.state.engine) as session:
        snapshot = build_snapshot(session=session, settings=regional, city=load_city(regional))
    subs = partition(regional, snapshot)
    homes = [{t.start_location for t in s.technicians} for s in subs]
    assert len(subs) == 2 and all(len(s.technicians) == 2 and len(h) == 1 for s, h in zip(subs, homes, strict=True))
    cold = solve_regions(regional, snapshot, 0.5)
    # The plan in force: each region's two day plans swapped between its two technicians (the same cost).
    pairs = {t.id: other.id for s in subs for t, other in zip(s.technicians, reversed(s.technicians), strict=True)}
    by_tech = {r.technician_id: r for r in cold.routes}
    told = routing.Plan(routes=[dataclasses.replace(by_tech[pairs[t.id]], technician_id=t.id)
                                for t in snapshot.problem.technicians])
    told_days = {t: sorted(seq) for t, seq in told.assignment().items()}
    assert told_days != {t: sorted(seq) for t, seq in cold.assignment().items()}  # a different plan than a cold solve
    # ... and a job planned for a technician of the other region stays in that technician's region.
    south_ids = {tech_key(i) for i, site in homes_of.items() if site == 9}
    south = next(s for s in subs if {t.id for t in s.technicians} == south_ids)
    north_job = next(j.id for j in snapshot.problem.jobs if j.id not in {x.id for x in south.jobs})
    south_tech = next(t.id for t in south.technicians if by_tech[t.id].stops)  # one with a day to copy
    kept = partition(regional, snapshot, keep=routing.Plan(routes=[dataclasses.replace(
        by_tech[south_tech], stops=[dataclasses.replace(by_tech[south_tech].stops[0], job_id=north_job)])]))
    assert north_job in {j.id for s in kept for j in s.jobs if any(t.id == south_tech for t in s.technicians)}

    replanned = solve_regions(regional, snapshot, 0.5, warm=told)
    assert not routing.check_feasibility(snapshot.problem, replanned)
    assert {t: sorted(seq) for t, seq in replanned.assignment().items()} == told_days
