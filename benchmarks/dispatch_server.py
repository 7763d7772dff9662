"""The dispatch day through the server (``groundcrew bench dispatch --via-server``), beside a direct solve.

The same day is planned two ways, step by step, paired in one run:

- **server**: as a deployment runs it. A real app on a throwaway SQLite database; technicians and jobs created over
  the API; ``POST /dispatch/solves`` with the step's time limit; the plan the planning service stored read back.
- **direct**: ``routing.solve`` of the very problem the service built for that solve (its snapshot), with the same
  time limit, the same seed and, for a re-plan, the same previous plan, in a clean single-threaded process with
  the compiled kernels loaded (as ``groundcrew bench dispatch`` runs it).

Both plans are re-timed on that problem and scored with ``routing.schedule.evaluate``; a re-plan's score adds the
disruption cost (``Weights.disruption`` per job moved to another technician than in the previous plan), the term
the solver itself weighs. Steps: the morning plan, then re-plans after jobs are added, after a technician reports
running 90 min late, after another goes off sick.

Days: the demo day (``groundcrew bench live``'s set-up on the demo city: real 311 places, real streets) and the
dispatch-day benchmark's day (``benchmarks/dispatch_day.py``: the same technicians, jobs, windows and SLAs as
``groundcrew bench dispatch`` draws for the seed).

The deployment's time zone is set so that the run starts at about 05:00 local: the 08:00-17:00 day is all ahead
(a morning plan) whatever the hour, and the problem does not move with the clock between the two solves.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

import routing
from routing.plan import Unassigned
from routing.schedule import Infeasible, evaluate, timeline
from server.dispatch.bench import zone_at_local_hour

H = 3600
#: The issue's bar: the server's plan within this much (%) of a direct solve of the same length.
TARGET_GAP_PCT = 1.0
TERMINAL = ("succeeded", "failed", "cancelled")


def early_morning_timezone(local_hour: int = 5, now: datetime | None = None) -> str:
    """An IANA zone where it is now about ``local_hour`` o'clock (so the 08:00-17:00 day is all ahead)."""
    return zone_at_local_hour(local_hour, now)


@dataclass
class Day:
    """A day as API bodies: ``POST /technicians``, ``POST /jobs`` before the morning plan and before the first
    re-plan."""

    name: str
    osm: Path
    technicians: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    extra_jobs: list[dict[str, Any]] = field(default_factory=list)


def _clock(tz: str) -> Callable[[float], str]:
    """Seconds from today's local midnight in ``tz`` -> aware ISO time."""
    zone = ZoneInfo(tz)
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return lambda seconds: (midnight + timedelta(seconds=int(seconds))).isoformat()


def demo_day(city: Any, technicians: int, jobs: int, extra: int, seed: int, tz: str) -> Day:
    """``groundcrew bench live``'s day on the demo city (its places, skills and job mix), on an 08:00-17:00 shift
    with a 30 min lunch between 11:30 and 14:30; SLA deadlines 2-8 h into the day."""
    from server.config import DEMO_OSM_FILE
    from server.dispatch.bench import SKILLS, _places

    at = _clock(tz)
    rng = random.Random(seed)
    places = _places(city, technicians + jobs + extra, seed)
    techs = []
    for i in range(technicians):
        lat, lon = places[i]
        techs.append({"name": f"Tech {i + 1}", "home_lat": lat, "home_lon": lon,
                      "skills": {SKILLS[i % len(SKILLS)]: 3, SKILLS[(i + 2) % len(SKILLS)]: 2, "general": 2},
                      "shift_start": "08:00", "shift_end": "17:00", "overtime_allowed_min": 60,
                      "breaks": [{"earliest": "11:30", "latest": "14:00", "duration_min": 30}]})

    def job(k: int, lat: float, lon: float) -> dict[str, Any]:
        return {"title": f"Complaint {k}", "category": "general", "priority": rng.randint(2, 7),
                "required_skills": {rng.choice(SKILLS): 1}, "duration_min": rng.choice([20, 30, 45]),
                "lat": lat, "lon": lon, "sla_due_at": at(8 * H + rng.uniform(2, 8) * H)}

    bodies = [job(k, *places[technicians + k]) for k in range(jobs + extra)]
    return Day("demo", DEMO_OSM_FILE, techs, bodies[:jobs], bodies[jobs:])


