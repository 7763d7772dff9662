"""A realistic dispatch day on a real street network: optimizer vs a greedy dispatcher.

Real 311 complaint locations (Baltimore sample) become jobs; their request type gives the skill;
priorities, time windows and SLAs are drawn with a seed; technicians start from spread-out
homes with 08:00-17:00 shifts, a 30 min lunch within 11:30-14:00 and up to 1 h overtime.
Travel times come from ``geodata`` (street network, car speeds). The greedy baseline is what a
dispatcher does by hand: take jobs by priority and give each to the nearest technician who can
still fit it at the end of their day. Both plans go through the feasibility checker.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from routing import (
    Break,
    Job,
    Plan,
    Problem,
    Technician,
    TimeWindow,
    Weights,
    check_feasibility,
    recommend,
    replan,
    solve,
)
from routing.live import Changes
from routing.plan import REASON_CAPACITY, Unassigned
from routing.schedule import Infeasible, evaluate, simulate, timeline

H = 3600


def _complaints(path: Path, network, n: int, rng: np.random.Generator) -> list[tuple[float, float, str]]:
    """``n`` random complaints inside the network's area and near a drivable street."""
    from geodata import GeodataError

    contains = network.contains
    rows = []
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            try:
                lat, lon = float(r["Latitude"]), float(r["Longitude"])
            except (KeyError, ValueError):
                continue
            if contains(lat, lon):
                rows.append((lat, lon, (r.get("SRType") or "GEN").split("-")[0].strip() or "GEN"))
    out = []
    for i in rng.permutation(len(rows)):
        try:
            network.snap(rows[i][0], rows[i][1])
        except GeodataError:
            continue
        out.append(rows[i])
        if len(out) == n:
            break
    return out


def make_problem(points: list[tuple[float, float]], cats: list[str], tt: np.ndarray, dm: np.ndarray | None,
                 technicians: int, rng: np.random.Generator) -> Problem:
    """Jobs at points[technicians:], homes at points[:technicians]."""
    top = [c for c, _ in sorted({c: cats.count(c) for c in cats}.items(), key=lambda kv: -kv[1])][:4]
    skill = {c: (c if c in top else "general") for c in cats}
    skills = sorted(set(skill.values()))
    techs = []
    for k in range(technicians):
        mine = {s: int(rng.integers(1, 4)) for s in rng.choice(skills, size=min(len(skills), 2), replace=False)}
        mine.setdefault(skills[k % len(skills)], 2)
        techs.append(Technician(f"T{k + 1}", 8 * H, 17 * H, k, skills=mine, max_overtime_s=H,
                                breaks=[Break(1800, 11 * H + 1800, 14 * H)]))
    jobs = []
    for i, c in enumerate(cats):
        prio = int(rng.choice([2, 3, 5, 5, 6, 7, 8, 9, 10]))
        r = rng.random()
        tws = ([TimeWindow(8 * H, 12 * H)] if r < 0.25 else [TimeWindow(13 * H, 17 * H)] if r < 0.4
               else [TimeWindow(8 * H, 10 * H), TimeWindow(14 * H, 16 * H)] if r < 0.5 else [])
        sla = 8 * H + int((12 - prio) * 0.75 * H) if prio >= 6 else None
        jobs.append(Job(f"J{i + 1}", technicians + i, int(rng.integers(2, 7)) * 600, time_windows=tws,
                        required_skills={skill[c]: 1}, priority=prio, sla_deadline_s=sla))
    # With few technicians a skill may have nobody: its jobs are then unassigned with that reason (not an error).
    return Problem(techs, jobs, tt, dm, Weights(), skill_catalog=skills)


def greedy(problem: Problem) -> Plan:
    """Nearest able technician who can still fit the job at the end of their day, by priority."""
    seqs: dict[str, list[str]] = {t.id: [] for t in problem.technicians}
    unassigned = []
    order = sorted(problem.jobs, key=lambda j: (-j.priority, j.time_windows[0].start_s if j.time_windows else 0))
    for job in order:
        best = None
        for t in problem.technicians:
            if not problem.can_do(t, job):
                continue
            here = problem.job(seqs[t.id][-1]).location if seqs[t.id] else t.depart_loc
            d = int(problem.travel_time_s[here, job.location])
            if best is not None and d >= best[0]:
                continue
            try:
                simulate(problem, t, [*seqs[t.id], job.id])
            except Infeasible:
                continue
            best = (d, t.id)
        if best is None:
            unassigned.append(Unassigned(job.id, REASON_CAPACITY))
        else:
            seqs[best[1]].append(job.id)
    plan = Plan(routes=[timeline(problem, t, seqs[t.id]) for t in problem.technicians], unassigned=unassigned)
    plan.objective = evaluate(problem, plan)
    return plan


def unavoidable_lateness_s(problem: Problem) -> int:
    """SLA lateness no plan can avoid: for each job with a deadline, the earliest any able technician could start
    it (leaving at their availability, driving straight there, waiting for its earliest window) past the deadline.

    A relaxation (no other jobs, breaks or shift ends), so a lower bound: a plan whose lateness equals it cannot
    trade any SLA lateness for travel, whatever the weights."""
    total = 0
    for job in problem.jobs:
        if job.sla_deadline_s is None:
            continue
        earliest = None
        for tech in problem.technicians:
            if not problem.can_do(tech, job):
                continue
            arrive = tech.available_from_s + int(problem.travel_time_s[tech.depart_loc, job.location])
            starts = [max(arrive, w.start_s) for w in job.time_windows if max(arrive, w.start_s) <= w.end_s] \
                if job.time_windows else [arrive]
            if starts:
                earliest = min(starts) if earliest is None else min(earliest, *starts)
        if earliest is not None:
            total += max(0, earliest - job.sla_deadline_s)
    return total


