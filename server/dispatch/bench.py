"""``groundcrew bench live``: a dispatch day on the demo city (real 311 places, real streets) with
technicians and jobs, a morning plan, then (1) urgent jobs arriving through the API, timed until their
technician and arrival window are posted and delivered to the reporter, and (2) dispatcher override
previews, timed end to end over HTTP."""

from __future__ import annotations

import csv
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from server.config import DEMO_DATA_DIR, Settings

SKILLS = ["electrical", "roads", "water", "sanitation", "general"]


#: How far (degrees, ~55 m) a place is moved when the demo file has fewer real places than a run needs.
JITTER_DEG = 0.0005


def _places(city: Any, n: int, seed: int) -> list[tuple[float, float]]:
    """Real complaint locations from the demo 311 file that are on the street network; past the file's ~1,650
    places (a 500-technician, 5,000-job day), real places moved by up to ``JITTER_DEG`` so every place stays
    distinct (the same spot twice would shrink the day's travel-time matrix)."""
    rng = random.Random(seed)
    with open(DEMO_DATA_DIR / "baltimore_311_demo.csv", newline="", encoding="utf-8") as handle:
        rows = [(float(r["Latitude"]), float(r["Longitude"])) for r in csv.DictReader(handle) if r["Latitude"]]
    rng.shuffle(rows)
    out: list[tuple[float, float]] = []
    seen: set[tuple[float, float]] = set()

    def take(lat: float, lon: float) -> None:
        key = (round(lat, 6), round(lon, 6))
        if key in seen:
            return
        try:
            city.network.snap(lat, lon)
        except Exception:
            return
        seen.add(key)
        out.append((lat, lon))

    for lat, lon in rows:
        if len(out) == n:
            return out
        take(lat, lon)
    real = list(out)
    while len(out) < n and real:
        lat, lon = real[len(out) % len(real)]
        take(lat + rng.uniform(-JITTER_DEG, JITTER_DEG), lon + rng.uniform(-JITTER_DEG, JITTER_DEG))
    return out


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``, rounded to 0.1 (benchmark latency figures)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def zone_at_local_hour(local_hour: int, now: datetime | None = None) -> str:
    """An IANA zone (``Etc/GMT±N``) where it is now about ``local_hour`` o'clock. A bench run in it plans the same kind
    of day whenever it is started: in the demo's own zone an evening run had a shift cut at midnight, and the live
    bench then left most of its jobs and urgent arrivals unplanned (measured at 21:50 New York: 82 of 200 unassigned,
    2 of 5 urgent customers told)."""
    offset = (local_hour - (now or datetime.now(UTC)).hour) % 24
    if offset > 14:  # Etc zones span UTC-12 .. UTC+14
        offset -= 24
    # POSIX sign convention: Etc/GMT-7 is seven hours ahead of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def bench_shift(now_local: datetime) -> tuple[dtime, dtime, list[dict[str, Any]]]:
    """The technicians' shift for a bench run at ``now_local``: on shift now (from the last hour on, up to 9 h,
    within today), with a 30 min lunch 3-6 h into it when the day still has room for one (late in the evening,
    when the shift is cut at midnight, it has not)."""
    start = dtime(max(0, now_local.hour - 1), 0)
    end = dtime(min(23, start.hour + 9), 59 if start.hour + 9 >= 23 else 0)
    lunch = ([{"earliest": f"{start.hour + 3:02d}:30", "latest": f"{start.hour + 6:02d}:00", "duration_min": 30}]
             if start.hour + 6 <= end.hour else [])
    return start, end, lunch


#: The password of the users a bench run creates in its throwaway database.
BENCH_PASSWORD = "bench-password-1"


def bench_settings(base: Settings, name: str, **update: Any) -> Settings:
    """``base`` with a fresh temporary data folder (its SQLite database unless ``database_url`` is given) and the
    city cache of ``base``, so a bench run never writes to a real deployment's data."""
    workdir = Path(tempfile.mkdtemp(prefix=f"groundcrew-bench-{name}-"))
    return base.model_copy(update={
        "data_dir": workdir, "database_url": None, "secret_key": "bench-" + "x" * 40, "dispatch_morning_at": None,
        "cache_dir_override": base.cache_dir, **update})


