"""Dispatcher control: assign, unassign, pin, reorder and lock a technician's day — each previewed with its
cost (added travel, SLA jobs put at risk) before it is committed — the fast insertion of an urgent job,
and explanations ("why is this job unassigned", "why this technician") from the plan."""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

import routing
from routing import Infeasible, simulate, timeline
from server.appointments import kept
from server.auth.models import User
from server.config import Settings
from server.core.errors import Conflict, Invalid, NotFound
from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import (
    BookedWindowCheck,
    JobPin,
    Override,
    OverrideAction,
    OverridePreview,
    TechnicianDispatchState,
)
from server.dispatch.problem import Snapshot, build_snapshot, day_origin, from_s, job_key, parse_key, tech_key
from server.events.broker import make_event
from server.jobs.models import Job, JobEvent, JobStatus
from server.plans import writer
from server.plans.service import active_plan
from server.technicians.models import Technician

STARTED = (JobStatus.en_route, JobStatus.on_site)


def _route_totals(problem: routing.Problem, route: routing.Route) -> tuple[int, int, int]:
    late = sum(s.late_s for s in route.stops)
    return route.travel_s, late, route.overtime_s


def _at_risk(route: routing.Route) -> set[int]:
    return {parse_key(s.job_id) for s in route.stops if s.late_s > 0}


def _missing_skills(tech: Technician, job: Job) -> list[str]:
    return [f"'{s}' level {lvl} (has {tech.skills.get(s, 0)})" for s, lvl in job.required_skills.items()
            if tech.skills.get(s, 0) < lvl]


def _name(snapshot: Snapshot, key: str) -> str:
    """A technician's name for a sentence shown to dispatchers (never their id)."""
    tech = snapshot.technicians.get(parse_key(key))
    return tech.name if tech else "a technician no longer listed"


def _plan_override(snapshot: Snapshot, override: Override) -> tuple[dict[int, list[int]], list[str]]:
    """The technicians' new job orders under the override (only the affected technicians)."""
    seqs = {tid: list(seq) for tid, seq in snapshot.sequences.items()}
    notes: list[str] = []
    action = override.action
    if action in (OverrideAction.lock, OverrideAction.unlock):
        return {}, notes
    if action == OverrideAction.reorder:
        tid = override.technician_id
        if tid is None or override.job_ids is None:
            raise Invalid("technician_id and job_ids: required to reorder a technician's day")
        if tid not in seqs:
            raise Invalid(f"technician_id: technician {tid} is not on shift (or their day is locked)")
        current = seqs[tid]
        if sorted(override.job_ids) != sorted(current):
            raise Invalid(f"job_ids: must be exactly the technician's current jobs {sorted(current)}")
        started = [j for j in current if snapshot.jobs[j].status in STARTED]
        if override.job_ids[:len(started)] != started:
            raise Invalid(f"job_ids: started work {started} must stay first")
        return {tid: list(override.job_ids)}, notes
    if override.job_id is None:
        raise Invalid(f"job_id: required for {action.value}")
    job = snapshot.jobs.get(override.job_id)
    if job is None:
        raise NotFound(f"job_id: job {override.job_id} is not open today (finished, cancelled or unknown)")
    if job.status in STARTED:
        raise Conflict(f"job_id: job {job.id} is {job.status.value}; started work cannot be moved")
    owner = next((tid for tid, seq in seqs.items() if job.id in seq), None)
    if action in (OverrideAction.unassign, OverrideAction.unpin):
        if action == OverrideAction.unpin:
            return {}, notes
        if owner is None:
            raise Conflict(f"job_id: job {job.id} is not assigned")
        return {owner: [j for j in seqs[owner] if j != job.id]}, notes
    tid = override.technician_id if override.technician_id is not None else owner
    if tid is None:
        raise Invalid("technician_id: required (the job is not assigned to anyone yet)")
    tech = snapshot.technicians.get(tid)
    if tech is None:
        raise Invalid(f"technician_id: technician {tid} is not on shift (or their day is locked)")
    missing = _missing_skills(tech, job)
    if missing:
        raise Invalid(f"technician_id: {tech.name} cannot do job {job.id}: missing skill {', '.join(missing)}")
    out: dict[int, list[int]] = {}
    if owner is not None and owner != tid:
        out[owner] = [j for j in seqs[owner] if j != job.id]
    base = [j for j in seqs[tid] if j != job.id]
    started = sum(1 for j in base if snapshot.jobs[j].status in STARTED)
    if override.position is not None:
        position = max(started, min(override.position, len(base)))
    elif owner == tid:
        position = seqs[tid].index(job.id)
    else:  # the cheapest place in their day
        model = replace(snapshot.problem.job(job_key(job.id or 0)), pinned_technician=tech_key(tid),
                        pinned_position=None)
        current = routing.Plan(routes=[routing.Route(tech_key(tid), 0, 0, stops=[
            routing.Stop(job_key(j), 0, 0, 0, 0, 0) for j in base])])
        best = routing.recommend(snapshot.problem, current, model, k=1)
        position = best[0].position if best else len(base)
        if not best:
            notes.append("no feasible position keeps every window: appended at the end of the day")
    out[tid] = [*base[:position], job.id or 0, *base[position:]]
    return out, notes