def benchmark_day(osm: Path, complaints: Path, city: Any, technicians: int, extra: int, seed: int, tz: str) -> Day:
    """The day ``groundcrew bench dispatch --osm OSM --complaints CSV --technicians N --seed S`` solves (same
    complaints, homes, skills, windows, priorities and SLAs), plus ``extra`` jobs drawn the same way for a re-plan."""
    from benchmarks.dispatch_day import _complaints, make_problem

    at = _clock(tz)
    rng = np.random.default_rng(seed)
    n_jobs = technicians * 8
    # The same draws as dispatch_day.run: the complaints' order comes from one permutation, so asking for more
    # rows keeps the day's rows first; the problem's draws follow.
    rows = _complaints(Path(complaints), city.network, n_jobs + technicians + extra, rng)
    homes, day_rows, more = rows[:technicians], rows[technicians:technicians + n_jobs], rows[technicians + n_jobs:]
    def zeros(n: int) -> np.ndarray:  # make_problem only checks the matrix's size; the server builds its own
        return np.zeros((technicians + n, technicians + n), dtype=np.int64)

    problem = make_problem([], [c for _, _, c in day_rows], zeros(len(day_rows)), None, technicians, rng)
    added = _more_jobs(problem, [c for _, _, c in more], np.random.default_rng(seed + 1))
    techs = []
    for t, (lat, lon, _) in zip(problem.technicians, homes, strict=True):
        assert len(t.breaks) == 1
        b = t.breaks[0]
        techs.append({"name": t.id, "home_lat": lat, "home_lon": lon,
                      "skills": {s: int(v) for s, v in t.skills.items()},
                      "shift_start": f"{t.shift_start_s // H:02d}:{t.shift_start_s % H // 60:02d}",
                      "shift_end": f"{t.shift_end_s // H:02d}:{t.shift_end_s % H // 60:02d}",
                      "overtime_allowed_min": t.max_overtime_s // 60,
                      "breaks": [{"earliest": _hhmm(b.earliest_start_s), "latest": _hhmm(b.latest_end_s - b.duration_s),
                                  "duration_min": b.duration_s // 60}]})

    def body(job: routing.Job, lat: float, lon: float) -> dict[str, Any]:
        skills = {s: int(v) for s, v in job.required_skills.items()}
        return {"title": job.id, "category": next(iter(skills), "general")[:60], "priority": int(job.priority),
                "required_skills": skills, "duration_min": job.duration_s // 60, "lat": lat, "lon": lon,
                "time_windows": [{"start": at(w.start_s), "end": at(w.end_s)} for w in job.time_windows],
                "sla_due_at": at(job.sla_deadline_s) if job.sla_deadline_s is not None else None}

    return Day("dispatch-day", Path(osm), techs,
               [body(j, lat, lon) for j, (lat, lon, _) in zip(problem.jobs, day_rows, strict=True)],
               [body(j, lat, lon) for j, (lat, lon, _) in zip(added, more, strict=True)])


def _more_jobs(day: routing.Problem, cats: list[str], rng: np.random.Generator) -> list[routing.Job]:
    """Jobs drawn as ``dispatch_day.make_problem`` draws them, for the complaints ``cats``, needing a skill of the
    day: the category's when a technician has it, else one a technician has."""
    known = sorted({s for t in day.technicians for s in t.skills})
    jobs = []
    for i, c in enumerate(cats):
        skill = c if c in known else str(rng.choice(known))
        prio = int(rng.choice([2, 3, 5, 5, 6, 7, 8, 9, 10]))
        r = rng.random()
        tws = ([routing.TimeWindow(8 * H, 12 * H)] if r < 0.25 else [routing.TimeWindow(13 * H, 17 * H)] if r < 0.4
               else [routing.TimeWindow(8 * H, 10 * H), routing.TimeWindow(14 * H, 16 * H)] if r < 0.5 else [])
        sla = 8 * H + int((12 - prio) * 0.75 * H) if prio >= 6 else None
        jobs.append(routing.Job(f"N{i + 1}", 0, int(rng.integers(2, 7)) * 600, time_windows=tws,
                                required_skills={skill: 1}, priority=prio, sla_deadline_s=sla))
    return jobs


def _hhmm(seconds: int) -> str:
    return f"{seconds // H:02d}:{seconds % H // 60:02d}"


# --- the direct solve: a clean process, as a benchmark runs routing.solve -------------------------------------------

def _direct_loop(conn: Any) -> None:
    routing.warm_up()
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        problem, limit, seed, warm = msg
        t0 = time.monotonic()
        plan = routing.solve(problem, time_limit_s=limit, seed=seed, warm_start=warm)
        conn.send((plan, time.monotonic() - t0))


class DirectSolver:
    """``routing.solve`` in a spawned single-threaded process with the compiled kernels loaded: the portfolio forks
    its workers there, exactly as in ``groundcrew bench dispatch`` (a threaded process such as a server cannot)."""

    def __enter__(self) -> DirectSolver:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_direct_loop, args=(child,), name="groundcrew-bench-direct")
        self.proc.start()
        if self.conn.recv() != "ready":
            raise RuntimeError("the direct solver process did not start")
        return self

    def solve(self, problem: routing.Problem, limit: float, seed: int,
              warm: routing.Plan | None) -> tuple[routing.Plan, float]:
        self.conn.send((problem, limit, seed, warm))
        return self.conn.recv()

    def __exit__(self, *exc: object) -> None:
        with suppress(OSError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


# --- what the server does, timed --------------------------------------------------------------------------------------

class Probe:
    """Records, for the solve running in the planning service, the snapshot and previous plan it used, and times
    its parts: snapshot building, the previous plan, the optimizer call, the cancel poll and progress writes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.snapshot: Any = None
        self.warm: routing.Plan | None = None
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def _timed(self, name: str, fn: Callable[..., Any], keep: Callable[[Any], None] | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
                self.calls[name] = self.calls.get(name, 0) + 1
            if keep is not None:
                keep(out)
            return out
        return wrapper

    @contextmanager
    def installed(self) -> Iterator[Probe]:
        from server.dispatch import service

        def keep_snapshot(out: Any) -> None:
            self.snapshot = out

        def keep_warm(out: Any) -> None:
            self.warm = out

        watch = service._SolveWatch
        saved = {"build_snapshot": service.build_snapshot, "previous_solution": service.previous_solution,
                 "_optimize": service._optimize, "run_solve_job": service.run_solve_job}
        saved_watch = {"should_stop": watch.should_stop, "flush": watch.flush}
        service.build_snapshot = self._timed("snapshot_s", saved["build_snapshot"], keep_snapshot)
        service.previous_solution = self._timed("previous_plan_s", saved["previous_solution"], keep_warm)
        service._optimize = self._timed("optimize_s", saved["_optimize"])
        service.run_solve_job = self._timed("solve_job_s", saved["run_solve_job"])
        watch.should_stop = self._timed("cancel_polls_s", saved_watch["should_stop"])  # type: ignore[method-assign]
        watch.flush = self._timed("progress_writes_s", saved_watch["flush"])  # type: ignore[method-assign]
        try:
            yield self
        finally:
            for name, fn in saved.items():
                setattr(service, name, fn)
            for name, fn in saved_watch.items():
                setattr(watch, name, fn)


def score(problem: routing.Problem, plan: routing.Plan, previous: routing.Plan | None) -> dict[str, Any]:
    """The plan's routes re-timed on ``problem`` and evaluated; ``cost`` adds the disruption cost of the jobs moved
    to another technician than in ``previous``."""
    techs = {t.id: t for t in problem.technicians}
    routes, broken, served = [], 0, set()
    for r in plan.routes:
        ids = [s.job_id for s in r.stops]
        served.update(ids)
        try:
            routes.append(timeline(problem, techs[r.technician_id], ids))
        except (Infeasible, KeyError):
            broken += 1
    timed = routing.Plan(routes=routes, unassigned=[Unassigned(j.id, "") for j in problem.jobs if j.id not in served])
    ob = evaluate(problem, timed)
    moved = 0
    if previous is not None:
        owner = {j: t for t, js in timed.assignment().items() for j in js}
        moved = sum(1 for t, js in previous.assignment().items() for j in js if owner.get(j, t) != t)
    return {"cost": ob.cost + problem.weights.disruption * moved, "route_cost": ob.cost, "moved": moved,
            "unassigned": ob.jobs_unassigned, "travel_s": ob.travel_s, "sla_lateness_s": ob.sla_lateness_s,
            "overtime_s": ob.overtime_s, "infeasible": broken + len(routing.check_feasibility(problem, timed))}


def gap_pct(server: dict[str, Any], direct: dict[str, Any]) -> float | None:
    """(server - direct) / direct cost in %, when both serve the same number of jobs (else None: not comparable)."""
    if server["unassigned"] != direct["unassigned"] or not direct["cost"]:
        return None
    return round(100 * (server["cost"] - direct["cost"]) / direct["cost"], 2)


def _search_phase(plan: routing.Plan) -> dict[str, Any] | None:
    """The best trajectory's last search phase (its seconds and iterations): how much searching the plan had."""
    phases = [p for p in (plan.stats.phases if plan.stats else []) if "iterations" in p]
    return {k: phases[-1].get(k) for k in ("phase", "s", "iterations")} if phases else None


def verdict(server: dict[str, Any], direct: dict[str, Any]) -> str:
    """'better', 'equal' or 'worse' for the server: fewer jobs left out first, then cost."""
    a, b = (server["unassigned"], server["cost"]), (direct["unassigned"], direct["cost"])
    return "better" if a < b else "equal" if a == b else "worse"


def run_day(day: Day, *, base: Any, tz: str, time_limit: float, replan_time_limit: float, direct: DirectSolver,
            echo: Callable[[str], None], repeat_direct: bool = False) -> dict[str, Any]:
    """The morning plan and three re-plans of ``day`` through the planning service, each beside a direct solve."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session, select

    from server.app import create_app
    from server.auth.models import Role
    from server.core.migrate import upgrade
    from server.dispatch.bench import bench_settings, create_bench_users, login
    from server.plans.models import PlanSolution

    settings = bench_settings(base, "server", osm_source=day.osm, timezone=tz, dispatch_background=False,
                              dispatch_auto_replan=False, dispatch_coalesce_s=0.0)
    upgrade(settings)
    app = create_app(settings)
    create_bench_users(app, (Role.dispatcher,))
    probe = Probe()
    steps: list[dict[str, Any]] = []
    with TestClient(app) as client, probe.installed():
        headers = login(client, "bench-dispatcher")

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            reply = client.post(path, headers=headers, json=body)
            if reply.status_code >= 300:
                raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text}")
            return reply.json()

        tech_ids = [post("/technicians", body)["id"] for body in day.technicians]
        for body in day.jobs:
            post("/jobs", body)
        warm_server()

        def step(name: str, limit: float) -> routing.Plan:
            probe.reset()
            t0 = time.perf_counter()
            solve_id = post("/dispatch/solves", {"trigger": name[:60], "time_limit_s": limit})["id"]
            while (row := client.get(f"/dispatch/solves/{solve_id}", headers=headers).json())["status"] \
                    not in TERMINAL:
                time.sleep(0.1)
            wall = time.perf_counter() - t0
            if row["status"] != "succeeded":
                raise RuntimeError(f"{day.name} {name}: the solve {row['status']}: {row.get('error')}")
            with Session(app.state.engine) as session:
                stored = session.exec(select(PlanSolution).where(PlanSolution.solve_job_id == solve_id)).one()
                plan = routing.Plan.from_dict(stored.solution)
            problem, warm = probe.snapshot.problem, probe.warm
            seed = plan.stats.seed if plan.stats else 1
            direct_plan, direct_s = direct.solve(problem, limit, seed, warm)
            server_score, direct_score = score(problem, plan, warm), score(problem, direct_plan, warm)
            # The same direct solve again: how far two runs of one solve differ (the search is timed, so runs differ).
            again = score(problem, direct.solve(problem, limit, seed, warm)[0], warm) if repeat_direct else None
            profile = {k: round(v, 3) for k, v in probe.seconds.items()}
            profile.update({f"{k}_calls": v for k, v in probe.calls.items() if k.endswith(("polls_s", "writes_s"))})
            profile.update({"request_to_done_s": round(wall, 3),
                            "optimizer_wall_s": plan.stats.wall_time_s if plan.stats else None,
                            "direct_optimizer_wall_s": round(direct_s, 3),
                            "server_status": plan.stats.status if plan.stats else None,
                            "server_search": _search_phase(plan), "direct_search": _search_phase(direct_plan)})
            result = {"step": name, "time_limit_s": limit, "seed": seed, "jobs": len(problem.jobs),
                      "technicians": len(problem.technicians), "server": server_score, "direct": direct_score,
                      "gap_pct": gap_pct(server_score, direct_score), "verdict": verdict(server_score, direct_score),
                      "profile": profile}
            if again is not None:
                result.update({"direct_again": again, "direct_again_gap_pct": gap_pct(again, direct_score)})
            steps.append(result)
            gap = result["gap_pct"]
            echo(f"  {day.name:12} {name:22} {limit:5.1f}s  server {server_score['cost']:>9,} "
                 f"({server_score['unassigned']} unassigned, {server_score['moved']} moved)  direct "
                 f"{direct_score['cost']:>9,} ({direct_score['unassigned']}, {direct_score['moved']})  gap "
                 f"{'n/a' if gap is None else f'{gap:+.2f}%'} ({result['verdict']})"
                 f"{'' if again is None else '  direct again ' + format(again['cost'], ',')}"
                 f"  [snapshot {profile.get('snapshot_s', 0):.2f}s, "
                 f"request->plan {wall:.2f}s]")
            return plan

        morning = step("morning plan", time_limit)
        busiest = sorted(morning.routes, key=lambda r: -len(r.stops))
        if day.extra_jobs:
            for body in day.extra_jobs:
                post("/jobs", body)
            step(f"+{len(day.extra_jobs)} jobs", replan_time_limit)
        late, sick = (int(r.technician_id[1:]) for r in (busiest + busiest)[:2])
        assert late in tech_ids and sick in tech_ids
        post(f"/technicians/{late}/dispatch-status", {"status": "running_late", "late_min": 90})
        step("technician 90 min late", replan_time_limit)
        if len(tech_ids) > 1:
            post(f"/technicians/{sick}/dispatch-status", {"status": "off_sick"})
            step("technician off sick", replan_time_limit)
    return {"day": day.name, "osm": str(day.osm), "technicians": len(day.technicians), "jobs": len(day.jobs),
            "jobs_added": len(day.extra_jobs), "steps": steps}


def warm_server() -> None:
    """What a running server has after its first solve: the compiled kernels loaded, and (a server is threaded)
    the forkserver its solves' worker processes come from started with them; not part of any timed step."""
    tiny = routing.Problem([routing.Technician("t", 0, 3600, 0)], [routing.Job("j", 1, 60)],
                           np.array([[0, 60], [60, 0]]))
    routing.warm_up()
    routing.solve(tiny, time_limit_s=0.5, should_stop=lambda: False)


def run(*, osm: Path | None, complaints: Path | None, technicians: int, time_limit: float,
        replan_time_limit: float, seed: int, base: Any, echo: Callable[[str], None],
        repeat_direct: bool = False) -> dict[str, Any]:
    """The demo day and (given ``osm`` and ``complaints``) the dispatch-day benchmark's day, each planned through
    the server and directly, step by step; the summary has every step's costs and gap. ``repeat_direct``: each
    direct solve twice, to show how much two runs of the same solve differ."""
    from server.core.city import load_city

    tz = early_morning_timezone()
    extra = max(2, technicians)
    days = []
    demo_settings = base.model_copy(update={"timezone": tz})
    echo(f"Loading the demo city; time zone {tz} (it is {datetime.now(ZoneInfo(tz)):%H:%M} there) ...")
    days.append(demo_day(load_city(demo_settings), technicians, technicians * 8, extra, seed, tz))
    if osm is not None and complaints is not None:
        echo(f"Loading {osm} ...")
        city = load_city(base.model_copy(update={"osm_source": Path(osm)}))
        days.append(benchmark_day(osm, complaints, city, technicians, extra, seed, tz))
    out: dict[str, Any] = {"benchmark": "dispatch_via_server", "seed": seed, "time_limit_s": time_limit,
                           "replan_time_limit_s": replan_time_limit, "target_gap_pct": TARGET_GAP_PCT, "days": []}
    with DirectSolver() as direct:
        for day in days:
            echo(f"{day.name}: {len(day.technicians)} technicians, {len(day.jobs)} jobs "
                 f"(+{len(day.extra_jobs)} before the first re-plan)")
            out["days"].append(run_day(day, base=base, tz=tz, time_limit=time_limit,
                                       replan_time_limit=replan_time_limit, direct=direct, echo=echo,
                                       repeat_direct=repeat_direct))
    gaps = [s["gap_pct"] for d in out["days"] for s in d["steps"]]
    comparable = [g for g in gaps if g is not None]
    out["gaps_pct"] = {d["day"]: {s["step"]: s["gap_pct"] for s in d["steps"]} for d in out["days"]}
    out["max_gap_pct"] = max(comparable) if comparable else None
    out["mean_gap_pct"] = round(sum(comparable) / len(comparable), 2) if comparable else None
    out["steps_not_comparable"] = len(gaps) - len(comparable)
    steps = [s for d in out["days"] for s in d["steps"]]
    out["verdicts"] = {v: sum(1 for s in steps if s["verdict"] == v) for v in ("better", "equal", "worse")}
    # Within target: no step leaves out more jobs than the direct solve, and none costs more than 1% more.
    out["within_target"] = all(s["verdict"] != "worse" or (s["gap_pct"] is not None and s["gap_pct"] <= TARGET_GAP_PCT)
                               for s in steps)
    if repeat_direct:
        noise = [s["direct_again_gap_pct"] for s in steps if s["direct_again_gap_pct"] is not None]
        out["direct_again_max_abs_gap_pct"] = max((abs(g) for g in noise), default=None)
    return out
