"""Plan the working days after today, tentatively: today's plan stays firm (dispatch owns it); the open jobs it does not
hold get a technician and a day.

How: each technician's working day in the horizon is one vehicle of one routing problem (``t5@2026-12-08``) with that
day's shift and breaks, on one clock counted from today's local midnight, so a job's windows, SLA deadline and
priority aging read the same as in today's plan and a window three days out simply falls in that day's shifts. A job
a dispatcher pinned to a technician needs that technician's own marker skill, which all of their days carry: same
technician, any day. Working days are the configured weekdays minus the country's public holidays (``holidays``
package) and closed dates. The newest run is the current horizon; each run replaces the visits of the one before.

A follow-up prefers its technician (all of their days: a cost for anyone else, ``Weights.continuity``) and starts no
earlier than its ``earliest_at``. A multi-day visit (longer than any one working day of a technician who can do it) is
split before solving, by a simple rule: the technician is the preferred one if they can do it, else the first who can
(by id) with the parts' days free; each part holds at most that technician's working day less breaks and the drive
there and back (rounded down to 15 min), the parts are equal, and they go on consecutive working days of theirs
(days off break a run), each part pinned to its day and never dropped. The technician takes that day's breaks on
site: the visit holds the part's work plus the breaks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

import routing
from server.config import Settings
from server.core import tasks
from server.core.errors import Conflict, Invalid
from server.core.periodic import Periodic
from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import JobPin
from server.dispatch.problem import (
    UNREACHABLE_S,
    add_points,
    aged_priority,
    day_origin,
    from_s,
    local_s,
    matrix_cache,
    preference,
    released,
    to_s,
)
from server.events.broker import make_event, publish
from server.horizon.models import HorizonPublic, HorizonRun, HorizonVisit, HorizonVisitPublic, TechnicianDayPublic
from server.jobs.models import Job, JobStatus
from server.technicians import service as technicians
from server.technicians.models import Availability, Technician

log = logging.getLogger("groundcrew.horizon")
#: The trigger of the daily roll-over's runs, and how often an API process checks whether it is due (s).
ROLL_OVER = "roll-over"
ROLL_CHECK_S = 60.0
#: With a broker: how long after sending the roll-over to a worker it is sent again if still due (s).
RESEND_S = 900.0

#: Runs kept (the newest is current; older ones are history for "what did we tell them on Monday").
KEEP_RUNS = 20
#: The words of routing's reasons in the horizon's terms.
_REASONS = {routing.plan.REASON_CAPACITY: "no capacity left in the horizon",
            routing.plan.REASON_SHIFT: "outside every shift in the horizon"}


def weekdays(spec: str) -> set[int]:
    """'1-5' / '1,3,5' / '1-3,6' -> ISO weekday numbers (1 = Monday); a clear error for anything else."""
    out: set[int] = set()
    try:
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            a, _, b = part.partition("-")
            lo, hi = int(a), int(b or a)
            if not 1 <= lo <= hi <= 7:
                raise ValueError
            out.update(range(lo, hi + 1))
    except ValueError:
        raise Invalid(f"horizon_weekdays: {spec!r} is not a list of ISO weekdays 1-7 (1 = Monday), e.g. '1-5'")
    if not out:
        raise Invalid("horizon_weekdays: no working weekday given")
    return out


def closed_dates(settings: Settings, years: set[int]) -> set[date]:
    """Public holidays of the configured country (and region) in ``years``, plus the configured closed dates."""
    out: set[date] = set()
    if settings.horizon_holidays_country:
        import holidays

        try:
            out.update(holidays.country_holidays(settings.horizon_holidays_country,
                                                 subdiv=settings.horizon_holidays_subdivision, years=sorted(years)))
        except NotImplementedError as exc:
            raise Invalid(f"horizon_holidays_country: {exc}") from exc
    for raw in (s.strip() for s in settings.horizon_closed_dates.split(",") if s.strip()):
        try:
            out.add(date.fromisoformat(raw))
        except ValueError:
            raise Invalid(f"horizon_closed_dates: {raw!r} is not a date YYYY-MM-DD") from None
    return out


def working_days(settings: Settings, today: date) -> list[date]:
    """The next ``horizon_days`` working days after ``today``."""
    work = weekdays(settings.horizon_weekdays)
    span = [today + timedelta(days=k) for k in range(1, 7 * settings.horizon_days + 15)]
    closed = closed_dates(settings, {d.year for d in span})
    return [d for d in span if d.isoweekday() in work and d not in closed][:settings.horizon_days]


def _marker(technician_id: int) -> str:
    """The skill only this technician's days carry: a pin to them is a need for it."""
    return f"_technician_{technician_id}"