def preview_snapshot(*, session: Session, settings: Settings, city: Any, override: Override) -> Snapshot:
    """The part of today an override can change: the days of the technician it names and of the job's current
    technician (their jobs, their places), not the whole day. Whatever the snapshot cannot answer (nobody named,
    a technician off shift) is left to the whole day's snapshot, so errors read the same."""
    job = session.get(Job, override.job_id) if override.job_id is not None else None
    owner = job.assigned_technician_id if job is not None and job.status != JobStatus.unassigned else None
    techs = {t for t in (override.technician_id, owner) if t is not None}
    if techs and override.action not in (OverrideAction.lock, OverrideAction.unlock, OverrideAction.unpin):
        try:
            snapshot = build_snapshot(session=session, settings=settings, city=city, technician_ids=techs,
                                      job_ids={override.job_id} if override.job_id is not None else set())
            if set(snapshot.technicians) == techs:
                return snapshot
        except Conflict:
            pass
    return build_snapshot(session=session, settings=settings, city=city)


#: A booked window's end when the dispatcher may break it: far past any day (seconds from the day's origin).
_OPEN_END_S = 10 * 86_400


def _bookings(snapshot: Snapshot, job_ids: set[int]) -> dict[int, tuple[datetime, datetime, str | None]]:
    """Job id -> (start, end, customer's name) of the windows booked with customers among ``job_ids``
    (server/appointments). Read in the session the snapshot's jobs were read in: the preview is given only the
    snapshot; none when they are detached from it."""
    session = object_session(next(iter(snapshot.jobs.values()))) if snapshot.jobs and job_ids else None
    if session is None:
        return {}
    from server.appointments.models import Appointment, AppointmentStatus
    from server.customers.models import Customer

    rows = session.exec(select(Appointment, Customer).join(Customer, Customer.id == Appointment.customer_id,  # type: ignore[arg-type]
                                                           isouter=True)
                        .where(col(Appointment.job_id).in_(job_ids), Appointment.status == AppointmentStatus.booked,
                               col(Appointment.window_start).is_not(None), col(Appointment.window_end).is_not(None))
                        ).all()
    return {a.job_id: (as_utc(a.window_start), as_utc(a.window_end), (c.display_name or None) if c else None)
            for a, c in rows}


def _open_ended(problem: routing.Problem, keys: set[str]) -> routing.Problem:
    """The problem with these jobs' windows open after their end (their start still holds: a technician who comes
    early waits), to time a day that breaks the bookings. A shallow copy: the travel matrices are shared."""
    relaxed = copy.copy(problem)
    relaxed.jobs = [replace(j, time_windows=[routing.TimeWindow(w.start_s, max(w.end_s, _OPEN_END_S))
                                             for w in j.time_windows]) if j.id in keys else j for j in problem.jobs]
    relaxed.__dict__.pop("_index", None)  # problem.job()'s index, built again for the copy's jobs
    return relaxed


