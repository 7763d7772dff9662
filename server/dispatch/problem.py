"""From the database to a routing ``Problem``: open jobs, technicians on shift with live positions and
work in progress, travel times on the street network. Times are integer seconds from local midnight
(``Settings.timezone``); locations are indices into the snapshot's coordinate list."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlmodel import Session, col, select

import routing
from server.config import Settings
from server.core.errors import Conflict
from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import JobPin, TechnicianDispatchState
from server.jobs.models import OPEN_STATUSES, Job, JobEvent, JobStatus
from server.technicians import service as technicians
from server.technicians.models import Availability, Technician

if TYPE_CHECKING:
    from geodata import City
    from geodata.matrix import MatrixCache

log = logging.getLogger("groundcrew.dispatch")

UNREACHABLE_S = 1_000_000  # travel time used where the street network has no path (never chosen)
FRESH_POSITION = timedelta(hours=2)

_caches: dict[int, tuple[MatrixCache, threading.Lock]] = {}
_caches_lock = threading.Lock()


def matrix_cache(city: City) -> tuple[MatrixCache, threading.Lock]:
    """This process's location-keyed travel-time cache for the city (a new place costs two searches)."""
    key = id(city.network)
    with _caches_lock:
        if key not in _caches:
            _caches[key] = (city.network.matrix_cache(), threading.Lock())
        return _caches[key]


def tech_key(technician_id: int) -> str:
    return f"t{technician_id}"


def job_key(job_id: int) -> str:
    return f"j{job_id}"


def parse_key(key: str) -> int:
    return int(key[1:])


def day_origin(settings: Settings, at: datetime | None = None) -> datetime:
    """Local midnight of the service day containing ``at`` (default now), as aware UTC."""
    tz = ZoneInfo(settings.timezone)
    local = as_utc(at or utcnow()).astimezone(tz)
    return datetime.combine(local.date(), time(0, 0), tzinfo=tz).astimezone(UTC)


def to_s(origin: datetime, at: datetime) -> int:
    return int((as_utc(at) - origin).total_seconds())


def from_s(origin: datetime, seconds: int) -> datetime:
    return origin + timedelta(seconds=int(seconds))


def local_s(settings: Settings, day: date, at: time, origin: datetime) -> int:
    """Seconds from ``origin`` to the local wall-clock time ``at`` on ``day`` (the deployment's time zone)."""
    local = datetime.combine(day, at, tzinfo=ZoneInfo(settings.timezone))
    return to_s(origin, local)


#: Why a job a dispatcher unassigned by hand stays out of every plan.
HELD_REASON = "held by a dispatcher (unassigned by hand): assign it, or release it to the planner"


@dataclass
class Snapshot:
    """A routing problem built from the database at ``now``, with the bookkeeping to map it back."""

    problem: routing.Problem
    origin: datetime
    now_s: int
    coords: list[tuple[float, float]]
    jobs: dict[int, Job]
    technicians: dict[int, Technician]
    skipped: list[dict[str, Any]] = field(default_factory=list)
    locked: set[int] = field(default_factory=set)
    sequences: dict[int, list[int]] = field(default_factory=dict)
    #: The technicians asked for when the snapshot is a part of the day (``build_snapshot(technician_ids=...)``);
    #: None for the whole day.
    scope: set[int] | None = None

    def without_held(self) -> Snapshot:
        """The day a solve may plan: jobs a dispatcher took off the plan by hand (``Job.dispatch_hold``) are left out,
        listed as unassigned with ``HELD_REASON`` (overrides still see them, to assign or release them)."""
        held = {jid for jid, j in self.jobs.items() if j.dispatch_hold and j.status == JobStatus.unassigned}
        if not held:
            return self
        keys = {job_key(jid) for jid in held}
        problem = replace(self.problem, jobs=[j for j in self.problem.jobs if j.id not in keys])
        return replace(self, problem=problem, jobs={k: v for k, v in self.jobs.items() if k not in held},
                       skipped=self.skipped + [{"job_id": jid, "reason": HELD_REASON} for jid in sorted(held)])

    def current_plan(self) -> routing.Plan:
        """The assignment in the database (who does what, in what order) as a routing plan, timed."""
        return routing.Plan(routes=list(self.current_routes().values()))

    def current_routes(self, technician_ids: set[int] | None = None) -> dict[int, routing.Route]:
        """Technician id → their day as the database has it, timed; only ``technician_ids`` when given (a live
        change times the days it touches, not the whole day)."""
        from routing import Infeasible, timeline

        models = {t.id: t for t in self.problem.technicians}
        routes: dict[int, routing.Route] = {}
        for tid in self.technicians:
            if technician_ids is not None and tid not in technician_ids:
                continue
            tech = models[tech_key(tid)]
            seq = [job_key(j) for j in self.sequences.get(tid, [])]
            try:
                routes[tid] = timeline(self.problem, tech, seq)
            except Infeasible:
                routes[tid] = routing.Route(tech.id, 0, 0, stops=[routing.Stop(j, 0, 0, 0, 0, 0) for j in seq])
        return routes