def _day_marker(key: str) -> str:
    """The skill only one technician-day (vehicle ``key``) carries: a part of a multi-day visit pinned to that day."""
    return f"_day_{key}"


@dataclass
class _Part:
    """Part ``part`` of ``parts`` of a multi-day visit, pinned to vehicle ``key`` for ``duration_s``."""

    key: str
    part: int
    parts: int
    duration_s: int


def split_multi_day(*, duration_s: int, site: int, release_day: date | None, candidates: list[int],
                    runs: dict[int, list[tuple[date, str | None]]], day_work_s: dict[str, int],
                    ends: dict[int, tuple[int, int]], tt: np.ndarray) -> list[_Part] | None:
    """The parts of a job of ``duration_s`` (the module's rule), or None when no candidate technician has the days.
    ``runs``: per technician, the horizon's working days with their vehicle key (None on a day off);
    ``ends``: per technician, (home, end) locations; ``day_work_s``: per vehicle, the shift less breaks (s)."""
    for tech_id in candidates:
        home, end = ends[tech_id]
        days = runs[tech_id]
        for first in range(len(days)):
            if release_day is not None and days[first][0] < release_day:
                continue
            key = days[first][1]
            if key is None:
                continue
            room = (day_work_s[key] - int(tt[home, site]) - int(tt[site, end])) // 900 * 900
            if room <= 0:
                continue
            n = math.ceil(duration_s / room)
            chosen = days[first:first + n]
            if len(chosen) < n or any(k is None for _, k in chosen):
                continue
            if any((day_work_s[k or ""] - int(tt[home, site]) - int(tt[site, end])) // 900 * 900 < room
                   for _, k in chosen):  # a shorter day in the run: try the next start
                continue
            each = math.ceil(duration_s / n / 60) * 60
            sizes = [each] * (n - 1) + [duration_s - each * (n - 1)]
            return [_Part(k or "", i + 1, n, size) for i, ((_, k), size) in enumerate(zip(chosen, sizes, strict=True))]
    return None