def preview(*, snapshot: Snapshot, override: Override) -> tuple[OverridePreview, dict[int, routing.Route]]:
    """What the override would cost, without changing anything. A window booked with a customer is a hard window,
    but a dispatcher may break it: a day that keeps every other rule but arrives after a booked window is timed
    with that window left open, and ``booked_windows`` says whose window it breaks (confirmed at commit with
    ``break_booked_windows``)."""
    t0 = time.perf_counter()
    new_seqs, notes = _plan_override(snapshot, override)
    problem = snapshot.problem
    feasible = True
    booked = _bookings(snapshot, {j for seq in new_seqs.values() for j in seq})
    before_routes = snapshot.current_routes(set(new_seqs))  # the affected technicians' days only
    after: dict[int, routing.Route] = {}
    d_travel = d_late = d_ot = 0
    risk_before: set[int] = set()
    risk_after: set[int] = set()
    for tid, seq in new_seqs.items():
        tech = problem.technician(tech_key(tid))
        keys = [job_key(j) for j in seq]
        before = before_routes[tid]
        try:
            starts, brks = simulate(problem, tech, keys)
            route = timeline(problem, tech, keys, starts, brks)
        except Infeasible as exc:
            soft = {k for k in keys if parse_key(k) in booked}
            try:
                if not soft:
                    raise
                relaxed = _open_ended(problem, soft)  # does it fail only for the booked windows?
                starts, brks = simulate(relaxed, tech, keys)
                route = timeline(relaxed, tech, keys, starts, brks)
            except Infeasible:
                feasible = False
                who = snapshot.technicians[tid].name if tid in snapshot.technicians else "a technician no longer listed"
                notes.append(f"{who}: {exc}")
                continue
        after[tid] = route
        bt, bl, bo = _route_totals(problem, before)
        at, al, ao = _route_totals(problem, route)
        d_travel, d_late, d_ot = d_travel + at - bt, d_late + al - bl, d_ot + ao - bo
        risk_before |= _at_risk(before)
        risk_after |= _at_risk(route)
    etas = {parse_key(s.job_id): from_s(snapshot.origin, s.arrival_s) for r in after.values() for s in r.stops}
    checks = [BookedWindowCheck(job_id=jid, start=start, end=end, eta=etas.get(jid), customer=who,
                                breaks=jid in etas and etas[jid] > end)
              for jid, (start, end, who) in sorted(booked.items()) if jid in etas]
    result = OverridePreview(
        action=override.action, feasible=feasible, added_travel_s=d_travel, added_lateness_s=d_late,
        added_overtime_s=d_ot, sla_at_risk=sorted(risk_after), sla_newly_at_risk=sorted(risk_after - risk_before),
        affected_technicians=sorted(new_seqs), etas=etas, notes=notes,
        elapsed_ms=round((time.perf_counter() - t0) * 1000, 1), booked_windows=checks)
    return result, after


