"""Load benchmark: start Groundcrew on loopback (SQLite or a throwaway PostgreSQL database, N uvicorn worker
processes), seed users, 500 technicians with a job each and some complaints, run locust headless for a bounded
time with the realistic mix of locustfile.py, and print req/s, p50, p99 and errors (last line: JSON).

    python -m benchmarks.load.run --db sqlite --processes 1 --seconds 60
    python -m benchmarks.load.run --db postgres --processes 2 --seconds 60

A benchmark, not a test: nothing here runs in ``make test``."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "load-secret-" + "s" * 32
CENTER = (39.2850, -76.5900)  # Canton / Fells Point, inside the demo map


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL whatever is left after 20 s."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    time.sleep(1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def prepare(url: str, data_dir: Path, technicians: int, jobs_extra: int) -> dict:
    """Migrate, then write users, technicians (each with a user and an assigned job) and unassigned jobs."""
    from sqlmodel import Session, create_engine

    from server.auth import service as auth_service
    from server.auth.models import Role, User
    from server.config import Settings
    from server.core.migrate import upgrade
    from server.jobs.models import Job
    from server.technicians.models import Technician

    settings = Settings(database_url=url, data_dir=data_dir, secret_key=SECRET, load_city=False)
    upgrade(settings)
    engine = create_engine(url)
    rng = random.Random(7)
    password_hash = auth_service.hash_password("load-password-1")
    world: dict = {"technicians": [], "job_ids": []}
    today = datetime.now(UTC).date().isoformat()  # the jobs are today's work, whatever day the benchmark runs
    window = [{"start": f"{today}T13:00:00Z", "end": f"{today}T22:00:00Z"}]
    with Session(engine) as session:
        staff = {}
        for role in (Role.admin, Role.dispatcher, Role.agent):
            user = User(username=f"load-{role.value}", role=role, password_hash=password_hash)
            session.add(user)
            staff[role] = user
        techs = []
        for i in range(technicians):
            lat, lon = CENTER[0] + rng.uniform(-0.02, 0.02), CENTER[1] + rng.uniform(-0.03, 0.03)
            tech = Technician(name=f"Tech {i:03d}", skills={"electrical": 2, "roads": 2}, home_lat=lat, home_lon=lon)
            session.add(tech)
            techs.append(tech)
        session.flush()
        tech_users = []
        for i, tech in enumerate(techs):
            user = User(username=f"tech{i:03d}", role=Role.technician, technician_id=tech.id,
                        password_hash=password_hash)
            session.add(user)
            tech_users.append(user)
            job = Job(title=f"Streetlight out #{i}", category="streetlight", required_skills={"electrical": 1},
                      duration_min=30, priority=rng.randint(3, 8), time_windows=window,
                      lat=tech.home_lat + 0.003, lon=tech.home_lon + 0.003, status="assigned",
                      assigned_technician_id=tech.id)
            session.add(job)
            tech_users[-1]._job = job  # type: ignore[attr-defined]
        for i in range(jobs_extra):
            session.add(Job(title=f"Pothole #{i}", category="pothole", required_skills={"roads": 1},
                            duration_min=45, priority=rng.randint(2, 9), time_windows=window,
                            lat=CENTER[0] + rng.uniform(-0.02, 0.02), lon=CENTER[1] + rng.uniform(-0.03, 0.03)))
        session.commit()
        for role, user in staff.items():
            session.refresh(user)
            world[f"{role.value}_token"] = auth_service.create_token(settings=settings, user=user)[0]
        for user, tech in zip(tech_users, techs, strict=True):
            session.refresh(user)
            job = user._job  # type: ignore[attr-defined]
            session.refresh(job)
            world["technicians"].append({"token": auth_service.create_token(settings=settings, user=user)[0],
                                         "job_id": job.id, "lat": tech.home_lat, "lon": tech.home_lon})
        world["job_ids"] = [j for (j,) in session.exec(  # type: ignore[misc]
            __import__("sqlalchemy").text("SELECT id FROM job")).all()]
    engine.dispose()
    return world


@contextlib.contextmanager
def throwaway_database(kind: str, work: Path, prefix: str = "gc_load") -> Iterator[str]:
    """A fresh database URL: a throwaway PostgreSQL database (dropped afterwards) or a SQLite file in ``work``."""
    if kind != "postgres":
        yield f"sqlite:///{work / 'load.db'}"
        return
    import psycopg

    dbname = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def start_server(url: str, work: Path, *, processes: int = 1, load_city: bool = False, cwd: Path = ROOT,
                 cpus: set[int] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn on a free loopback port in its own process group (so stopping it stops every worker); returns
    (process, base URL) once /health answers. ``cwd``: the source tree to serve (another checkout to compare);
    ``cpus``: the CPUs it may run on (all its threads and workers)."""
    work.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "GROUNDCREW_DATABASE_URL": url, "GROUNDCREW_DATA_DIR": str(work),
           "GROUNDCREW_SECRET_KEY": SECRET, "GROUNDCREW_LOAD_CITY": str(load_city).lower(),
           "GROUNDCREW_DISPATCH_BACKGROUND": "false", "GROUNDCREW_DISPATCH_MORNING_AT": "",
           "GROUNDCREW_LOG_LEVEL": "WARNING",
           # the simulated providers post unsigned tweets from one address, far above a real per-IP limit
           "GROUNDCREW_INSECURE_CHANNELS": "true", "GROUNDCREW_WEBHOOK_RATE_LIMIT": "",
           "GROUNDCREW_WEBFORM_RATE_LIMIT": "", "GROUNDCREW_OPEN311_RATE_LIMIT": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(processes), "--log-level", "warning", "--no-access-log",
         "--timeout-keep-alive", "75"],
        cwd=cwd, env=env, stdout=(work / "server.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop_group(server)
    raise SystemExit(f"server did not start: {(work / 'server.log').read_text()[-2000:]}")


def cpu_seconds(pid: int) -> tuple[float, int, str]:
    """(user + system CPU seconds so far, process group, command name) of a process, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[2]), name


def cpu_by_part(server_group: int, locust_group: int) -> dict[str, float]:
    """CPU seconds so far of the server's processes, locust's and PostgreSQL's (live processes only)."""
    parts = {"server": 0.0, "locust": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cpu, group, name = cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue
        part = ("server" if group == server_group else "locust" if group == locust_group
                else "postgres" if name.startswith("postgres") else None)
        if part:
            parts[part] += cpu
    return parts


def at_least(minimum: float, kind: type = int) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` no smaller than ``minimum`` (the option is named in the error)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is below the minimum {minimum:g}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--processes", type=at_least(1), default=1, help="uvicorn worker processes")
    parser.add_argument("--technicians", type=at_least(0), default=500, help="simulated technicians pinging every 30 s")
    parser.add_argument("--clients", type=at_least(0), default=140,
                        help="dispatcher/Open311/social clients (60/25/15 %%), each --client-rate requests/s")
    parser.add_argument("--client-rate", type=at_least(0.01, float), default=2.0)
    parser.add_argument("--seconds", type=at_least(1), default=60, help="measured run time (after a ramp-up)")
    parser.add_argument("--spawn-rate", type=at_least(0.1, float), default=100.0)
    parser.add_argument("--load-city", action="store_true",
                        help="load the street map (geotag inbound complaints on streets; slower intake)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gc-load-"))
    with throwaway_database(args.db, work) as url:
        t0 = time.monotonic()
        world = prepare(url, work, args.technicians, jobs_extra=200)
        world_file = work / "world.json"
        world_file.write_text(json.dumps(world))
        print(f"prepared {args.technicians} technicians and {len(world['job_ids'])} jobs in "
              f"{time.monotonic() - t0:.1f}s ({args.db})", flush=True)
        server, base = start_server(url, work, processes=args.processes, load_city=args.load_city)
        try:
            result = _drive(args, work, world_file, server, base)
        finally:
            _stop_group(server)
    print(json.dumps(result))
    return 0


class Probe(threading.Thread):
    """A second, independent client while locust runs: one keep-alive httpx connection asking for the dispatcher's
    job board ten times a second, at no particular phase. It once showed locust's figures at moderate load to be
    several times its own: locust's users were asking in lock-step bursts (see benchmarks/load/pacing.py) and
    measured the queue behind each burst. Printing both keeps the figures honest."""

    def __init__(self, base: str, token: str, path: str = "/jobs?limit=50", interval_s: float = 0.1) -> None:
        super().__init__(daemon=True, name="latency-probe")
        self.base, self.path, self.interval_s = base, path, interval_s
        self.headers = {"Authorization": f"Bearer {token}"}
        self.latencies_ms: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                t = time.perf_counter()
                try:
                    ok = client.get(self.path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies_ms.append((time.perf_counter() - t) * 1000)
                self.errors += not ok
                self.stop.wait(self.interval_s)

    def summary(self) -> dict:
        from server.dispatch.bench import percentile

        ms = self.latencies_ms
        if not ms:
            return {"path": self.path, "requests": 0}
        return {"path": self.path, "requests": len(ms), "errors": self.errors, "p50_ms": percentile(ms, 0.5),
                "p90_ms": percentile(ms, 0.9), "p99_ms": percentile(ms, 0.99)}


def _drive(args: argparse.Namespace, work: Path, world_file: Path, server: subprocess.Popen[bytes],
           base: str) -> dict:
    """Run locust against the server; print the table and where the CPU went; return the summary."""
    users = args.technicians + args.clients
    ramp = users / args.spawn_rate
    locust_env = {**os.environ, "GROUNDCREW_LOAD_WORLD": str(world_file),
                  "GROUNDCREW_LOAD_TECHNICIANS": str(args.technicians),
                  "GROUNDCREW_LOAD_CLIENT_RATE": str(args.client_rate)}
    cmd = [sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
           "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{int(args.seconds + ramp)}s",
           "--host", base, "--csv", str(work / "locust"), "--only-summary", "--reset-stats",
           "--stop-timeout", "5", "--loglevel", "WARNING"]
    print(f"locust: {users} users ({args.technicians} technicians, {args.clients} clients at "
          f"{args.client_rate}/s), {args.seconds}s measured after a {ramp:.0f}s ramp; server: {args.processes} "
          f"process(es) on {args.db}", flush=True)
    locust = subprocess.Popen(cmd, cwd=ROOT, env=locust_env, start_new_session=True)
    # Where the CPU goes (server processes, locust, PostgreSQL backends), over the measured part of the run.
    time.sleep(ramp)
    probe = Probe(base, json.loads(world_file.read_text())["dispatcher_token"])
    probe.start()
    before, t_before = cpu_by_part(server.pid, locust.pid), time.monotonic()
    time.sleep(max(1.0, args.seconds - 2))
    after, t_after = cpu_by_part(server.pid, locust.pid), time.monotonic()
    probe.stop.set()
    probe.join(timeout=35)
    locust.wait(timeout=args.seconds + ramp + 120)
    cores = {k: round((after[k] - before[k]) / (t_after - t_before), 2) for k in after}
    rows = list(csv.DictReader((work / "locust_stats.csv").open()))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    for row in rows:
        print(f"  {row['Name']:45} n={row['Request Count']:>7} fail={row['Failure Count']:>4} "
              f"rps={float(row['Requests/s']):7.1f} p50={row['50%']:>5}ms p99={row['99%']:>5}ms")
    print(f"  CPU cores used while measured: {cores}")
    probed = probe.summary()
    print(f"  independent probe (one httpx client, 10/s, GET {probed['path']}): {probed}")
    failures = (work / "locust_failures.csv").read_text() if (work / "locust_failures.csv").exists() else ""
    if failures.count("\n") > 1:
        print("failures:\n" + failures[:3000])
    return {"db": args.db, "processes": args.processes, "technicians": args.technicians,
            "clients": args.clients, "seconds": args.seconds, "requests": int(total["Request Count"]),
            "errors": int(total["Failure Count"]), "rps": round(float(total["Requests/s"]), 1),
            "p50_ms": float(total["50%"]), "p99_ms": float(total["99%"]), "load_city": args.load_city,
            "cpu_cores": cores, "probe": probed}


if __name__ == "__main__":
    raise SystemExit(main())