def plan_horizon(*, session: Session, settings: Settings, city: Any, now: datetime | None = None,
                 time_limit_s: float | None = None, trigger: str = "manual") -> HorizonRun:
    """Plan the open jobs today's plan does not hold over the next working days, store and return the run."""
    if settings.horizon_days <= 0:
        raise Conflict("the planning horizon is off (GROUNDCREW_HORIZON_DAYS=0)")
    now = as_utc(now or utcnow())
    origin = day_origin(settings, now)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    days = working_days(settings, today)
    techs = [t for t in session.exec(select(Technician).order_by(col(Technician.id))).all()
             if t.availability != Availability.off]
    jobs = list(session.exec(select(Job).where(Job.status == JobStatus.unassigned, col(Job.dispatch_hold).is_(False))
                             .order_by(col(Job.id))).all())
    pins = {p.job_id: p.technician_id for p in session.exec(select(JobPin)).all()}
    if not techs:
        raise Conflict("no technician to plan the horizon with (all are marked off)")

    cache, lock = matrix_cache(city)
    points: list[tuple[float, float]] = []
    for t in techs:
        points.append(cache.key(t.home_lat, t.home_lon))
        if t.end_lat is not None and t.end_lon is not None:
            points.append(cache.key(t.end_lat, t.end_lon))
    points += [cache.key(j.lat, j.lon) for j in jobs]
    coords = list(dict.fromkeys(points))
    bad = add_points(cache, lock, coords)  # off the street network: a job nobody reaches, a technician who cannot
    coords = [p for p in coords if p not in bad]  # start
    with lock:
        matrix = cache.matrix(coords) if coords else None
    index = {p: i for i, p in enumerate(coords)}

    away = {(a.technician_id, a.first_day + timedelta(days=k))  # (technician, day) pairs of recorded absences
            for a in technicians.absences(session=session, between=(days[0], days[-1]))
            for k in range((a.last_day - a.first_day).days + 1)}
    vehicles: list[routing.Technician] = []
    vehicle_of: dict[str, tuple[int, date]] = {}
    keys_of: dict[int, list[str]] = {}  # technician -> their days' vehicle keys (a preference is for all of them)
    runs: dict[int, list[tuple[date, str | None]]] = {}  # technician -> each working day's vehicle (None: away)
    ends: dict[int, tuple[int, int]] = {}
    day_work_s: dict[str, int] = {}
    for t in techs:
        home = index.get(cache.key(t.home_lat, t.home_lon))
        if home is None:
            log.warning("technician %s: home is off the street network; left out of the horizon", t.id)
            continue
        end = index.get(cache.key(t.end_lat, t.end_lon)) if t.end_lat is not None and t.end_lon is not None else None
        ends[t.id or 0] = (home, home if end is None else end)
        for day in days:
            if (t.id, day) in away:
                runs.setdefault(t.id or 0, []).append((day, None))
                continue
            shift = technicians.shift_on(tech=t, day=day)
            if shift is None:  # a weekday their weekly pattern has off: no vehicle that day
                runs.setdefault(t.id or 0, []).append((day, None))
                continue
            start_s = local_s(settings, day, shift.start, origin)
            end_s = local_s(settings, day, shift.end, origin)
            breaks = []
            for b in shift.breaks:
                earliest = local_s(settings, day, time.fromisoformat(b["earliest"]), origin)
                latest = local_s(settings, day, time.fromisoformat(b["latest"]), origin)
                duration = int(b["duration_min"]) * 60
                breaks.append(routing.Break(duration, earliest, latest + duration))
            key = f"t{t.id}@{day.isoformat()}"
            vehicles.append(routing.Technician(
                id=key, shift_start_s=start_s, shift_end_s=max(start_s, end_s), start_location=home,
                end_location=end, skills={**t.skills, _marker(t.id or 0): 1}, breaks=breaks,
                max_overtime_s=t.overtime_allowed_min * 60))
            vehicle_of[key] = (t.id or 0, day)
            keys_of.setdefault(t.id or 0, []).append(key)
            runs.setdefault(t.id or 0, []).append((day, key))
            day_work_s[key] = max(0, end_s - start_s - sum(b.duration_s for b in breaks))
    names = {t.id: t.name for t in techs}
    day_end: dict[date, int] = {}
    for v in vehicles:
        day_end[vehicle_of[v.id][1]] = max(day_end.get(vehicle_of[v.id][1], 0), v.shift_end_s)
    first_day_end = day_end.get(days[0])

    unassigned: list[dict[str, Any]] = []
    models: list[routing.Job] = []
    rows: dict[str, Job] = {}
    part_of: dict[str, tuple[int, int]] = {}  # routing job -> (part, parts) of a multi-day visit
    now_s = to_s(origin, now)
    tt = (np.where(np.isfinite(matrix.travel_time_s), np.rint(matrix.travel_time_s), UNREACHABLE_S).astype(np.int64)
          if matrix is not None else None)
    vehicle = {v.id: v for v in vehicles}
    for j in jobs:
        where = index.get(cache.key(j.lat, j.lon))
        if where is None:
            unassigned.append({"job_id": j.id, "reason": "location cannot be reached by road"})
            continue
        windows = [routing.TimeWindow(to_s(origin, datetime.fromisoformat(w["start"])),
                                      to_s(origin, datetime.fromisoformat(w["end"]))) for w in j.time_windows]
        windows = released(windows, to_s(origin, j.earliest_at) if j.earliest_at else None)
        able = [tid for tid in keys_of if all(vehicle[keys_of[tid][0]].skills.get(k, 0) >= lvl
                                              for k, lvl in j.required_skills.items())
                and pins.get(j.id or 0) in (None, tid)]
        longest = max((day_work_s[k] for tid in able for k in keys_of[tid]), default=0)
        if able and tt is not None and j.duration_min * 60 > longest:  # a multi-day visit: split it (module doc)
            first = sorted(able, key=lambda tid: (tid != j.preferred_technician_id, tid))
            release = as_utc(j.earliest_at).astimezone(ZoneInfo(settings.timezone)).date() if j.earliest_at else None
            parts = split_multi_day(duration_s=j.duration_min * 60, site=where, release_day=release, candidates=first,
                                    runs=runs, day_work_s=day_work_s, ends=ends, tt=tt)
            if parts is None:
                unassigned.append({"job_id": j.id, "reason": f"multi-day visit ({j.duration_min / 60:.1f} h): no "
                                                             "technician has the working days in a row"})
                continue
            for p in parts:
                day = vehicle[p.key]
                day.skills[_day_marker(p.key)] = 1
                on_site_break_s = sum(b.duration_s for b in day.breaks)  # a day on one site: the break is taken there
                day.breaks = []
                key = f"j{j.id}#{p.part}"
                models.append(routing.Job(id=key, location=where, duration_s=p.duration_s + on_site_break_s,
                                          required_skills={**j.required_skills, _day_marker(p.key): 1},
                                          priority=j.priority, must_serve=True))
                rows[key], part_of[key] = j, (p.part, p.parts)
            continue
        # No SLA: due by the end of the first working day, so lateness (weighted by priority) makes the plan serve
        # sooner rather than later and the most urgent first, instead of any day being as good as another.
        sla_s = to_s(origin, j.sla_due_at) if j.sla_due_at else first_day_end
        if j.earliest_at and not j.sla_due_at:  # a follow-up is due by the end of its first working day
            release_day = as_utc(j.earliest_at).astimezone(ZoneInfo(settings.timezone)).date()
            sla_s = next((day_end[d] for d in days if d >= release_day and d in day_end), sla_s)
        skills = dict(j.required_skills)
        pinned = pins.get(j.id or 0)
        if pinned is not None:
            skills[_marker(pinned)] = 1
        key = f"j{j.id}"
        models.append(routing.Job(id=key, location=where, duration_s=j.duration_min * 60, time_windows=windows,
                                  required_skills=skills, sla_deadline_s=sla_s, must_serve=j.must_not_drop,
                                  priority=aged_priority(j.priority, sla_s, now_s, settings.dispatch_aging_days),
                                  preferred_technicians=preference(j, keys_of)))
        rows[key] = j

    run = HorizonRun(days=[d.isoformat() for d in days], technicians=len({v[0] for v in vehicle_of.values()}),
                     jobs=len(jobs), trigger=trigger)
    visits: list[HorizonVisit] = []
    if vehicles and models and matrix is not None and tt is not None:
        dist = np.where(np.isfinite(matrix.distance_m), np.rint(matrix.distance_m), 0).astype(np.int64)
        catalog = sorted({k for v in vehicles for k in v.skills} | {k for m in models for k in m.required_skills})
        problem = routing.Problem(vehicles, models, tt, dist, skill_catalog=catalog)
        plan = routing.solve(problem, time_limit_s=time_limit_s or settings.horizon_solve_time_s, seed=0)
        travel_s = 0
        for route in plan.routes:
            tech_id, day = vehicle_of[route.technician_id]
            travel_s += route.travel_s
            for seq, stop in enumerate(route.stops):
                part, parts = part_of.get(stop.job_id, (1, 1))
                visits.append(HorizonVisit(run_id=0, job_id=rows[stop.job_id].id or 0, technician_id=tech_id, day=day,
                                           sequence=seq, start_at=from_s(origin, stop.start_s),
                                           end_at=from_s(origin, stop.end_s), part=part, parts=parts))
        seen_unassigned: set[int] = set()
        for u in plan.unassigned:
            job = rows[u.job_id]
            if job.id in seen_unassigned:  # a multi-day visit is one line however many parts were left
                continue
            seen_unassigned.add(job.id or 0)
            reason = _REASONS.get(u.reason, u.reason)
            if pins.get(job.id or 0) is not None and u.reason == routing.plan.REASON_SKILL:
                reason = f"pinned to {names.get(pins[job.id or 0], 'a technician')}, who cannot do it in the horizon"
            unassigned.append({"job_id": job.id, "reason": reason})
        run.travel_min = round(travel_s / 60)
    elif models:
        unassigned += [{"job_id": rows[m.id].id, "reason": "no technician can start from the street network"}
                       for m in models]
    run.planned = len(visits)
    run.unassigned = unassigned
    session.add(run)
    session.flush()
    session.exec(delete(HorizonVisit))  # type: ignore[call-overload]  # the newest run is the horizon
    for v in visits:
        v.run_id = run.id or 0
        session.add(v)
    old = session.exec(select(HorizonRun.id).order_by(col(HorizonRun.id).desc()).offset(KEEP_RUNS)).all()
    if old:
        session.exec(delete(HorizonRun).where(col(HorizonRun.id).in_(old)))  # type: ignore[call-overload]
    session.commit()
    session.refresh(run)
    # Open consoles read the horizon again (the board's later days); technicians' apps do not show it.
    publish(settings, make_event("horizon.updated", {"run_id": run.id, "planned": run.planned,
                                                     "unassigned": len(run.unassigned or [])}, staff_only=True))
    return run


