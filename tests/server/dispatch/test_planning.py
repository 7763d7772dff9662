"""Planning service: a problem built from the database, solved as a job (202 → status → plan version with a
diff), stopped early with DELETE, and stored once per solve job even when run twice."""

from __future__ import annotations

import os

from sqlmodel import Session, func, select

from server.auth.models import Role
from server.dispatch import service
from server.dispatch.models import SolveJob
from server.dispatch.problem import build_snapshot
from server.plans.models import Plan, PlanSolution
from tests.server.dispatch.conftest import job_body, technician_body, wait_solve


def _setup(client, auth, settings, n_jobs: int = 6) -> tuple[dict, list[int], list[int]]:  # type: ignore[no-untyped-def]
    dispatcher = auth(Role.dispatcher)
    techs = [client.post("/technicians", json=technician_body(f"Tech {i} Person", i), headers=dispatcher).json()["id"]
             for i in range(2)]
    jobs = [client.post("/jobs", json=job_body(settings, f"job {i}", 2 + i), headers=dispatcher).json()["id"]
            for i in range(n_jobs)]
    return dispatcher, techs, jobs


def test_snapshot_maps_database_to_problem(client, auth, settings, app):
    _, techs, jobs = _setup(client, auth, settings, 4)
    from server.core.city import load_city

    with Session(app.state.engine) as session:
        snap = build_snapshot(session=session, settings=settings, city=load_city(settings))
    assert [t.id for t in snap.problem.technicians] == [f"t{t}" for t in techs]
    assert sorted(j.id for j in snap.problem.jobs) == sorted(f"j{j}" for j in jobs)
    tt = snap.problem.travel_time_s
    assert tt.shape[0] == len(snap.coords) and (tt.diagonal() == 0).all()
    assert 0 < tt.max() < 3600  # real driving times across the demo city


def test_a_technician_whose_shift_is_over_is_left_out_not_infeasible(client, auth, settings, app):
    """Late in the day a shift (and its overtime) has ended: that technician gets nothing more, and the solve
    still plans the others instead of failing as infeasible."""
    from datetime import timedelta

    from server.core.city import load_city
    from server.dispatch.problem import day_origin

    dispatcher, techs, jobs = _setup(client, auth, settings, 3)
    early = client.post("/technicians", headers=dispatcher, json={
        **technician_body("Early Bird", 3), "shift_start": "00:05", "shift_end": "00:30"}).json()["id"]
    late_evening = day_origin(settings) + timedelta(hours=23, minutes=40)
    with Session(app.state.engine) as session:
        snap = build_snapshot(session=session, settings=settings, city=load_city(settings), now=late_evening)
    assert f"t{early}" not in [t.id for t in snap.problem.technicians]
    assert [t.id for t in snap.problem.technicians] == [f"t{t}" for t in techs]
    assert sorted(j.id for j in snap.problem.jobs) == sorted(f"j{j}" for j in jobs)


def test_solve_job_lifecycle_and_plan_version(client, auth, settings, app):
    dispatcher, techs, jobs = _setup(client, auth, settings)
    started = client.post("/dispatch/solves", json={"time_limit_s": 1}, headers=dispatcher)
    assert started.status_code == 202, started.text
    assert started.headers["Location"].endswith(started.json()["id"])
    done = wait_solve(client, dispatcher, started.json()["id"])
    assert done["status"] == "succeeded" and done["plan_id"] and done["best_cost"] is not None
    assert done["progress"], "best-so-far progress is recorded"
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert plan["version"] == 1 and {s["job_id"] for s in plan["stops"]} == set(jobs)
    assert plan["stops"][0]["arrival_at"].endswith(("Z", "+00:00"))
    job = client.get(f"/jobs/{jobs[0]}", headers=dispatcher).json()
    assert job["status"] == "assigned" and job["assigned_technician_id"] in techs and job["eta_at"]
    # a second solve is version 2 with a diff against version 1
    again = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    wait_solve(client, dispatcher, again["id"])
    second = client.get("/plans/current", headers=dispatcher).json()
    assert second["version"] == 2 and second["diff"]["previous_version"] == 1
    assert set(second["diff"]) >= {"moved", "eta_changed"}