def aged_priority(priority: int, sla_deadline_s: int | None, now_s: int, aging_days: float) -> int:
    """An overdue job rises one priority step per ``aging_days`` past its SLA deadline, up to 10: the optimizer never
    gives up a higher priority for a lower one, so without this a backlog of old low-priority jobs would wait behind
    each day's new higher-priority work for ever (a priority-3 job 30 days overdue was dropped while fresh
    priority-5 jobs were planned)."""
    if sla_deadline_s is None or now_s <= sla_deadline_s or aging_days <= 0:
        return priority
    return min(10, max(priority, priority + int((now_s - sla_deadline_s) / (aging_days * 86400))))


#: A release date with no window of its own becomes one window this long (s): "any time after".
OPEN_END_S = 400 * 86400


def released(windows: list[routing.TimeWindow], release_s: int | None) -> list[routing.TimeWindow]:
    """``windows`` cut to start no earlier than ``release_s`` (a follow-up waits for its part); no windows and a
    release give one open-ended window from it. A window wholly before the release is gone; none left leaves only
    the release instant."""
    if release_s is None:
        return windows
    if not windows:
        return [routing.TimeWindow(release_s, release_s + OPEN_END_S)]
    kept = [routing.TimeWindow(max(w.start_s, release_s), w.end_s) for w in windows if w.end_s >= release_s]
    return kept or [routing.TimeWindow(release_s, release_s)]


def preference(job: Job, tech_keys: dict[int, list[str]]) -> list[str]:
    """The routing ids of the job's preferred technician (one per working day in the horizon, one today), empty
    when there is none or they are not planned: a cost for anyone else (``Weights.continuity``), never a pin."""
    return list(tech_keys.get(job.preferred_technician_id, [])) if job.preferred_technician_id else []


def _job_model(job: Job, loc: int, origin: datetime, now_s: int, tech_ids: set[int], pins: dict[int, JobPin],
               on_site_at: dict[int, datetime], busy_positions: dict[int, int], aging_days: float) -> routing.Job:
    windows = []
    for w in job.time_windows:
        start, end = to_s(origin, datetime.fromisoformat(w["start"])), to_s(origin, datetime.fromisoformat(w["end"]))
        windows.append(routing.TimeWindow(start, end))
    windows = released(windows, to_s(origin, job.earliest_at) if job.earliest_at else None)
    duration = job.duration_min * 60
    tech = job.assigned_technician_id if job.assigned_technician_id in tech_ids else None
    sla_deadline_s = to_s(origin, job.sla_due_at) if job.sla_due_at else None
    model = routing.Job(
        id=job_key(job.id or 0), location=loc, duration_s=duration, time_windows=windows,
        required_skills=dict(job.required_skills), sla_deadline_s=sla_deadline_s, must_serve=job.must_not_drop,
        priority=aged_priority(job.priority, sla_deadline_s, now_s, aging_days),
        preferred_technicians=preference(job, {t: [tech_key(t)] for t in tech_ids}),
    )
    if job.status == JobStatus.on_site and tech is not None:
        started = on_site_at.get(job.id or 0)
        elapsed = max(0, now_s - to_s(origin, started)) if started else 0
        model.duration_s = max(60, duration - elapsed)
        model.in_progress, model.pinned_technician, model.time_windows = True, tech_key(tech), []
    elif job.status == JobStatus.en_route and tech is not None:
        model.pinned_technician = tech_key(tech)
        model.pinned_position = busy_positions.get(tech, 0)
        model.time_windows = []  # they are driving there now: the window is no longer a choice
    elif (pin := pins.get(job.id or 0)) is not None and pin.technician_id in tech_ids:
        model.pinned_technician = tech_key(pin.technician_id)
        if pin.position is not None:
            model.pinned_position = pin.position + busy_positions.get(pin.technician_id, 0)
    return model