def commit(*, session: Session, settings: Settings, city: Any, override: Override,
           user: User) -> tuple[OverridePreview, int | None, list[dict[str, Any]]]:
    """Make the override (the caller commits): pins, the lock, the assignment, and a new plan version."""
    snapshot = preview_snapshot(session=session, settings=settings, city=city, override=override)
    result, after = preview(snapshot=snapshot, override=override)
    if not result.feasible:
        raise Conflict("override breaks a hard constraint: " + "; ".join(result.notes))
    broken = [b for b in result.booked_windows if b.breaks]
    if broken and not override.break_booked_windows:
        raise Conflict("override breaks the window booked with the customer of job(s) "
                       f"{', '.join(str(b.job_id) for b in broken)}: preview it, then send break_booked_windows")
    writer.lock_plan_writes(session)  # before any write (see lock_plan_writes)
    events: list[dict[str, Any]] = []
    action = override.action
    if action in (OverrideAction.lock, OverrideAction.unlock):
        if override.technician_id is None:
            raise Invalid("technician_id: required to lock or unlock a day")
        if session.get(Technician, override.technician_id) is None:
            raise NotFound(f"technician_id: technician {override.technician_id} not found")
        state = session.get(TechnicianDispatchState, override.technician_id) or TechnicianDispatchState(
            technician_id=override.technician_id)
        state.day_locked, state.updated_at = action == OverrideAction.lock, utcnow()
        session.add(state)
        events.append(make_event("technician.locked", {"technician_id": override.technician_id,
                                                       "locked": state.day_locked}, staff_only=True))
        return result, None, events
    if action == OverrideAction.unpin:
        pin = session.get(JobPin, override.job_id)
        if pin is not None:
            session.delete(pin)
        job = session.get(Job, override.job_id)
        if job is not None:  # released to the planner: pins and a dispatcher's hold both go
            job.pinned = job.dispatch_hold = False
            session.add(job)
        return result, None, events
    for tid, seq in after.items():
        for position, stop in enumerate(seq.stops):
            jid = parse_key(stop.job_id)
            pinned = action == OverrideAction.reorder or (jid == override.job_id and action != OverrideAction.unassign)
            if pinned:
                session.merge(JobPin(job_id=jid, technician_id=tid,
                                     position=position if action == OverrideAction.reorder or
                                     override.position is not None else None))
                job = session.get(Job, jid)
                if job is not None:  # placed by a dispatcher: no longer held off the plan
                    job.pinned, job.dispatch_hold = True, False
                    session.add(job)
    if action == OverrideAction.unassign:
        pin = session.get(JobPin, override.job_id)
        if pin is not None:
            session.delete(pin)
        job = session.get(Job, override.job_id)
        if job is not None:  # off the plan until a dispatcher assigns or releases it (see Job.dispatch_hold)
            job.dispatch_hold, job.pinned = True, False
            session.add(job)
    if broken:  # the dispatcher broke these bookings: the windows no longer bind, and the customers are offered new
        events += _release_broken(session=session, settings=settings, broken=broken)
    plan_row, plan_events = writer.store_routes(session=session, settings=settings, snapshot=snapshot, routes=after,
                                               trigger=f"override:{action.value}")
    session.add(JobEvent(job_id=override.job_id or (override.job_ids or [0])[0], status=f"override:{action.value}",
                         technician_id=override.technician_id, actor_user_id=user.id, actor=user.username,
                         data={"plan_version": plan_row.version, "added_travel_s": result.added_travel_s}))
    return result, plan_row.id, events + plan_events


def _release_broken(*, session: Session, settings: Settings, broken: list[BookedWindowCheck]) -> list[dict[str, Any]]:
    """Windows a dispatcher chose to break: the job no longer carries the booked window as a hard window (the next
    re-plan would drop it otherwise) and the appointment goes to a re-offer, as when a re-plan cannot keep it
    (server/appointments: ``appointment.broken``; the sweep sends the customer new windows)."""
    tz = ZoneInfo(settings.timezone)
    events: list[dict[str, Any]] = []
    for check in broken:
        job = session.get(Job, check.job_id)
        if job is not None:
            job.time_windows = []
            job.version += 1
            job.updated_at = utcnow()
            session.add(job)
        events += kept.mark_not_kept(session=session, settings=settings,
                                     day=check.start.astimezone(tz).date().isoformat(), job_ids=[check.job_id])
    return events


#: An urgent job is weighed against the days of this many capable technicians, those whose day passes nearest
#: to it (home, live position or a job of theirs, as the crow flies): the insertion reads and times their days
#: only, so it costs the same on a 1,000- or a 5,000-job day. The cheapest insertion is a short detour, and a
#: technician whose whole day is farther than 24 others' is very unlikely to be it.
URGENT_CANDIDATES = 24
_M_PER_DEG = 111_320.0  # metres per degree of latitude