def test_running_a_solve_job_twice_stores_one_plan(client, auth, settings, app):
    _dispatcher, _, _ = _setup(client, auth, settings, 3)
    with Session(app.state.engine) as session:
        job = SolveJob(id="a" * 32, time_limit_s=0.5)
        session.add(job)
        session.commit()
    first = service.run_solve_job(engine=app.state.engine, settings=settings, solve_job_id="a" * 32)
    with Session(app.state.engine) as session:  # a redelivered task after a crash finds it running again
        row = session.get(SolveJob, "a" * 32)
        row.status = "running"
        session.add(row)
        session.commit()
    second = service.run_solve_job(engine=app.state.engine, settings=settings, solve_job_id="a" * 32)
    assert first is not None and second == first
    with Session(app.state.engine) as session:
        assert session.exec(select(func.count()).select_from(Plan)).one() == 1
        assert session.exec(select(func.count()).select_from(PlanSolution)).one() == 1


def test_delete_stops_a_running_solve_at_once_and_keeps_its_best_plan(client, auth, settings, app):
    """A 600 s solve is stopped by DELETE within about a second (it used to run its first 360 s chunk out), and the
    best plan it had found is stored. The solve is stopped only once it has reported a plan, so the test waits on
    the solve, never on the clock; the 600 s limit makes "it returned because it was stopped" unmistakable."""
    from datetime import datetime

    from tests.server.dispatch.conftest import wait_for

    dispatcher, _, jobs = _setup(client, auth, settings, 3)
    started = client.post("/dispatch/solves", json={"time_limit_s": 600}, headers=dispatcher).json()

    def reporting() -> dict | None:
        body = client.get(f"/dispatch/solves/{started['id']}", headers=dispatcher).json()
        return body if body["status"] == "running" and body["best_cost"] is not None else None

    running = wait_for(reporting, 120, "a running solve with a best plan so far")
    assert any("cost" in p for p in running["progress"])
    stopped = client.delete(f"/dispatch/solves/{started['id']}", headers=dispatcher)
    assert stopped.status_code == 200 and stopped.json()["cancel_requested"] is True
    done = wait_solve(client, dispatcher, started["id"], timeout_s=150)
    assert done["status"] == "cancelled" and done["plan_id"], done
    ran_s = (datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])).total_seconds()
    assert ran_s < 300, ran_s  # far below the 600 s asked for: it was stopped
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert {s["job_id"] for s in plan["stops"]} == set(jobs)
    assert client.delete(f"/dispatch/solves/{started['id']}", headers=dispatcher).status_code == 409


def test_a_queued_solve_is_cancelled_before_it_starts_and_bad_requests_are_refused(client, auth, settings, app):
    dispatcher, _, _ = _setup(client, auth, settings, 2)
    with Session(app.state.engine) as session:  # waiting its turn (not handed to a worker: it never starts)
        session.add(SolveJob(id="q" * 32, time_limit_s=5))
        session.commit()
    stopped = client.delete(f"/dispatch/solves/{'q' * 32}", headers=dispatcher)
    assert stopped.status_code == 200 and stopped.json()["status"] == "cancelled"
    assert service.run_solve_job(engine=app.state.engine, settings=settings, solve_job_id="q" * 32) is None
    assert client.get("/dispatch/solves/nope", headers=dispatcher).status_code == 404
    assert client.post("/dispatch/solves", json={"time_limit_s": -1}, headers=dispatcher).status_code == 422
    too_long = client.post("/dispatch/solves", json={"time_limit_s": 601}, headers=dispatcher)
    assert too_long.status_code == 422 and "time_limit_s" in too_long.text
    assert client.post("/dispatch/solves", json={}, headers=auth(Role.agent)).status_code == 403


def test_solves_beyond_the_bound_are_refused_with_429(client, auth, settings, app):
    """62 solves could be queued before; now at most ``dispatch_max_open_solves`` are queued or running."""
    dispatcher, _, _ = _setup(client, auth, settings, 2)
    settings.dispatch_max_open_solves = 2
    first = client.post("/dispatch/solves", json={"time_limit_s": 600}, headers=dispatcher)
    second = client.post("/dispatch/solves", json={"time_limit_s": 600}, headers=dispatcher)
    third = client.post("/dispatch/solves", json={"time_limit_s": 1}, headers=dispatcher)
    assert first.status_code == second.status_code == 202
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    assert "at most 2" in third.json()["detail"]
    for started in (first, second):  # stop both (the second is still queued behind the first)
        assert client.delete(f"/dispatch/solves/{started.json()['id']}", headers=dispatcher).status_code == 200
    for started in (first, second):
        assert wait_solve(client, dispatcher, started.json()["id"], timeout_s=150)["status"] == "cancelled"
    assert client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).status_code == 202