def current(*, session: Session) -> HorizonPublic:
    """The newest horizon run with its visits, by day and technician."""
    run = session.exec(select(HorizonRun).order_by(col(HorizonRun.id).desc()).limit(1)).first()
    if run is None:
        return HorizonPublic(run_id=None, created_at=None, days=[], technicians=0, jobs=0, planned=0, travel_min=0,
                             visits=[], unassigned=[])
    rows = session.exec(select(HorizonVisit, Job, Technician)
                        .join(Job, col(Job.id) == HorizonVisit.job_id)
                        .join(Technician, col(Technician.id) == HorizonVisit.technician_id)
                        .where(HorizonVisit.run_id == run.id)
                        .order_by(col(HorizonVisit.day), col(HorizonVisit.technician_id), col(HorizonVisit.sequence))
                        ).all()
    visits = [HorizonVisitPublic(job_id=v.job_id, job_title=j.title, address=j.address, priority=j.priority,
                                 technician_id=t.id or 0, technician_name=t.name, day=v.day, sequence=v.sequence,
                                 start_at=v.start_at, end_at=v.end_at, part=v.part, parts=v.parts)
              for v, j, t in rows]
    return HorizonPublic(run_id=run.id, created_at=run.created_at, days=run.days, technicians=run.technicians,
                         jobs=run.jobs, planned=run.planned, travel_min=run.travel_min, visits=visits,
                         unassigned=run.unassigned)