def nearest_capable(*, session: Session, job: Job, k: int, day: date | None = None) -> set[int]:
    """The ``k`` technicians on shift (not sick, not absent on ``day``, day not locked) with the skills ``job``
    needs whose day passes nearest to it; every capable one when there are ``k`` or fewer. Light queries, no
    travel times."""
    from math import cos, radians

    from server.dispatch.models import TechnicianDispatchState
    from server.jobs.models import OPEN_STATUSES
    from server.technicians import service as technicians
    from server.technicians.models import Availability

    states = {s.technician_id: s for s in session.exec(select(TechnicianDispatchState)).all()}
    away = technicians.absent_on(session=session, day=day) if day is not None else set()
    rows = session.exec(select(Technician.id, Technician.skills, Technician.home_lat, Technician.home_lon,
                               Technician.current_lat, Technician.current_lon)
                        .where(Technician.availability == Availability.on_shift)).all()
    places: dict[int, list[tuple[float, float]]] = {}
    for tid, skills, home_lat, home_lon, cur_lat, cur_lon in rows:
        state = states.get(tid or 0)
        if tid in away or (state is not None and (state.day_locked or state.status == "off_sick")):
            continue
        if any((skills or {}).get(s, 0) < lvl for s, lvl in job.required_skills.items()):
            continue
        places[tid or 0] = [(home_lat, home_lon)] + ([(cur_lat, cur_lon)] if cur_lat is not None and
                                                     cur_lon is not None else [])
    if len(places) <= k:
        return set(places)
    for tid, lat, lon in session.exec(select(Job.assigned_technician_id, Job.lat, Job.lon).where(
            col(Job.status).in_([s for s in OPEN_STATUSES if s != JobStatus.unassigned]),
            col(Job.assigned_technician_id).in_(places))).all():
        places[tid or 0].append((lat, lon))
    squash = cos(radians(job.lat))

    def nearest_m(points: list[tuple[float, float]]) -> float:
        return min(((lat - job.lat) ** 2 + ((lon - job.lon) * squash) ** 2) ** 0.5 for lat, lon in points) \
            * _M_PER_DEG

    return set(sorted(places, key=lambda tid: (nearest_m(places[tid]), tid))[:k])