def test_a_short_replan_never_undoes_a_better_assignment(client, auth, settings, app):
    import routing
    from routing.schedule import evaluate
    from server.core.city import load_city
    from server.dispatch.service import _never_worse

    dispatcher, _, jobs = _setup(client, auth, settings, 4)
    wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 0.5},
                                               headers=dispatcher).json()["id"])
    with Session(app.state.engine) as session:
        snap = build_snapshot(session=session, settings=settings, city=load_city(settings))
    empty = routing.Plan(routes=[routing.Route(t.id, 0, 0) for t in snap.problem.technicians],
                         unassigned=[routing.Unassigned(j.id, "cut short") for j in snap.problem.jobs])
    empty.objective = evaluate(snap.problem, empty)
    kept = _never_worse(snap, empty)
    assert kept.objective.jobs_served == len(jobs) and "kept the current assignment" in kept.stats.status


def test_a_solve_whose_worker_died_is_failed_and_does_not_swallow_new_requests(client, auth, settings, app):
    """A server killed mid-solve (or restarted with a solve still queued in its memory) must not leave the solve
    "running" forever with every later trigger joining a queued one that never starts."""
    import socket
    import subprocess
    from datetime import timedelta

    from server.core.timeutil import utcnow

    _setup(client, auth, settings, 2)
    dead = subprocess.Popen(["true"])
    dead.wait()
    here, gone = socket.gethostname(), f"{socket.gethostname()}:{dead.pid}"
    now = utcnow()
    rows = {
        "running-dead": SolveJob(id="r" * 32, status="running", started_at=now, time_limit_s=30,
                                 progress=[{"event": "attempt 1 started", "worker": gone}]),
        "queued-dead": SolveJob(id="q" * 32, status="queued", progress=[{"event": "queued", "worker": gone}]),
        "running-alive": SolveJob(id="a" * 32, status="running", started_at=now, time_limit_s=30,
                                  progress=[{"event": "attempt 1 started", "worker": f"{here}:{os.getpid()}"}]),
        "running-elsewhere-long-ago": SolveJob(id="e" * 32, status="running", time_limit_s=10,
                                               started_at=now - timedelta(minutes=10),
                                               progress=[{"event": "attempt 1 started", "worker": "other-host:1"}]),
        "running-elsewhere-recent": SolveJob(id="f" * 32, status="running", time_limit_s=10, started_at=now,
                                             progress=[{"event": "attempt 1 started", "worker": "other-host:1"}]),
    }
    with Session(app.state.engine) as session:
        session.add_all(rows.values())
        session.commit()
        job, created = service.request_solve(session=session, engine=app.state.engine, settings=settings,
                                             trigger="new jobs", reason="1 new job(s)", time_limit_s=0.5)
        assert created and job.id not in {r.id for r in rows.values()}, "a new solve, not the orphaned queued one"
        status = {name: session.get(SolveJob, row.id) for name, row in rows.items()}
        assert {n: str(r.status) for n, r in status.items()} == {
            "running-dead": "failed", "queued-dead": "failed", "running-alive": "running",
            "running-elsewhere-long-ago": "failed", "running-elsewhere-recent": "running"}
        assert "abandoned" in status["running-dead"].error and gone in status["running-dead"].error
        assert status["queued-dead"].finished_at is not None
    assert wait_solve(client, auth(Role.dispatcher), job.id)["status"] == "succeeded"


