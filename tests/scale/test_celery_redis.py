"""Scale-out on real engines: PostgreSQL, Redis and real Celery workers and API processes (separate
processes). A plan solved on a worker; a worker killed mid-solve (the task is redelivered, nothing is
lost or stored twice); live events reaching a client connected to a different API process."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import httpx
from sqlalchemy import create_engine, text

from tests.scale.conftest import wait_for
from tests.server.dispatch.conftest import SITES

PASSWORD = "scale-password-1"


def _seed(env: dict[str, str], n_jobs: int = 12) -> None:
    from sqlmodel import Session

    from server.auth import service as auth_service
    from server.auth.models import Role, UserCreate
    from server.jobs.models import Job
    from server.technicians.models import Technician

    engine = create_engine(env["GROUNDCREW_DATABASE_URL"])
    with Session(engine) as session:
        if auth_service.get_by_username(session=session, username="disp") is None:
            auth_service.create(session=session, user_in=UserCreate(username="disp", role=Role.dispatcher,
                                                                    password=PASSWORD))
            techs = []
            for i in range(3):
                lat, lon = SITES[i]
                # Plans cover the rest of today: a shift to 23:50 leaves no room for 12 jobs late in the evening,
                # so up to 10 h of overtime keeps the test independent of the hour it runs at.
                tech = Technician(name=f"Tech {i}", skills={"electrical": 3}, home_lat=lat, home_lon=lon,
                                  shift_start=__import__("datetime").time(0, 5),
                                  shift_end=__import__("datetime").time(23, 50), overtime_allowed_min=600)
                session.add(tech)
                session.flush()
                techs.append(tech.id)
            auth_service.create(session=session, user_in=UserCreate(username="tech0", role=Role.technician,
                                                                    password=PASSWORD, technician_id=techs[0]))
            for k in range(n_jobs):
                lat, lon = SITES[3 + k % (len(SITES) - 3)]
                session.add(Job(title=f"job {k}", required_skills={"electrical": 1}, duration_min=15,
                                lat=lat + 0.0001 * k, lon=lon, priority=5))
            session.commit()
    engine.dispose()


def _login(url: str, user: str = "disp") -> dict[str, str]:
    r = httpx.post(f"{url}/auth/token", data={"username": user, "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _plans_for(env: dict[str, str], solve_id: str) -> int:
    engine = create_engine(env["GROUNDCREW_DATABASE_URL"])
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM plan_solution WHERE solve_job_id = :s"), {"s": solve_id}).scalar()
    engine.dispose()
    return int(n or 0)


def test_solve_on_worker_and_events_across_api_processes(scale_env, processes):
    _seed(scale_env)
    processes.worker()
    api_a, api_b = processes.api(), processes.api()
    headers_a, headers_b = _login(api_a), _login(api_b)
    import websocket

    # The ticket is made by one API process and redeemed by the other: tickets live in the shared database.
    ticket = httpx.post(f"{api_a}/events/ticket", headers=headers_b, timeout=10).json()["ticket"]
    ws = websocket.create_connection(f"{api_b.replace('http', 'ws')}/events/ws?ticket={ticket}", timeout=60)
    assert json.loads(ws.recv())["type"] == "hello"
    received: list[dict] = []

    def listen() -> None:
        try:
            while True:
                received.append(json.loads(ws.recv()))
        except Exception:
            pass

    threading.Thread(target=listen, daemon=True).start()
    started = httpx.post(f"{api_a}/dispatch/solves", json={"time_limit_s": 2}, headers=headers_a, timeout=10)
    assert started.status_code == 202, started.text
    solve_id = started.json()["id"]

    def finished() -> dict | None:
        body = httpx.get(f"{api_b}/dispatch/solves/{solve_id}", headers=headers_b, timeout=10).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    done = wait_for(finished, 120, "the solve on the Celery worker")
    assert done["status"] == "succeeded", done
    api_pids = {p.pid for p in processes.procs[1:]}
    worker = done["progress"][0]["worker"]
    assert int(worker.rsplit(":", 1)[1]) not in api_pids  # solved in a worker process, not an API process
    plan = httpx.get(f"{api_b}/plans/current", headers=headers_b, timeout=10).json()
    assert len(plan["stops"]) == 12 and _plans_for(scale_env, solve_id) == 1
    # events made on the worker and on API A reach the client connected to API B
    wait_for(lambda: any(e["type"] == "plan.created" for e in received), 30, "plan.created on API B")
    tech = _login(api_a, "tech0")
    assert httpx.post(f"{api_a}/technicians/me/location", json={"lat": 39.29, "lon": -76.58}, headers=tech,
                      timeout=10).status_code == 202
    wait_for(lambda: any(e["type"] == "technician.location" for e in received), 30, "location event on API B")
    ws.close()


def test_killed_worker_mid_solve_is_retried_and_stored_once(scale_env, processes):
    _seed(scale_env)
    first = processes.worker()
    api = processes.api()
    headers = _login(api)
    solve_id = httpx.post(f"{api}/dispatch/solves", json={"time_limit_s": 12}, headers=headers,
                          timeout=10).json()["id"]

    def status() -> dict:
        return httpx.get(f"{api}/dispatch/solves/{solve_id}", headers=headers, timeout=10).json()

    wait_for(lambda: status()["status"] == "running" and status()["attempts"] == 1, 60, "the first attempt")
    processes.kill(first)  # SIGKILL mid-solve: no ack, no clean-up
    assert status()["status"] == "running"
    processes.worker()  # a fresh worker gets the redelivered task after the visibility timeout
    done = wait_for(lambda: (s := status())["status"] in ("succeeded", "failed") and s, 150, "the retried solve")
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    workers = [p["worker"] for p in done["progress"] if "worker" in p]
    assert len(set(workers)) == 2  # two different worker processes ran it
    assert _plans_for(scale_env, solve_id) == 1  # stored exactly once
    plan = httpx.get(f"{api}/plans/current", headers=headers, timeout=10).json()
    assert len(plan["stops"]) == 12


def _regional_solve(scale_env: dict[str, str], processes, concurrency: int,  # type: ignore[no-untyped-def]
                    stop_when: str | None = None, replan: bool = False) -> str:
    """A 1 s solve of the seeded day as two regions, on one worker with ``concurrency`` pool processes; checks the
    stored plan and returns the worker's log. With ``stop_when``, a 600 s solve instead, stopped (DELETE) once the
    worker's log shows that line; it must end as cancelled long before its limit. With ``replan``, a second 1 s
    solve then re-plans the stored day: each region's task carries its part of the plan in force, and every job
    stays with its technician (moving one costs the disruption and gains nothing on a day already planned)."""
    _seed(scale_env)
    processes.env = {**scale_env, "GROUNDCREW_DISPATCH_REGIONS": "2"}
    worker = processes.worker(concurrency=concurrency)
    api = processes.api()
    headers = _login(api)
    solve_id = httpx.post(f"{api}/dispatch/solves", json={"time_limit_s": 600 if stop_when else 1},
                          headers=headers, timeout=10).json()["id"]
    worker_log = processes.logdir / f"worker-{processes.procs.index(worker)}.log"
    if stop_when:
        wait_for(lambda: worker_log.is_file() and stop_when in worker_log.read_text(), 120, stop_when)
        stopped = httpx.delete(f"{api}/dispatch/solves/{solve_id}", headers=headers, timeout=10)
        assert stopped.status_code == 200, stopped.text

    def finished() -> dict | None:
        body = httpx.get(f"{api}/dispatch/solves/{solve_id}", headers=headers, timeout=10).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    done = wait_for(finished, 240, "the regional solve")
    assert done["status"] == ("cancelled" if stop_when else "succeeded"), done
    if stop_when:
        ran_s = (datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"]))
        assert ran_s.total_seconds() < 300  # far below the 600 s asked for: it was stopped
    else:  # the consoles saw each region come in, on workers as here
        events = [p.get("event") for p in done["progress"]]
        assert events.index("1 of 2 regions planned") < events.index("2 of 2 regions planned"), events
    plan = httpx.get(f"{api}/plans/current", headers=headers, timeout=10).json()
    assert plan["stats"]["phases"][0]["regions"] == 2 and len(plan["stops"]) == 12
    if replan:
        again = httpx.post(f"{api}/dispatch/solves", json={"time_limit_s": 1}, headers=headers, timeout=10).json()
        solve_id = again["id"]
        assert wait_for(finished, 240, "the regional re-plan")["status"] == "succeeded"
        after = httpx.get(f"{api}/plans/current", headers=headers, timeout=10).json()
        assert after["version"] > plan["version"] and after["stats"]["phases"][0]["regions"] == 2
        assert {s["job_id"]: s["technician_id"] for s in after["stops"]} == \
            {s["job_id"]: s["technician_id"] for s in plan["stops"]}
    return worker_log.read_text()


def test_regions_are_solved_as_separate_worker_tasks(scale_env, processes):
    log = _regional_solve(scale_env, processes, concurrency=3, replan=True)
    assert log.count("groundcrew.region") >= 4  # each region ran as its own Celery task, in the solve and re-plan
    assert log.count("2 regions on 2 Celery pool processes") == 2  # the third process runs the solve and waits
    assert "solving the regions here" not in log  # the re-plan's tasks, with their warm starts, ran on the worker


def test_a_regional_solve_on_workers_stops_when_asked_and_keeps_a_whole_plan(scale_env, processes):
    """A stopped regional solve ends at once: the region tasks still searching are revoked (their pool processes
    freed, not left searching out their share) and those regions get a first plan where the solve runs."""
    log = _regional_solve(scale_env, processes, concurrency=3, stop_when="2 regions on 2 Celery pool processes")
    assert "revoking the regional tasks not yet back" in log


def test_a_worker_whose_only_pool_process_runs_the_solve_solves_its_regions_itself(scale_env, processes):
    """With one pool process the solve task itself holds it: region tasks sent to the queue could not start until
    the solve gave up waiting for them (its limit x 4 + 60 s). The solve counts the free pool processes first."""
    log = _regional_solve(scale_env, processes, concurrency=1)
    assert "groundcrew.region[" not in log  # no region task was sent to a queue nobody could serve
    assert "solving the regions here" in log


def test_region_slots_count_the_pool_processes_consuming_the_region_queue(scale_env, processes):
    from server.config import Settings
    from server.dispatch.regions import region_slots
    from server.workers.celery_app import make_celery

    app = make_celery(Settings(broker_url=scale_env["GROUNDCREW_BROKER_URL"]))
    assert region_slots(app, max_age_s=0) == 0  # no worker yet
    processes.worker(concurrency=2)
    assert wait_for(lambda: region_slots(app, max_age_s=0) == 2, 60, "the worker's two pool processes")
    # The answer is reused for a while: asking costs two broadcasts that each wait out their 1 s timeout, which a
    # regional solve paid every time. A stopped worker is seen once the answer is older than asked for.
    processes.stop_all()
    assert region_slots(app) == 2  # the answer of a moment ago, not asked again
    assert region_slots(app, max_age_s=0) == 0


def test_the_horizon_roll_over_runs_on_a_worker_when_a_broker_is_set(scale_env, processes, monkeypatch):
    """With a broker the daily roll-over (minutes of CPU on a big day) is a Celery task, not work in the API process
    that serves live dispatch; the API process sends it once, not at every check while it runs."""
    from pathlib import Path

    from sqlmodel import Session, select

    from server.config import Settings
    from server.core.db import make_engine
    from server.horizon.models import HorizonRun
    from server.horizon.service import ROLL_OVER, RollOver, roll_over_due
    from server.jobs.models import Job

    _seed(scale_env)
    processes.env = {**scale_env, "GROUNDCREW_HORIZON_ROLL_AT": "00:00", "GROUNDCREW_TIMEZONE": "UTC"}
    worker = processes.worker()
    settings = Settings(database_url=scale_env["GROUNDCREW_DATABASE_URL"],
                        broker_url=scale_env["GROUNDCREW_BROKER_URL"],
                        data_dir=Path(scale_env["GROUNDCREW_DATA_DIR"]), horizon_roll_at="00:00", timezone="UTC",
                        dispatch_morning_at=None, load_city=False)
    from server.workers import celery_app

    monkeypatch.setattr(celery_app, "app", celery_app.make_celery(settings))  # as an API process with this broker
    engine = make_engine(settings)
    with Session(engine) as session:  # the module's earlier tests planned every seeded job: one waiting job more
        lat, lon = SITES[3]
        session.add(Job(title="waiting for the horizon", required_skills={"electrical": 1}, duration_min=15,
                        lat=lat, lon=lon, priority=5))
        session.commit()
        assert roll_over_due(session=session, settings=settings)
    roller = RollOver(engine, settings)  # its loop is not started: the test calls its check
    roller.tick()
    roller.tick()  # still due while the worker plans: not sent again

    def runs() -> list[HorizonRun]:
        with Session(engine) as session:
            return list(session.exec(select(HorizonRun).where(HorizonRun.trigger == ROLL_OVER)).all())

    assert wait_for(runs, 180, "the roll-over's horizon run")
    worker_log = (processes.logdir / f"worker-{processes.procs.index(worker)}.log").read_text()
    assert "horizon roll-over:" in worker_log  # planned on the worker
    assert worker_log.count("groundcrew.horizon[") <= 2  # one task (Celery logs its receipt and its success)
    roller.tick()  # done for today: nothing more is sent
    assert len(runs()) == 1
    engine.dispose()