def insert_urgent(*, engine: Engine, settings: Settings, job_id: int) -> dict[str, Any] | None:
    """Give a new urgent job the cheapest technician now and tell its reporters the arrival window.
    Idempotent across processes (one 'auto-insert' event per job). Returns what was done."""
    from server.core.city import load_city
    from server.dispatch.runtime import after_commit

    t0 = time.perf_counter()
    city = load_city(settings)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.unassigned or job.dispatch_hold:
            return None
        if session.exec(select(JobEvent).where(JobEvent.idempotency_key == f"auto-insert:{job_id}")).first():
            return None
        today = day_origin(settings).astimezone(ZoneInfo(settings.timezone)).date()
        candidates = nearest_capable(session=session, job=job, k=URGENT_CANDIDATES, day=today)
        snapshot = build_snapshot(session=session, settings=settings, city=city, technician_ids=candidates,
                                  job_ids={job_id}) if candidates else \
            build_snapshot(session=session, settings=settings, city=city)
        if job_id not in snapshot.jobs:
            return None
        model = snapshot.problem.job(job_key(job_id))
        options = routing.recommend(snapshot.problem, snapshot.current_plan(), model, k=3)
        if not options:
            return {"job_id": job_id, "assigned": False, "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1)}
        best = options[0]
        tid = parse_key(best.technician_id)
        seq = list(snapshot.sequences.get(tid, []))
        seq.insert(best.position, job_id)
        tech_model = snapshot.problem.technician(best.technician_id)
        keys = [job_key(j) for j in seq]
        starts, brks = simulate(snapshot.problem, tech_model, keys)
        route = timeline(snapshot.problem, tech_model, keys, starts, brks)
        writer.lock_plan_writes(session)  # before any write (see lock_plan_writes)
        session.add(JobEvent(job_id=job_id, status="auto-insert", technician_id=tid, actor="planner",
                             idempotency_key=f"auto-insert:{job_id}",
                             data={"added_travel_s": best.added_travel_s, "added_cost": best.added_cost}))
        session.flush()  # a second process inserting the same job fails here and backs off
        # The snapshot took a while: if a dispatcher placed the job meanwhile, theirs stands (this transaction
        # holds the plan-writer lock, so no override can commit between this check and ours).
        session.refresh(job, with_for_update=True)
        if job.status != JobStatus.unassigned:
            session.rollback()
            return None
        plan_row, events = writer.store_routes(session=session, settings=settings, snapshot=snapshot,
                                              routes={tid: route}, trigger="urgent job")
        session.refresh(job)  # store_routes told the reporters (urgent work is announced when planned)
        session.commit()
        result = {"job_id": job_id, "assigned": True, "technician_id": tid, "plan_version": plan_row.version,
                  "eta_at": job.eta_at.isoformat() if job.eta_at else None,
                  "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1)}
    after_commit(engine=engine, settings=settings, events=events, deliver=True)
    return result


def explain(*, session: Session, settings: Settings, city: Any, job_id: int) -> dict[str, Any]:
    """Why this job is unassigned, or why it went to this technician, with the alternatives."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    if job.status not in (JobStatus.unassigned, JobStatus.assigned):
        return {"job_id": job_id, "status": job.status.value,
                "explanation": f"the job is {job.status.value}; the plan no longer decides it"}
    snapshot = build_snapshot(session=session, settings=settings, city=city)
    if job.assigned_technician_id in snapshot.locked and job.status != JobStatus.unassigned:
        # A locked day is not re-planned: its jobs stay out of the planner's problem, so there is nothing to weigh.
        owner = session.get(Technician, job.assigned_technician_id)
        return {"job_id": job_id, "status": job.status.value, "technician_id": job.assigned_technician_id,
                "explanation": f"{owner.name if owner else 'the technician'}'s day is locked: the job stays with them "
                               "as planned; unlock the day to let the planner reconsider it"}
    techs = list(snapshot.technicians.values())
    capable = [t for t in techs if not _missing_skills(t, job)]
    out: dict[str, Any] = {"job_id": job_id, "status": job.status.value,
                           "capable_technicians": [t.id for t in capable]}
    active = active_plan(session=session)
    plan_reason = next((u["reason"] for u in (active.unassigned if active else []) if u.get("job_id") == job_id),
                       None)
    skipped = next((s["reason"] for s in snapshot.skipped if s["job_id"] == job_id), None)
    if skipped:
        out["explanation"] = skipped
        return out
    if not capable:
        needs = ", ".join(f"{s} ≥ {lvl}" for s, lvl in job.required_skills.items())
        out["explanation"] = f"no technician on shift has the required skill ({needs})"
        return out
    try:
        planned = snapshot.problem.job(job_key(job_id))
    except KeyError:  # left out of today's problem for a reason not named above: say so rather than fail
        out["explanation"] = "the planner does not consider this job today (its technician's day is not re-planned)"
        return out
    model = replace(planned, pinned_technician=None, pinned_position=None)
    options = routing.recommend(snapshot.problem, snapshot.current_plan(), model, k=20)
    best: dict[str, Any] = {}
    for option in options:  # cheapest first: keep each technician's best place only
        best.setdefault(option.technician_id, option)
    options = list(best.values())[:5]
    out["alternatives"] = [{"technician_id": parse_key(o.technician_id), "position": o.position,
                            "start_at": from_s(snapshot.origin, o.start_s).isoformat(),
                            "added_travel_s": o.added_travel_s, "job_late_s": o.job_late_s,
                            "added_lateness_s": o.added_lateness_s, "added_overtime_s": o.added_overtime_s,
                            "added_cost": o.added_cost} for o in options]
    if job.status == JobStatus.unassigned:
        if not options:
            out["explanation"] = (f"{plan_reason or 'no room'}: none of the {len(capable)} capable technicians can "
                                  "fit it into their day within its time window, shift and overtime")
        else:
            o = options[0]
            out["explanation"] = (f"{plan_reason or 'not planned yet'}; the cheapest option is "
                                  f"{_name(snapshot, o.technician_id)} ({o.added_travel_s // 60} min more driving, "
                                  f"{o.added_lateness_s // 60} min later past SLAs): higher-value work fills the day")
        return out
    tech = snapshot.technicians.get(job.assigned_technician_id or 0)
    pinned = session.get(JobPin, job_id)
    mine = [o for o in options if parse_key(o.technician_id) == job.assigned_technician_id]
    others = [o for o in options if parse_key(o.technician_id) != job.assigned_technician_id]
    if pinned is not None:
        reason = "a dispatcher pinned it to this technician"
    elif others:
        o = others[0]
        reason = (f"{tech.name if tech else 'this technician'} has the skill and the next best, "
                  f"{_name(snapshot, o.technician_id)}, would add {o.added_travel_s // 60} min of driving")
    else:
        reason = "the only capable technician who can fit it in today"
    out["technician_id"] = job.assigned_technician_id
    out["explanation"] = reason
    out["current_cost_if_reinserted"] = mine[0].added_cost if mine else None
    return out