def _longest_stretch_s(tech: routing.Technician, now_s: int) -> int:
    """The longest time left today between this technician's breaks (a visit is not interrupted by a break): each
    break taken as late as it may before a stretch and as early as it may after it (s)."""
    cursor = max(tech.shift_start_s, tech.busy_until_s or 0, now_s)
    stretches = []
    for brk in sorted(tech.breaks, key=lambda b: b.earliest_start_s):
        if brk.latest_end_s <= cursor:  # its window has passed
            continue
        stretches.append(brk.latest_start_s - cursor)
        cursor = max(cursor, brk.earliest_start_s) + brk.duration_s
    stretches.append(tech.shift_end_s - cursor)
    return max(stretches)


def _clip_multi_day(techs: list[routing.Technician], jobs: list[routing.Job], tt: np.ndarray, now_s: int) -> None:
    """A multi-day visit (longer than the whole working day of every technician who can do it: the horizon splits
    it into daily parts, server/horizon/service.py) is planned today as today's part: as much of it as the roomiest
    capable technician's longest stretch left today between breaks holds, less the drive there and back (whole
    quarter hours). Completing that part leaves the rest of the job open (server/fieldwork). Left whole, it could
    never be planned today."""
    def fits(tech: routing.Technician, job: routing.Job) -> bool:
        return all(tech.skills.get(skill, 0) >= level for skill, level in job.required_skills.items())

    for job in jobs:
        if job.in_progress:
            continue
        able = [t for t in techs if fits(t, job)]
        full_days = [t.shift_end_s - t.shift_start_s - sum(b.duration_s for b in t.breaks) for t in able]
        if not able or job.duration_s <= max(full_days):
            continue
        rooms = []
        for tech in able:
            home = tech.current_location if tech.current_location is not None else tech.start_location
            end = tech.end_location if tech.end_location is not None else tech.start_location
            drive = int(tt[home, job.location]) + int(tt[job.location, end])
            rooms.append(_longest_stretch_s(tech, now_s) - drive)
        room = max(rooms) // 900 * 900
        if room >= 900:
            job.duration_s = room


#: Points added to the shared travel-time cache per hold of its lock (see ``add_points``).
ADD_CHUNK = 256


def add_points(cache: MatrixCache, lock: threading.Lock,
               coords: list[tuple[float, float]]) -> dict[tuple[float, float], str]:
    """Add every point to this process's shared cache; returns the points that cannot be served, with the reason.

    Added ``ADD_CHUNK`` at a time, taking the lock for each chunk only: a morning plan or the horizon adding 5,000
    places held it for ~25 s, and an urgent job's insertion, which needs a few new places, waited behind it (15 s
    and more with 500 technicians). A chunk that fails is added one point at a time to name the bad ones."""
    bad: dict[tuple[float, float], str] = {}
    for at in range(0, len(coords), ADD_CHUNK):
        chunk = coords[at:at + ADD_CHUNK]
        with lock:
            try:
                cache.add_many(chunk)
                continue
            except Exception:
                pass
            for point in chunk:
                try:
                    cache.add(*point)
                except Exception as exc:
                    bad[point] = str(exc)
    return bad