def _summary(problem: Problem, plan: Plan) -> dict:
    served = [s for r in plan.routes for s in r.stops]
    return {
        "jobs_served": len(served),
        "jobs_within_sla": sum(1 for s in served if s.late_s == 0),
        "high_priority_unserved": sum(1 for u in plan.unassigned if problem.job(u.job_id).priority >= 8),
        "travel_time_s": plan.objective.travel_s,
        "travel_per_served_job_s": round(plan.objective.travel_s / len(served)) if served else None,
        "sla_lateness_s": plan.objective.sla_lateness_s,
        "overtime_s": plan.objective.overtime_s,
        "infeasible": len(check_feasibility(problem, plan)),
    }


def run(osm: Path, complaints: Path, technicians: int, time_limit: float, seed: int = 0) -> dict:
    """Solve one synthetic-but-real day with the optimizer and the greedy dispatcher."""
    import tempfile

    from geodata import load_city

    rng = np.random.default_rng(seed)
    t0 = time.monotonic()
    city = load_city(Path(osm), Path(tempfile.gettempdir()) / "groundcrew-bench-cache", with_gazetteer=False)
    n_jobs = technicians * 8
    rows = _complaints(Path(complaints), city.network, n_jobs + technicians, rng)
    homes, jobs = rows[:technicians], rows[technicians:]
    points = [(lat, lon) for lat, lon, _ in homes + jobs]
    m = city.network.travel_time_matrix(points)
    big = 10 * H
    tt = np.where(np.isfinite(m.travel_time_s), np.rint(m.travel_time_s), big).astype(np.int64)
    dm = np.where(np.isfinite(m.distance_m), np.rint(m.distance_m), 0).astype(np.int64)
    problem = make_problem(points, [c for _, _, c in jobs], tt, dm, technicians, rng)
    setup = time.monotonic() - t0
    print(f"city + matrix ({len(points)} points): {setup:.1f}s", flush=True)
    g = greedy(problem)
    plan = solve(problem, time_limit_s=time_limit, seed=seed)
    res = {"jobs": len(problem.jobs), "technicians": technicians, "time_limit_s": time_limit,
           "optimizer": _summary(problem, plan), "greedy": _summary(problem, g)}
    gt, ot = res["greedy"]["travel_time_s"], res["optimizer"]["travel_time_s"]
    res["travel_reduction_pct"] = round(100 * (gt - ot) / gt, 1) if gt else None
    res["unavoidable_sla_lateness_s"] = unavoidable_lateness_s(problem)
    for k in ("optimizer", "greedy"):
        print(f"{k:10} {res[k]}", flush=True)
    return res


def live_latency(seed: int = 0, technicians: int = 20, jobs: int = 200, solve_s: float = 10.0,
                 replan_s: float = 3.0) -> dict:
    """recommend() and replan() timings on a synthetic 20-technician / 200-job city."""
    rng = np.random.default_rng(seed)
    n = technicians + jobs + 20
    xy = rng.uniform(0, 20000, size=(n, 2))  # metres
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    tt = np.rint(d / 8.0 * 1.3).astype(np.int64)  # ~29 km/h with detours
    p = make_problem([(0, 0)] * n, [str(c) for c in rng.choice(["A", "B", "C", "D"], size=jobs)], tt,
                     np.rint(d).astype(np.int64), technicians, rng)
    plan = solve(p, time_limit_s=solve_s, seed=seed)
    lat = []
    for k in range(20):
        job = Job(f"NEW{k}", technicians + jobs + k, 1800, required_skills={"general": 1}
                  if "general" in {s for t in p.technicians for s in t.skills} else {}, priority=7)
        t0 = time.perf_counter()
        recommend(p, plan, job, k=5)
        lat.append(1000 * (time.perf_counter() - t0))
    now = 11 * H
    t0 = time.monotonic()
    new = replan(p, plan, Changes(add_jobs=[Job("URG", technicians + jobs, 1800, priority=10)],
                                  cancel_job_ids=[p.jobs[0].id]), now, time_limit_s=replan_s)
    rt = time.monotonic() - t0
    before = plan.assignment()
    owner = {j: t for t, js in before.items() for j in js}
    moved = sum(1 for r in new.routes for j in r.job_ids if j in owner and owner[j] != r.technician_id)
    return {"recommend_ms_median": round(float(np.median(lat)), 1), "recommend_ms_max": round(max(lat), 1),
            "replan_time_limit_s": replan_s, "replan_wall_s": round(rt, 2), "replan_jobs_moved": moved,
            "served_before": plan.objective.jobs_served, "served_after": new.objective.jobs_served}


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("--osm", type=Path)
    ap.add_argument("--complaints", type=Path)
    ap.add_argument("--technicians", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--live", action="store_true", help="measure recommend/replan latency instead")
    a = ap.parse_args()
    out = live_latency(a.seed) if a.live else run(a.osm, a.complaints, a.technicians, a.time_limit, a.seed)
    print(json.dumps(out))
