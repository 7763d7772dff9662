"""Large service areas are split into dispatch regions (k-means on technicians' homes and job sites),
solved in parallel — as separate Celery tasks when scaled out, worker threads otherwise — and merged."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

import numpy as np

import routing
from routing import evaluate
from server.config import Settings
from server.core import tasks
from server.dispatch.problem import Snapshot

log = logging.getLogger("groundcrew.dispatch")


#: Regions solved at once in this process (without a broker).
LOCAL_WORKERS = 2
#: The least time a region is given here, seconds (a 250-job region's first solution and a little search).
MIN_REGION_S = 0.5
#: The Celery queue of regional solves (``server.workers.celery_app`` routes ``tasks.REGION`` there).
REGION_QUEUE = "groundcrew.regions"
#: How often a regional solve on Celery checks whether its tasks are back or it was stopped, seconds.
STOP_POLL_S = 0.2
#: How long the workers' answer about their pool processes is reused, seconds. Asking costs about 2 s (two
#: broadcasts, each waiting out its timeout for late replies), which a regional solve paid every time.
SLOTS_MAX_AGE_S = 30.0

#: The last answer: (time.monotonic() it was asked, {worker consuming REGION_QUEUE: its pool processes}).
_consumers_seen: tuple[float, dict[str, int]] | None = None
_consumers_lock = threading.Lock()


def wants_regions(settings: Settings, snapshot: Snapshot) -> bool:
    return settings.dispatch_regions > 1 or len(snapshot.problem.jobs) > settings.dispatch_region_max_jobs


def partition(settings: Settings, snapshot: Snapshot, keep: routing.Plan | None = None) -> list[routing.Problem]:
    """Sub-problems, one per region; every region has at least one technician. A job pinned to a technician, or
    planned for one in ``keep`` (the plan being re-planned), goes to that technician's region, so a re-plan can
    leave it where it is; the others go to the nearest region."""
    problem = snapshot.problem
    k = settings.dispatch_regions or math.ceil(len(problem.jobs) / settings.dispatch_region_max_jobs)
    k = max(1, min(k, len(problem.technicians)))
    coords = np.array(snapshot.coords, dtype=float)
    tech_xy = np.array([coords[t.start_location] for t in problem.technicians])
    job_xy = np.array([coords[j.location] for j in problem.jobs]) if problem.jobs else np.zeros((0, 2))
    order = np.argsort(tech_xy[:, 1] if np.ptp(tech_xy[:, 1]) > np.ptp(tech_xy[:, 0]) else tech_xy[:, 0])
    centroids = np.array([tech_xy[chunk].mean(axis=0) for chunk in np.array_split(order, k)])
    for _ in range(10):  # Lloyd iterations over technicians and jobs together
        points = np.vstack([tech_xy, job_xy])
        label = np.argmin(((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
        for c in range(k):
            if (label == c).any():
                centroids[c] = points[label == c].mean(axis=0)
    t_label = np.argmin(((tech_xy[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    alive = sorted(set(t_label.tolist()))
    j_label = np.array([alive[int(np.argmin(((centroids[alive] - xy) ** 2).sum(axis=1)))] for xy in job_xy],
                       dtype=int) if len(job_xy) else np.zeros(0, dtype=int)
    tech_region = {t.id: int(t_label[i]) for i, t in enumerate(problem.technicians)}
    planned_with = {j: t for t, seq in keep.assignment().items() if t in tech_region for j in seq} if keep else {}

    def region_of(i: int, job: routing.Job) -> int:
        owner = job.pinned_technician or planned_with.get(job.id)
        return tech_region[owner] if owner in tech_region else int(j_label[i])
    subs = []
    for c in alive:
        techs = [t for t in problem.technicians if tech_region[t.id] == c]
        jobs = [j for i, j in enumerate(problem.jobs) if region_of(i, j) == c]
        subs.append(_compact(problem, techs, jobs))
    return subs


def _region_plan(plan: routing.Plan | None, region: routing.Problem) -> dict | None:
    """``plan``'s routes of the region's technicians, as a task argument (a region's share of a warm start)."""
    if plan is None:
        return None
    techs = {t.id for t in region.technicians}
    return routing.Plan(routes=[r for r in plan.routes if r.technician_id in techs]).to_dict()


def _compact(problem: routing.Problem, techs: list[routing.Technician], jobs: list[routing.Job]) -> routing.Problem:
    """A region's problem over its own places only: the whole day's matrix went into every region before (5,500
    places: 30 million entries per region, serialised to lists for each task), now each region's rows and columns."""
    places = sorted({t.start_location for t in techs} | {t.end_location for t in techs if t.end_location is not None}
                    | {t.current_location for t in techs if t.current_location is not None}
                    | {j.location for j in jobs})
    at = {old: new for new, old in enumerate(places)}
    cut = np.ix_(places, places)
    return routing.Problem(
        [replace(t, start_location=at[t.start_location],
                 end_location=None if t.end_location is None else at[t.end_location],
                 current_location=None if t.current_location is None else at[t.current_location]) for t in techs],
        [replace(j, location=at[j.location]) for j in jobs], problem.travel_time_s[cut],
        None if problem.distance_m is None else problem.distance_m[cut], problem.weights,
        problem.skill_duration_factors, problem.skill_catalog)


def region_share(time_limit_s: float, regions: int, slots: int) -> float:
    """Seconds for each of ``regions`` solved ``slots`` at a time, so that all of them end within ``time_limit_s``
    (never under ``MIN_REGION_S``)."""
    return max(MIN_REGION_S, time_limit_s * min(slots, regions) / max(1, regions))


def region_slots(app: Any, timeout_s: float = 1.0, max_age_s: float = SLOTS_MAX_AGE_S) -> int:
    """How many regions the Celery workers can solve at once: the pool processes of every worker consuming
    ``REGION_QUEUE``, less the one running this solve when it is itself a task on such a worker (it waits for the
    regions). 0 when no such worker answers within ``timeout_s``. An answer at most ``max_age_s`` old is reused (a
    worker that stops meanwhile makes the regional tasks time out, and the regions are then solved here)."""
    from celery import current_task

    global _consumers_seen
    with _consumers_lock:
        seen = _consumers_seen
        if seen is None or time.monotonic() - seen[0] > max_age_s:
            seen = (time.monotonic(), _ask_consumers(app, timeout_s))
            _consumers_seen = seen
    consumers = seen[1]
    here = getattr(getattr(current_task, "request", None), "hostname", None) if current_task else None
    return max(0, sum(consumers.values()) - (1 if here in consumers else 0))


def _ask_consumers(app: Any, timeout_s: float) -> dict[str, int]:
    """{worker consuming ``REGION_QUEUE``: its pool processes}, asked of the workers now (empty on no answer)."""
    try:
        inspect = app.control.inspect(timeout=timeout_s)
        queues = inspect.active_queues() or {}
        stats = inspect.stats() or {}
    except Exception:
        log.exception("cannot ask the Celery workers for their queues")
        return {}
    return {w: int((stats.get(w) or {}).get("pool", {}).get("max-concurrency") or 0)
            for w, qs in queues.items() if any(q.get("name") == REGION_QUEUE for q in qs or [])}


def solve_one(problem_dict: dict, time_limit_s: float, should_stop: Callable[[], bool] | None = None,
              warm: dict | None = None, in_force: dict | None = None) -> dict:
    """Solve one region (runs on a Celery worker or a thread); plain dicts in and out. ``should_stop`` (here only:
    it cannot travel to a worker) ends the search early with its best plan so far. ``warm`` and ``in_force`` are the
    region's share of ``routing.solve``'s ``warm_start`` and ``in_force`` (a re-plan keeps its jobs where they are
    unless moving them pays for the disruption)."""
    return routing.solve(routing.Problem.from_dict(problem_dict), time_limit_s=time_limit_s, workers=1,
                         should_stop=should_stop, warm_start=routing.Plan.from_dict(warm) if warm else None,
                         in_force=routing.Plan.from_dict(in_force) if in_force else None).to_dict()


def solve_regions(settings: Settings, snapshot: Snapshot, time_limit_s: float,
                  should_stop: Callable[[], bool] | None = None,
                  on_region: Callable[[int, int], None] | None = None, warm: routing.Plan | None = None,
                  in_force: routing.Plan | None = None) -> routing.Plan:
    """Every region solved and merged into one plan within about ``time_limit_s``. Once ``should_stop()`` answers
    True the solve ends within about a second: the regions solving here return their best plan so far; regional
    tasks not yet back are revoked and those regions get a first plan here (a stopped search's best).
    ``on_region(planned, regions)`` is told when the regions are cut (0 planned) and each time another region's plan
    is in (in the calling thread), so a long regional solve shows how far it is, on workers as here. ``warm`` and
    ``in_force`` are ``routing.solve``'s: a re-plan starts each region from its part of the plan being re-planned
    (whose jobs stay in their technician's region) and prices moving a job against the plan in force."""
    subs = partition(settings, snapshot, keep=warm)
    log.info("solving %d dispatch regions in parallel", len(subs))
    dicts = [s.to_dict() for s in subs]
    starts = [(_region_plan(warm, s), _region_plan(in_force, s)) for s in subs]
    results: list[dict | None] = [None] * len(dicts)
    planned = 0
    if on_region is not None:
        on_region(0, len(dicts))

    def region_in() -> None:
        nonlocal planned
        planned += 1
        if on_region is not None:
            on_region(planned, len(dicts))
    if settings.broker_url:
        from server.workers.celery_app import app

        asked = time.monotonic()
        slots = region_slots(app)
        time_limit_s = max(MIN_REGION_S, time_limit_s - (time.monotonic() - asked))  # asking is part of the solve
        if slots:
            # Each region gets its share of the solve's time on the pool processes there are, so the whole solve
            # ends within its limit whatever the number of workers (20 regions of 10 s on 2 processes took 100 s).
            share = region_share(time_limit_s, len(dicts), slots)
            log.info("%d regions on %d Celery pool processes, %.1f s each", len(dicts), slots, share)
            try:
                results = _on_workers(app, dicts, starts, share, share * math.ceil(len(dicts) / slots) * 4 + 60,
                                      should_stop, region_in)
            except Exception:
                log.exception("regional tasks failed; solving the regions here")
        else:
            log.warning("no Celery worker consumes the %s queue; solving the regions here", REGION_QUEUE)
    missing = [k for k, r in enumerate(results) if r is None]
    if missing:
        # Here, LOCAL_WORKERS at a time: each region gets its share of the solve's time so that the whole solve
        # ends within its limit (it is taken for abandoned long after that); 20 regions of a 5,000-job day took
        # 10 x the limit before.
        share = region_share(time_limit_s, len(missing), LOCAL_WORKERS)
        with ThreadPoolExecutor(max_workers=LOCAL_WORKERS) as pool:
            running = {pool.submit(solve_one, dicts[k], share, should_stop, *starts[k]): k for k in missing}
            for done in as_completed(running):
                results[running[done]] = done.result()
                region_in()
    plans = [routing.Plan.from_dict(r) for r in results if r is not None]
    merged = routing.Plan(routes=[r for p in plans for r in p.routes],
                          unassigned=[u for p in plans for u in p.unassigned], stats=plans[0].stats)
    merged.stats.phases = [{"regions": len(subs), "jobs": [len(s.jobs) for s in subs]}]
    merged.objective = evaluate(snapshot.problem, merged)
    return merged


def _on_workers(app: Any, dicts: list[dict], starts: list[tuple[dict | None, dict | None]], share: float,
                timeout_s: float, should_stop: Callable[[], bool] | None,
                region_in: Callable[[], None]) -> list[dict | None]:
    """The regions as Celery tasks of ``share`` seconds each: each region's plan, None where its task failed, did not
    come back within ``timeout_s`` or was revoked because the solve was stopped (those regions are solved here).
    ``region_in()`` is called once for each task that comes back with a plan, as it does."""
    from celery import group

    pending = group(app.signature(tasks.REGION, args=(d, share, *start))
                    for d, start in zip(dicts, starts, strict=True)).apply_async()
    deadline = time.monotonic() + timeout_s
    told: set[int] = set()

    def tell() -> None:
        for k, result in enumerate(pending.results):
            if k not in told and result.successful():
                told.add(k)
                region_in()

    while not pending.ready():
        tell()
        if should_stop is not None and should_stop():
            log.info("solve stopped: revoking the regional tasks not yet back")
            pending.revoke(terminate=True)  # a running region would otherwise search on for its whole share
            break
        if time.monotonic() > deadline:
            log.error("regional tasks not back after %.0f s; solving the rest here", timeout_s)
            pending.revoke(terminate=True)
            break
        time.sleep(STOP_POLL_S)
    tell()
    out: list[dict | None] = []
    for result in pending.results:
        try:
            out.append(result.get(timeout=5, disable_sync_subtasks=False) if result.ready() else None)
        except Exception:
            log.exception("a regional task failed; solving its region here")
            out.append(None)
    return out


tasks.register(tasks.REGION, lambda _engine, _settings, problem, time_limit_s, warm=None, in_force=None: solve_one(
    problem, time_limit_s, warm=warm, in_force=in_force))