def build_snapshot(*, session: Session, settings: Settings, city: City, now: datetime | None = None,
                   only_job_ids: set[int] | None = None, technician_ids: set[int] | None = None,
                   job_ids: set[int] | None = None) -> Snapshot:
    """The routing problem for the rest of today as the database has it now. With ``technician_ids``, only those
    technicians' days (their open jobs, plus the open ``job_ids``): what a live change to them reads, whatever the
    size of the day."""
    now = as_utc(now or utcnow())
    origin = day_origin(settings, now)
    day = now.astimezone(ZoneInfo(settings.timezone)).date()
    now_s = to_s(origin, now)
    states = {s.technician_id: s for s in session.exec(select(TechnicianDispatchState)).all()}
    tech_query = select(Technician).order_by(col(Technician.id))
    job_query = select(Job).where(col(Job.status).in_(OPEN_STATUSES)).order_by(col(Job.id))
    if technician_ids is not None:
        tech_query = tech_query.where(col(Technician.id).in_(technician_ids or {-1}))
        job_query = job_query.where(col(Job.assigned_technician_id).in_(technician_ids or {-1})
                                    | col(Job.id).in_(job_ids or {-1}))
    all_techs = list(session.exec(tech_query).all())
    away = technicians.absent_on(session=session, day=day)  # recorded leave, training, sick notes
    techs = [t for t in all_techs if t.availability == Availability.on_shift and t.id not in away
             and (t.id not in states or states[t.id].status != "off_sick")]
    # Today's shift from the weekly pattern; a weekday it has off leaves them out like an absence.
    shifts = {t.id or 0: s for t in techs if (s := technicians.shift_on(tech=t, day=day)) is not None}
    techs = [t for t in techs if (t.id or 0) in shifts]
    locked = {t.id or 0 for t in techs if states.get(t.id or 0) and states[t.id or 0].day_locked}
    techs = [t for t in techs if (t.id or 0) not in locked]
    jobs = list(session.exec(job_query).all())
    jobs = [j for j in jobs if j.assigned_technician_id not in locked or j.status == JobStatus.unassigned]
    if only_job_ids is not None:
        jobs = [j for j in jobs if j.id in only_job_ids]
    pins = {p.job_id: p for p in session.exec(select(JobPin)).all()}
    on_site_ids = [j.id for j in jobs if j.status == JobStatus.on_site]
    on_site_at: dict[int, datetime] = {}
    if on_site_ids:
        for ev in session.exec(select(JobEvent).where(col(JobEvent.job_id).in_(on_site_ids),
                                                      JobEvent.status == JobStatus.on_site.value)).all():
            on_site_at[ev.job_id] = ev.at

    # Places: technicians' homes/ends/live positions and job sites, deduplicated.
    def tech_points(t: Technician) -> list[tuple[float, float]]:
        pts = [(t.home_lat, t.home_lon)]
        if t.end_lat is not None and t.end_lon is not None:
            pts.append((t.end_lat, t.end_lon))
        if t.current_lat is not None and t.current_lon is not None:
            pts.append((t.current_lat, t.current_lon))
        return pts

    wanted = [p for t in techs for p in tech_points(t)] + [(j.lat, j.lon) for j in jobs]
    cache, lock = matrix_cache(city)
    coords = list(dict.fromkeys(cache.key(*p) for p in wanted))
    bad = add_points(cache, lock, coords)
    coords = [p for p in coords if p not in bad]
    with lock:
        matrix = cache.matrix(coords) if coords else None
    index = {p: i for i, p in enumerate(coords)}

    def loc(lat: float, lon: float) -> int | None:
        return index.get(cache.key(lat, lon))

    skipped: list[dict[str, Any]] = []
    model_techs: list[routing.Technician] = []
    tech_rows: dict[int, Technician] = {}
    for t in techs:
        home = loc(t.home_lat, t.home_lon)
        if home is None:
            log.warning("technician %s: home is off the street network; left out of the plan", t.id)
            continue
        end = loc(t.end_lat, t.end_lon) if t.end_lat is not None and t.end_lon is not None else None
        shift = shifts[t.id or 0]
        shift_start = local_s(settings, day, shift.start, origin)
        shift_end = local_s(settings, day, shift.end, origin)
        state = states.get(t.id or 0)
        late_s = (state.late_min * 60) if state else 0
        current = None
        busy_until = None
        if now_s > shift_start - 1800:
            busy_until = max(now_s, shift_start) + late_s
            seen = t.last_seen_at
            if t.current_lat is not None and t.current_lon is not None and seen and now - as_utc(seen) < FRESH_POSITION:
                current = loc(t.current_lat, t.current_lon)
        elif late_s:
            busy_until = shift_start + late_s
        overtime_s = t.overtime_allowed_min * 60
        if busy_until is not None and busy_until >= max(shift_start, shift_end) + overtime_s:
            working = any(j.assigned_technician_id == t.id and j.status == JobStatus.on_site for j in jobs)
            if not working:  # the shift (and its overtime) is over: nothing more can be planned for them today
                continue
            overtime_s = busy_until - max(shift_start, shift_end) + 3600  # still on site after hours: let them finish
        breaks = []
        for b in shift.breaks:
            earliest = local_s(settings, day, time.fromisoformat(b["earliest"]), origin)
            latest = local_s(settings, day, time.fromisoformat(b["latest"]), origin)
            duration = int(b["duration_min"]) * 60
            breaks.append(routing.Break(duration, earliest, latest + duration))
        model_techs.append(routing.Technician(
            id=tech_key(t.id or 0), shift_start_s=shift_start, shift_end_s=max(shift_start, shift_end),
            start_location=home, end_location=end, skills=dict(t.skills), breaks=breaks,
            max_overtime_s=overtime_s, current_location=current, busy_until_s=busy_until,
        ))
        tech_rows[t.id or 0] = t
    if not model_techs:
        raise Conflict("no technician has time left today: every shift is over (or every technician is "
                       "locked, sick or off the map)")

    tech_ids = set(tech_rows)
    busy_positions = {j.assigned_technician_id: 1 for j in jobs
                      if j.status == JobStatus.on_site and j.assigned_technician_id in tech_ids}
    model_jobs: list[routing.Job] = []
    job_rows: dict[int, Job] = {}
    in_progress_seen: set[int] = set()
    for j in jobs:
        where = loc(j.lat, j.lon)
        if where is None:
            reason = bad.get(cache.key(j.lat, j.lon), "not on the street network")
            skipped.append({"job_id": j.id, "reason": f"location cannot be reached by road: {reason}"})
            continue
        model = _job_model(j, where, origin, now_s, tech_ids, pins, on_site_at, busy_positions,
                           settings.dispatch_aging_days)
        if model.in_progress:
            tid = parse_key(model.pinned_technician or "t0")
            if tid in in_progress_seen:  # two jobs "on site" at once: only the first is really in progress
                model.in_progress = False
            in_progress_seen.add(tid)
            tech = next(t for t in model_techs if t.id == model.pinned_technician)
            tech.current_location = where
        model_jobs.append(model)
        job_rows[j.id or 0] = j

    skill_catalog = sorted({s for t in all_techs for s in t.skills} | {s for j in jobs for s in j.required_skills})
    assert matrix is not None
    tt = np.where(np.isfinite(matrix.travel_time_s), np.rint(matrix.travel_time_s), UNREACHABLE_S).astype(np.int64)
    dist = np.where(np.isfinite(matrix.distance_m), np.rint(matrix.distance_m), 0).astype(np.int64)
    _clip_multi_day(model_techs, model_jobs, tt, now_s)
    problem = routing.Problem(model_techs, model_jobs, tt, dist, skill_catalog=skill_catalog)

    order = {JobStatus.on_site: 0, JobStatus.en_route: 1}
    far = datetime.max.replace(tzinfo=UTC)
    sequences: dict[int, list[int]] = {tid: [] for tid in tech_rows}
    for j in sorted(job_rows.values(), key=lambda j: (order.get(j.status, 2), as_utc(j.eta_at) if j.eta_at else far,
                                                      j.id or 0)):
        if j.assigned_technician_id in sequences and j.status != JobStatus.unassigned:
            sequences[j.assigned_technician_id].append(j.id or 0)
    return Snapshot(problem=problem, origin=origin, now_s=now_s, coords=[tuple(p) for p in coords], jobs=job_rows,
                    technicians=tech_rows, skipped=skipped, locked=locked, sequences=sequences,
                    scope=set(technician_ids) if technician_ids is not None else None)
