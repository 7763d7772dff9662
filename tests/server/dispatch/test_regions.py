"""Large areas are split into dispatch regions solved in parallel and merged into one feasible plan."""

from __future__ import annotations

from sqlmodel import Session

import routing
from server.auth.models import Role
from server.core.city import load_city
from server.dispatch.problem import build_snapshot
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
    plan = solve_regions(regional, snapshot, 0.5)
    assert not routing.check_feasibility(snapshot.problem, plan)
    assert plan.objective.jobs_served == 12 and plan.stats.phases[0]["regions"] == 2
    # through the API, a regional solve stores one plan like any other
    app.state.settings.dispatch_regions = 2
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, solve["id"])["status"] == "succeeded"
    assert len(client.get("/plans/current", headers=dispatcher).json()["stops"]) == 12