def create_bench_users(app: Any, roles: Any) -> None:
    """One user per role, named ``bench-<role>``, with ``BENCH_PASSWORD``."""
    from server.auth import service as auth_service
    from server.auth.models import UserCreate

    with Session(app.state.engine) as session:
        for role in roles:
            auth_service.create(session=session, user_in=UserCreate(username=f"bench-{role.value}", role=role,
                                                                    password=BENCH_PASSWORD))
        session.commit()


def login(client: Any, username: str) -> dict[str, str]:
    """Authorization headers for a bench user (``create_bench_users``)."""
    reply = client.post("/auth/token", data={"username": username, "password": BENCH_PASSWORD})
    reply.raise_for_status()
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives another process (a Celery worker) ``settings``: this process's environment with
    every field of ``settings`` written in the variable ``Settings`` reads it from (all of them: a field left out
    would be read from this environment or a ``.env`` file, which the bench's own changes override)."""
    import json

    env = dict(os.environ)
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        key = field.alias or f"GROUNDCREW_{name.upper()}"
        if value is None and field.default is None:
            env.pop(key, None)
        elif value is None:
            env[key] = ""  # "off" where the default is on (the morning plan's hour)
        elif isinstance(value, dict | list | tuple):
            env[key] = json.dumps(value)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        else:
            env[key] = str(value)
    return env


class CeleryWorkers:
    """``processes`` Celery pool processes (one worker, ``-c processes``) consuming the solve and region queues with
    the bench's settings (its database, time zone, dispatch timings); stopped, with their children, on exit."""

    def __init__(self, settings: Settings, processes: int, echo: Any) -> None:
        import subprocess
        import sys

        if not settings.broker_url:
            raise SystemExit("--celery-workers needs a broker: set GROUNDCREW_BROKER_URL=redis://127.0.0.1:6379/0")
        self.log = Path(settings.data_dir) / "celery-worker.log"
        echo(f"Starting a Celery worker with {processes} pool processes (log {self.log}) ...")
        root = Path(__file__).resolve().parents[2]
        env = settings_env(settings)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "server.workers.celery_app", "worker", "-Q",
                 "groundcrew,groundcrew.regions", "-c", str(processes), "--pool", "prefork", "-l", "INFO",
                 "-n", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
        from server.dispatch.regions import region_slots
        from server.workers.celery_app import make_celery

        app = make_celery(settings)
        deadline = time.monotonic() + 90
        while region_slots(app, max_age_s=0) < processes:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the Celery worker did not start; see {self.log}")
            time.sleep(0.5)

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def run(*, technicians: int, jobs: int, urgent: int, previews: int, solve_s: float, seed: int,
        base: Settings, echo: Any, celery_workers: int = 0) -> dict[str, Any]:
    """The bench day; with ``celery_workers`` its solves (and regions) run on a Celery worker started here with that
    many pool processes (needs ``GROUNDCREW_BROKER_URL``), as a scaled-out deployment runs them."""
    from server.app import create_app
    from server.auth.models import Role
    from server.core.city import load_city
    from server.core.migrate import upgrade

    # Started at any hour, the run is a working morning: technicians on shift from 08:00 for nine hours.
    settings = bench_settings(base, "live", database_url=base.database_url, dispatch_background=True,
                              dispatch_watch_interval_s=0.05, dispatch_coalesce_s=1.0, dispatch_replan_time_s=2.0,
                              timezone=zone_at_local_hour(9))
    echo(f"Time zone {settings.timezone} (it is {datetime.now(ZoneInfo(settings.timezone)):%H:%M} there)")
    upgrade(settings)
    city = load_city(settings)
    rng = random.Random(seed)
    places = _places(city, technicians + jobs + urgent, seed)
    start, end, lunch = bench_shift(datetime.now(ZoneInfo(settings.timezone)))
    app = create_app(settings)
    create_bench_users(app, (Role.dispatcher, Role.agent))
    workers = CeleryWorkers(settings, celery_workers, echo) if celery_workers else None
    try:
        return _run_day(settings=settings, app=app, city=city, rng=rng, places=places, start=start, end=end,
                        lunch=lunch, technicians=technicians, jobs=jobs, urgent=urgent, previews=previews,
                        solve_s=solve_s, echo=echo, celery_workers=celery_workers)
    finally:
        if workers is not None:
            workers.stop()


def _run_day(*, settings: Settings, app: Any, city: Any, rng: random.Random, places: list[tuple[float, float]],
             start: dtime, end: dtime, lunch: Any, technicians: int, jobs: int, urgent: int, previews: int,
             solve_s: float, echo: Any, celery_workers: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from server.conversations.models import DeliveryStatus, Direction, Message
    from server.dispatch import service
    from server.jobs.models import Job, JobReport
    from server.technicians.models import Technician

    tz = ZoneInfo(settings.timezone)
    # Process warm-up, before anything is timed: the triage model is trained once per process on first use (~3.7 s
    # CPU). Left to the server's background loops it lands in the urgent phase and holds the interpreter while the
    # first urgent job is placed (sampled: the appointments sweep's first look at new jobs).
    from server.triage.service import load_taxonomy

    load_taxonomy(settings.taxonomy_path)
    with Session(app.state.engine) as session:
        for i in range(technicians):
            lat, lon = places[i]
            skills = {SKILLS[i % len(SKILLS)]: 3, SKILLS[(i + 2) % len(SKILLS)]: 2, "general": 2}
            session.add(Technician(name=f"{rng.choice(['Ana', 'Ben', 'Caro', 'Dev', 'Eli', 'Fay'])} Tech{i}",
                                   skills=skills, home_lat=lat, home_lon=lon, shift_start=start, shift_end=end,
                                   overtime_allowed_min=60, breaks=lunch))
        session.commit()
    with TestClient(app) as client:
        dispatcher, agent = login(client, "bench-dispatcher"), login(client, "bench-agent")

        def new_job(k: int, lat: float, lon: float, priority: int) -> tuple[int, int]:
            msg = client.post("/conversations/inbound", headers=agent, json={
                "channel": "sms", "external_id": f"bench-{k}", "author_handle": f"+1410555{k:04d}",
                "author_name": "Bench Reporter", "text": f"Problem #{k} on my street", "lat": lat, "lon": lon}).json()
            due = datetime.now(tz) + timedelta(hours=rng.uniform(2, 8))
            body = {"title": f"Complaint {k}", "category": "general", "priority": priority,
                    "required_skills": {rng.choice(SKILLS): 1}, "duration_min": rng.choice([20, 30, 45]),
                    "lat": lat, "lon": lon, "sla_due_at": due.isoformat()}
            with Session(app.state.engine) as session:  # job and its reporter in one transaction (like intake)
                job = Job.model_validate(body)
                session.add(job)
                session.flush()
                session.add(JobReport(job_id=job.id or 0, customer_id=msg["customer_id"], message_id=msg["id"],
                                      channel="sms"))
                session.commit()
                return job.id or 0, msg["conversation_id"]

        echo(f"Creating {technicians} technicians and {jobs} jobs on the demo city ...")
        for k in range(jobs):
            lat, lon = places[technicians + k]
            new_job(k, lat, lon, rng.randint(2, 7))
        time.sleep(0.3)  # the watcher sees them before the morning plan
        t0, cpu0 = time.perf_counter(), time.process_time()
        with Session(app.state.engine) as session:
            solve, _ = service.request_solve(session=session, engine=app.state.engine, settings=settings,
                                             trigger="morning", time_limit_s=solve_s, coalesce=False)
        while client.get(f"/dispatch/solves/{solve.id}", headers=dispatcher).json()["status"] in ("queued", "running"):
            time.sleep(0.1)
        morning_s, morning_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        done = client.get(f"/dispatch/solves/{solve.id}", headers=dispatcher).json()
        if done["status"] != "succeeded":
            raise SystemExit(f"the morning plan did not succeed ({done['status']}): {done.get('error') or done}")
        plan = client.get("/plans/current", headers=dispatcher).json()
        echo(f"Morning plan v{plan['version']}: {len(plan['stops'])} stops, {len(plan['unassigned'])} unassigned, "
             f"{morning_s:.1f} s")

        latencies, assigned = [], 0
        cpu_urgent = time.process_time()
        for u in range(urgent):
            lat, lon = places[technicians + jobs + u]
            arrived = time.perf_counter()
            job_id, conversation_id = new_job(10_000 + u, lat, lon, 9)
            deadline = arrived + 15
            while time.perf_counter() < deadline:
                with Session(app.state.engine) as session:
                    sent = session.exec(select(Message).where(
                        Message.conversation_id == conversation_id, Message.direction == Direction.outbound,
                        col(Message.delivery_status).in_((DeliveryStatus.sent, DeliveryStatus.recorded)))).first()
                if sent is not None:
                    latencies.append((time.perf_counter() - arrived) * 1000)
                    assigned += 1
                    echo(f"  urgent job {job_id}: “{sent.text}” after {latencies[-1]:.0f} ms")
                    break
                time.sleep(0.02)
            else:
                echo(f"  urgent job {job_id}: no notice within 15 s "
                     f"({client.get(f'/jobs/{job_id}', headers=dispatcher).json()['status']})")
            time.sleep(2.5)  # let the coalesced re-plan after each insert finish, as between real arrivals

        cpu_urgent = time.process_time() - cpu_urgent
        preview_ms = []
        open_jobs = client.get("/jobs?status=assigned&limit=500", headers=dispatcher).json()["items"]
        techs = client.get("/technicians?limit=500", headers=dispatcher).json()["items"]
        cpu_previews = time.process_time()
        for _ in range(previews):
            job = rng.choice(open_jobs)
            capable = [t for t in techs if all(t["skills"].get(s, 0) >= v for s, v in job["required_skills"].items())
                       and t["id"] != job["assigned_technician_id"]]
            if not capable:
                continue
            t1 = time.perf_counter()
            r = client.post("/dispatch/overrides/preview", headers=dispatcher, json={
                "action": "assign", "job_id": job["id"], "technician_id": rng.choice(capable)["id"]})
            preview_ms.append((time.perf_counter() - t1) * 1000)
            assert r.status_code == 200, r.text
        cpu_previews = time.process_time() - cpu_previews
    return {
        "benchmark": "dispatch_live", "technicians": technicians, "jobs": jobs, "city": "demo (Baltimore central)",
        "timezone": settings.timezone, "shift": f"{start:%H:%M}-{end:%H:%M}",
        "solves_on": f"Celery, {celery_workers} pool processes" if celery_workers else "this process",
        "morning_plan_s": round(morning_s, 2), "morning_unassigned": len(plan["unassigned"]),
        "urgent_jobs": urgent, "urgent_notified": assigned,
        "urgent_to_customer_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                                  "max": round(max(latencies), 1),
                                  "mean": round(statistics.fmean(latencies), 1)} if latencies else None,
        "override_preview_ms": {"n": len(preview_ms), "p50": percentile(preview_ms, 0.5),
                                "p95": percentile(preview_ms, 0.95),
                                "max": round(max(preview_ms), 1)} if preview_ms else None,
        # This process's CPU seconds per phase (all its threads: the watcher, solves, the API): on a shared,
        # loaded machine wall time also counts other people's work.
        "cpu_s": {"morning_plan": round(morning_cpu_s, 2), "urgent_phase": round(cpu_urgent, 2),
                  "urgent_phase_waits_s": round(2.5 * urgent, 1), "previews": round(cpu_previews, 2),
                  "per_preview_ms": round(cpu_previews * 1000 / max(1, len(preview_ms)), 1)},
        "load_average": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(),
        "targets": {"urgent_to_customer_ms": 2000, "override_preview_ms": 300},
    }


def plan_morning(*, engine: Any, settings: Settings, solve_s: float) -> int:
    """Plan the bench's day the way the server does (a morning solve job, run here to its end); the stored plan's
    id. Exits when the day cannot be planned (the log says why)."""
    import uuid

    from server.dispatch import service as dispatch
    from server.dispatch.models import SolveJob

    with Session(engine) as session:
        solve = SolveJob(id=uuid.uuid4().hex, trigger="morning", time_limit_s=solve_s, requested_by="bench")
        session.add(solve)
        session.commit()
        solve_id = solve.id
    plan_id = dispatch.run_solve_job(engine=engine, settings=settings, solve_job_id=solve_id)
    if plan_id is None:
        raise SystemExit("the day could not be planned (see the log)")
    return plan_id