def test_an_overdue_backlog_rises_in_priority_and_is_planned_while_there_is_room(client, auth, settings, app):
    """A priority-3 job 30 days past its SLA deadline was dropped ("no capacity left today") while technicians had
    free time: its lateness outweighed the cost of dropping it. Now it is planned, and it outranks fresh work of a
    priority its age has passed (one step per ``dispatch_aging_days``)."""
    from datetime import timedelta

    from server.core.timeutil import utcnow
    from server.dispatch.problem import aged_priority
    from server.jobs.models import Job

    assert aged_priority(3, -30 * 86400, 0, 7.0) == 7 and aged_priority(3, 3600, 0, 7.0) == 3
    assert aged_priority(9, -400 * 86400, 0, 7.0) == 10 and aged_priority(3, -30 * 86400, 0, 0) == 3
    dispatcher, _, jobs = _setup(client, auth, settings, 2)
    old = client.post("/jobs", json=job_body(settings, "old streetlight", 4, priority=3), headers=dispatcher).json()
    nobody = client.post("/jobs", json=job_body(settings, "needs a diver", 5, required_skills={"diving": 1}),
                         headers=dispatcher).json()
    with Session(app.state.engine) as session:
        row = session.get(Job, old["id"])
        row.sla_due_at = utcnow() - timedelta(days=30)
        session.add(row)
        session.commit()
        from server.core.city import load_city

        snap = build_snapshot(session=session, settings=settings, city=load_city(settings))
    assert snap.problem.job(f"j{old['id']}").priority == 7
    done = wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 1},
                                                      headers=dispatcher).json()["id"])
    assert done["status"] == "succeeded"
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert {s["job_id"] for s in plan["stops"]} == {*jobs, old["id"]}
    reasons = {u["job_id"]: u["reason"] for u in plan["unassigned"]}
    assert reasons == {nobody["id"]: "no technician with the required skill"}


def test_a_kept_assignment_gives_each_unplanned_job_its_real_reason(client, auth, settings, app):
    """When a re-plan keeps the current assignment (it was better), the jobs it leaves out said "no capacity left
    today" whatever the cause; a job needing a skill nobody has now says so."""
    import routing
    from server.core.city import load_city
    from server.dispatch.service import _never_worse

    dispatcher, _, _ = _setup(client, auth, settings, 2)
    client.post("/jobs", json=job_body(settings, "needs a diver", 5, required_skills={"diving": 1}),
                headers=dispatcher)
    wait_solve(client, dispatcher, client.post("/dispatch/solves", json={"time_limit_s": 0.5},
                                               headers=dispatcher).json()["id"])
    with Session(app.state.engine) as session:
        snap = build_snapshot(session=session, settings=settings, city=load_city(settings))
    empty = routing.Plan(routes=[routing.Route(t.id, 0, 0) for t in snap.problem.technicians],
                         unassigned=[routing.Unassigned(j.id, "cut short") for j in snap.problem.jobs])
    from routing.schedule import evaluate

    empty.objective = evaluate(snap.problem, empty)
    kept = _never_worse(snap, empty)
    assert "kept the current assignment" in kept.stats.status
    assert [u.reason for u in kept.unassigned] == ["no technician with the required skill"]


def test_a_multi_day_visit_is_planned_today_as_the_part_that_fits(client, auth, settings, app):
    """A 12-hour job is longer than any technician's day: today's plan gives it the part the day holds (the horizon
    plans the rest on the next days); whole, it could never be planned today."""
    dispatcher = auth(Role.dispatcher)
    body = {**technician_body("Mia Long", 0), "shift_start": "00:05", "shift_end": "23:50",
            "breaks": [{"earliest": "11:30", "latest": "13:30", "duration_min": 30}]}
    tech = client.post("/technicians", json=body, headers=dispatcher).json()["id"]
    job = client.post("/jobs", json=job_body(settings, "Rewire the depot", 3, duration_min=40 * 60),
                      headers=dispatcher)
    assert job.status_code == 201, job.text
    started = client.post("/dispatch/solves", json={"time_limit_s": 1}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, started["id"])["status"] == "succeeded"
    after = client.get(f"/jobs/{job.json()['id']}", headers=dispatcher).json()
    plan = client.get("/plans/current", headers=dispatcher).json()
    assert after["status"] == "assigned" and after["assigned_technician_id"] == tech, plan["unassigned"]
    stop = next(s for s in client.get("/plans/current", headers=dispatcher).json()["stops"]
                if s["job_id"] == after["id"])
    from datetime import datetime

    on_site_s = (datetime.fromisoformat(stop["end_at"]) - datetime.fromisoformat(stop["start_at"])).total_seconds()
    assert 900 <= on_site_s < 24 * 3600 and on_site_s % 900 == 0
    assert after["duration_min"] == 40 * 60  # the job keeps its whole duration; completing the part leaves the rest