def shifts(*, session: Session, settings: Settings, run_days: list[str], now: datetime | None = None
           ) -> list[TechnicianDayPublic]:
    """Every technician's hours today and on each of ``run_days`` from today on (local dates), by technician then day:
    their weekly pattern's shift (``technicians.shift_on``, the one place a day's hours are read) unless a recorded
    absence covers the day or their availability takes it (any but on_shift today; "off" on a later day, as
    ``plan_horizon`` reads it)."""
    today = as_utc(now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()
    days = sorted({today} | {d for d in map(date.fromisoformat, run_days) if d >= today})
    away = {(a.technician_id, a.first_day + timedelta(days=k)): a.reason
            for a in technicians.absences(session=session, between=(min(days), max(days)))
            for k in range((a.last_day - a.first_day).days + 1)}
    out: list[TechnicianDayPublic] = []
    for t in session.exec(select(Technician).order_by(col(Technician.id))).all():
        for day in days:
            row = TechnicianDayPublic(technician_id=t.id or 0, day=day)
            shift = technicians.shift_on(tech=t, day=day)
            if (t.id, day) in away:
                row.off, row.reason = "absence", away[(t.id, day)]
            elif t.availability != Availability.on_shift and (day == today or t.availability == Availability.off):
                row.off = t.availability.value
            elif shift is None:
                row.off = "day off"
            else:
                row.start, row.end = shift.start.strftime("%H:%M"), shift.end.strftime("%H:%M")
                row.breaks = shift.breaks
            out.append(row)
    return out


# ---------------------------------------------------------------- the daily roll-over


def roll_over_due(*, session: Session, settings: Settings, now: datetime | None = None) -> bool:
    """Whether today's roll-over should run now: past ``horizon_roll_at`` (local), open jobs waiting, today's
    morning plan stored (when there is a morning plan: the horizon plans what today's plan does not hold), and no
    roll-over yet since local midnight."""
    if settings.horizon_days <= 0 or not settings.horizon_roll_at:
        return False
    tz = ZoneInfo(settings.timezone)
    local = as_utc(now or utcnow()).astimezone(tz)
    if local.time() < time.fromisoformat(settings.horizon_roll_at):
        return False
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    if session.exec(select(HorizonRun.id).where(HorizonRun.trigger == ROLL_OVER,
                                                col(HorizonRun.created_at) >= midnight)).first() is not None:
        return False
    if session.exec(select(Job.id).where(Job.status == JobStatus.unassigned)).first() is None:
        return False
    if settings.dispatch_morning_at:
        from server.plans.models import Plan

        if session.exec(select(Plan.id).where(Plan.day == local.date().isoformat())).first() is None:
            return False
    return True


def roll_over(*, session: Session, settings: Settings, city: Any, now: datetime | None = None) -> HorizonRun | None:
    """Plan the horizon if today's roll-over is due (see ``roll_over_due``); the run, or None when not due."""
    if not roll_over_due(session=session, settings=settings, now=now):
        return None
    return plan_horizon(session=session, settings=settings, city=city, now=now, trigger=ROLL_OVER)


class RollOver(Periodic):
    """This process's daily roll-over, checked every ``ROLL_CHECK_S``. With a broker the roll-over runs on a Celery
    worker (``tasks.HORIZON``), not in this API process: planning a big horizon takes minutes of CPU (5,500 jobs
    over 500 technicians), which here slowed the live dispatch the process serves. This process sends it once and
    again only if it is still due ``RESEND_S`` later (a lost task). Two processes may both plan the horizon in the
    same minute; the newest run is the current one either way."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__("groundcrew-horizon", ROLL_CHECK_S, self.tick, log)
        self.engine, self.settings = engine, settings
        self.sent_at: float | None = None

    def tick(self) -> None:
        with Session(self.engine) as session:
            if not roll_over_due(session=session, settings=self.settings):
                return
        if not self.settings.broker_url:
            roll_over_now(self.engine, self.settings)
            return
        if self.sent_at is not None and monotonic() - self.sent_at < RESEND_S:
            return
        tasks.submit(tasks.HORIZON, engine=self.engine, settings=self.settings)
        self.sent_at = monotonic()
        log.info("horizon roll-over due: sent to a worker")


def roll_over_now(engine: Engine, settings: Settings) -> int | None:
    """Today's roll-over if it is due (here, or as the Celery task ``tasks.HORIZON``): the new run's id."""
    from server.core.city import load_city

    with Session(engine) as session:
        run = roll_over(session=session, settings=settings, city=load_city(settings))
        if run is None:
            return None
        log.info("horizon roll-over: %s of %s jobs planned over %s", run.planned, run.jobs, ", ".join(run.days))
        return run.id


tasks.register(tasks.HORIZON, roll_over_now)
