"""Storing a routing plan as the next plan version: stops with aware UTC times, the diff against the
previous version (who moved, whose ETA changed), job assignments and ETAs, and customer ETA updates.

Two ways in: ``store_plan`` writes a whole day (a solve); ``store_routes`` writes a live change to a few
technicians (an urgent insertion, a dispatcher's override) and carries every other technician's stops over from
the previous version inside the database, so its cost follows the technicians changed, not the size of the day."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, insert, literal
from sqlmodel import Session, col, func, select

import routing
from server.appointments import kept
from server.config import Settings
from server.core.timeutil import as_utc, utcnow
from server.dispatch.problem import Snapshot, from_s, job_key, parse_key
from server.events.broker import make_event
from server.jobs.models import OPEN_STATUSES, Job, JobEvent, JobStatus
from server.notify import job_notices
from server.notify.models import JobNotice
from server.plans.models import Plan, PlanSolution, PlanStatus, PlanStop, PlanStopPublic
from server.plans.service import active_plan

ETA_CHANGE_S = 60  # smaller moves are not reported in the diff
#: The reason a job that is in no route gets when a live change (not the solver) decides the day.
NOT_ASSIGNED_YET = "not assigned yet"
_STOP_COLUMNS = ("technician_id", "job_id", "sequence", "arrival_at", "start_at", "end_at", "travel_s", "wait_s",
                 "distance_m")


def lock_plan_writes(session: Session) -> None:
    """Take the database's plan-writer lock for this transaction: PostgreSQL's advisory lock, SQLite's write
    lock. Every plan writer (solve, override, urgent insertion) takes it before its first write, so two writers
    never hold one lock each while waiting for the other's; the lock is held until the caller commits."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(704004)")
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # a write already holds it otherwise
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def store_plan(*, session: Session, settings: Settings, snapshot: Snapshot, plan: routing.Plan, trigger: str,
               solve_job_id: str | None = None) -> tuple[Plan, list[dict[str, Any]]]:
    """Write ``plan`` as the new active version (the caller commits). Returns it and the events to publish."""
    lock_plan_writes(session)
    row, events = _store(session, settings, snapshot, plan, trigger, solve_job_id)
    events += kept.mark_not_kept(session=session, settings=settings, day=row.day,  # offered again by the sweep
                                 job_ids=[u["job_id"] for u in row.unassigned])
    return row, events


def store_routes(*, session: Session, settings: Settings, snapshot: Snapshot, routes: dict[int, routing.Route],
                 trigger: str) -> tuple[Plan, list[dict[str, Any]]]:
    """Write a new active version in which only ``routes`` (technician id → their new day) changed; every other
    technician keeps their stops and times of the previous version (the caller commits). Jobs that left these
    routes and are in no other become unassigned. Without a previous version of today, writes the whole day."""
    lock_plan_writes(session)
    previous = active_plan(session=session)
    solution = session.get(PlanSolution, previous.id) if previous is not None else None
    if previous is None or solution is None or not solution.solution or previous.day != _day(settings, snapshot):
        if snapshot.scope is not None:  # a part of the day cannot be the whole day's first version
            from server.core.city import load_city
            from server.dispatch.problem import build_snapshot

            snapshot = build_snapshot(session=session, settings=settings, city=load_city(settings))
        return _store(session, settings, snapshot, full_plan(snapshot, routes), trigger, None)
    return _store_routes(session, settings, snapshot, routes, trigger, previous, solution)


def full_plan(snapshot: Snapshot, changed: dict[int, routing.Route]) -> routing.Plan:
    """The database's day (``Snapshot.current_plan``) with ``changed`` technicians' routes replaced, evaluated;
    every job in no route is unassigned ("not assigned yet")."""
    routes = [changed.get(parse_key(r.technician_id), r) for r in snapshot.current_plan().routes]
    return _evaluated(snapshot, routes, {})


def _evaluated(snapshot: Snapshot, routes: list[routing.Route], reasons: dict[int, str]) -> routing.Plan:
    served = {s.job_id for r in routes for s in r.stops}
    plan = routing.Plan(routes=routes, unassigned=[
        routing.Unassigned(job_key(j), reasons.get(j, NOT_ASSIGNED_YET)) for j in snapshot.jobs
        if job_key(j) not in served])
    plan.objective = routing.evaluate(snapshot.problem, plan)
    return plan


def _day(settings: Settings, snapshot: Snapshot) -> str:
    return snapshot.origin.astimezone(ZoneInfo(settings.timezone)).date().isoformat()


def _next_version(session: Session) -> int:
    return int(session.exec(select(func.max(Plan.version))).one() or 0) + 1


def _stop_rows(plan_id: int, snapshot: Snapshot, routes: list[routing.Route]) -> list[dict[str, Any]]:
    origin = snapshot.origin
    return [{"plan_id": plan_id, "technician_id": parse_key(route.technician_id), "job_id": parse_key(stop.job_id),
             "sequence": seq, "arrival_at": from_s(origin, stop.arrival_s), "start_at": from_s(origin, stop.start_s),
             "end_at": from_s(origin, stop.end_s), "travel_s": stop.travel_s, "wait_s": stop.wait_s,
             "distance_m": stop.distance_m} for route in routes for seq, stop in enumerate(route.stops)]


def _store(session: Session, settings: Settings, snapshot: Snapshot, plan: routing.Plan, trigger: str,
           solve_job_id: str | None) -> tuple[Plan, list[dict[str, Any]]]:
    previous = active_plan(session=session)
    before: dict[int, tuple[int, Any]] = {}
    carried: list[PlanStop] = []
    if previous is not None:
        for tid, jid, arrival in session.exec(select(PlanStop.technician_id, PlanStop.job_id, PlanStop.arrival_at)
                                              .where(PlanStop.plan_id == previous.id)).all():
            before[jid] = (tid, arrival)
        if snapshot.locked:
            carried = list(session.exec(select(PlanStop).where(PlanStop.plan_id == previous.id, col(
                PlanStop.technician_id).in_(snapshot.locked))).all())
        previous.status = PlanStatus.superseded
        session.add(previous)
    version = _next_version(session)
    unassigned = [{"job_id": parse_key(u.job_id), "reason": u.reason} for u in plan.unassigned] + snapshot.skipped
    row = Plan(version=version, status=PlanStatus.active, trigger=trigger[:60], day=_day(settings, snapshot),
               objective=asdict(plan.objective),
               stats={**asdict(plan.stats), "solve_job_id": solve_job_id, "technicians": len(plan.routes),
                      "jobs": len(snapshot.problem.jobs), "locked_technicians": sorted(snapshot.locked)},
               unassigned=unassigned)
    session.add(row)
    session.flush()
    rows = _stop_rows(row.id or 0, snapshot, plan.routes)
    after: dict[int, tuple[int, Any]] = {r["job_id"]: (r["technician_id"], r["arrival_at"]) for r in rows}
    for stop in carried:  # a locked technician's day is kept exactly as it was
        if stop.job_id not in after:
            rows.append({**stop.model_dump(exclude={"id", "plan_id"}), "plan_id": row.id or 0})
            after[stop.job_id] = (stop.technician_id, stop.arrival_at)
    if rows:
        session.execute(insert(PlanStop), rows)  # one batched INSERT, not a unit-of-work object per stop
    row.diff = _diff(previous, before, after, len(unassigned))
    events = _jobs_follow(session, settings, snapshot, version, after, unassigned)
    session.add(PlanSolution(plan_id=row.id or 0, solve_job_id=solve_job_id, day_origin=snapshot.origin,
                             problem=_problem_summary(snapshot), solution=_plain(plan),
                             coords=[list(p) for p in snapshot.coords]))
    session.flush()
    return row, _plan_events(row, snapshot, plan.routes, events)


def _store_routes(session: Session, settings: Settings, snapshot: Snapshot, routes: dict[int, routing.Route],
                  trigger: str, previous: Plan, solution: PlanSolution) -> tuple[Plan, list[dict[str, Any]]]:
    changed = set(routes)
    new_routes = list(routes.values())
    moved_jobs = {parse_key(s.job_id) for r in new_routes for s in r.stops}
    # The previous stops that can change: the changed technicians' and the jobs now in their routes.
    before: dict[int, tuple[int, Any]] = {}
    for tid, jid, arrival in session.exec(select(PlanStop.technician_id, PlanStop.job_id, PlanStop.arrival_at).where(
            PlanStop.plan_id == previous.id,
            col(PlanStop.technician_id).in_(changed) | col(PlanStop.job_id).in_(moved_jobs or {-1}))).all():
        before[jid] = (tid, arrival)
    reasons = {int(u["job_id"]): str(u["reason"]) for u in previous.unassigned if u.get("job_id") is not None}
    # The stored solution with these routes replaced (warm starts read it): jobs still open only.
    partial = snapshot.scope is not None
    if partial:
        known = {job_key(j) for j in session.exec(select(Job.id).where(col(Job.status).in_(OPEN_STATUSES))).all()}
        techs = None
    else:
        known = {j.id for j in snapshot.problem.jobs}
        techs = {t.id for t in snapshot.problem.technicians}
    # Kept as the stored dicts (no records rebuilt): a live change on a 5,000-job day copies lists, not objects.
    new_ids = {r.technician_id for r in new_routes}

    def trimmed(route: dict[str, Any]) -> dict[str, Any]:
        stops = [s for s in route["stops"] if s["job_id"] in known and parse_key(s["job_id"]) not in moved_jobs]
        return route if len(stops) == len(route["stops"]) else {**route, "stops": stops}

    kept = [trimmed(r) for r in solution.solution.get("routes", [])
            if r["technician_id"] not in new_ids and (techs is None or r["technician_id"] in techs)]
    # Jobs that left the changed routes for no other: unassigned now.
    left = [{"job_id": jid, "reason": reasons.get(jid, NOT_ASSIGNED_YET)} for jid in before
            if jid not in moved_jobs and before[jid][0] in changed and jid in snapshot.jobs]
    status = f"live change: {trigger}"[:200]
    if partial:
        # Only these technicians' days were read: the rest of the day is the previous version's, and the
        # objective is the previous one moved by what this change did to these days.
        routed = {s["job_id"] for r in kept for s in r["stops"]} | {job_key(j) for j in moved_jobs}
        unassigned = [u for u in previous.unassigned if u.get("job_id") is None or (
            job_key(int(u["job_id"])) in known and job_key(int(u["job_id"])) not in routed)]
        unassigned += [u for u in left if u["job_id"] not in reasons]
        spans = [r["end_s"] - r["start_s"] for r in kept if r["stops"]] + \
            [r.end_s - r.start_s for r in new_routes if r.stops]
        objective = _moved_objective(previous, snapshot, snapshot.current_routes(changed), routes, spans, reasons,
                                     left)
        stats = {**solution.solution.get("stats", {}), "status": status}
        stored_solution: dict[str, Any] = {
            "routes": kept + [_plain(r) for r in new_routes],
            "unassigned": [{"job_id": job_key(int(u["job_id"])), "reason": str(u["reason"])} for u in unassigned
                           if u.get("job_id") is not None],
            "objective": asdict(objective), "stats": stats}
    else:
        plan = _evaluated(snapshot, routing.Plan.from_dict({"routes": kept}).routes + new_routes, reasons)
        plan.stats = routing.Plan.from_dict({"routes": [], "stats": solution.solution.get("stats", {})}).stats
        plan.stats.status = status
        unassigned = [{"job_id": parse_key(u.job_id), "reason": u.reason} for u in plan.unassigned] + snapshot.skipped
        objective, stats, stored_solution = plan.objective, asdict(plan.stats), _plain(plan)
    previous.status = PlanStatus.superseded
    session.add(previous)
    version = _next_version(session)
    row = Plan(version=version, status=PlanStatus.active, trigger=trigger[:60], day=previous.day,
               objective=asdict(objective),
               stats={**stats, "solve_job_id": None, "technicians": len(stored_solution["routes"]),
                      "jobs": len(known) if partial else len(snapshot.problem.jobs),
                      "locked_technicians": sorted(snapshot.locked) if not partial else
                      previous.stats.get("locked_technicians", []),
                      "changed_technicians": sorted(changed)},
               unassigned=unassigned)
    session.add(row)
    session.flush()
    # Every other technician's stops, copied inside the database (jobs still open only).
    cols = [getattr(PlanStop, c) for c in _STOP_COLUMNS]
    still_open = select(Job.id).where(col(Job.status).in_(OPEN_STATUSES))
    carry = select(literal(row.id, Integer).label("plan_id"), *cols).where(
        PlanStop.plan_id == previous.id, col(PlanStop.technician_id).not_in(changed),
        col(PlanStop.job_id).not_in(moved_jobs or {-1}), col(PlanStop.job_id).in_(still_open))
    session.execute(insert(PlanStop).from_select(["plan_id", *_STOP_COLUMNS], carry))
    rows = _stop_rows(row.id or 0, snapshot, new_routes)
    if rows:
        session.execute(insert(PlanStop), rows)
    # Counted, not the INSERT's rowcount: PostgreSQL's driver reports -1 for it through the ORM.
    stored = session.exec(select(func.count()).select_from(PlanStop).where(PlanStop.plan_id == row.id)).one()
    after = {r["job_id"]: (r["technician_id"], r["arrival_at"]) for r in rows}
    gone = {u["job_id"] for u in left}
    row.diff = {**_diff(previous, {j: v for j, v in before.items() if j in after or j in gone}, after,
                        len(unassigned)), "assigned": int(stored)}
    events = _jobs_follow(session, settings, snapshot, version, after, left)
    session.add(PlanSolution(plan_id=row.id or 0, solve_job_id=None, day_origin=snapshot.origin,
                             problem=_problem_summary(snapshot), solution=stored_solution,
                             coords=[list(p) for p in snapshot.coords]))
    session.flush()
    # The stops that differ from the previous version: the changed days, the days a moved job left, and the days
    # that lost a finished job (not carried over). A console holding the previous version patches these in.
    closed = session.exec(select(PlanStop.technician_id).where(
        PlanStop.plan_id == previous.id, col(PlanStop.technician_id).not_in(changed),
        col(PlanStop.job_id).not_in(moved_jobs or {-1}), col(PlanStop.job_id).not_in(still_open))).all()
    affected = changed | {tid for tid, _ in before.values()} | set(closed)
    delta = _plan_delta(session, row, previous, affected, unassigned, int(stored))
    return row, _plan_events(row, snapshot, new_routes, events, delta)


def _plan_delta(session: Session, row: Plan, previous: Plan, technicians: set[int],
                unassigned: list[dict[str, Any]], stops_total: int) -> dict[str, Any]:
    """What turns the previous version into ``row`` for a client that holds it (``plan.created``'s ``delta``):
    the whole days of ``technicians`` (every other day is unchanged), the unassigned list's changes, the plan's
    own fields, and the totals a client checks its patched copy against (it reads the plan afresh on a mismatch,
    or when the version it holds is not ``previous_version``)."""
    stops = session.exec(select(PlanStop).where(PlanStop.plan_id == row.id,
                                                col(PlanStop.technician_id).in_(technicians or {-1}))
                         .order_by(col(PlanStop.technician_id), col(PlanStop.sequence))).all()
    was = {u.get("job_id"): u.get("reason") for u in previous.unassigned}
    now = {u.get("job_id"): u.get("reason") for u in unassigned}
    return {
        "previous_version": previous.version, "technicians": sorted(technicians),
        "stops": [PlanStopPublic.model_validate(s, from_attributes=True).model_dump(mode="json") for s in stops],
        "unassigned_added": [u for u in unassigned if u.get("job_id") not in was or was[u.get("job_id")] !=
                             u.get("reason")],
        "unassigned_removed": [j for j in was if j not in now],
        "stops_total": stops_total, "unassigned_total": len(unassigned),
        "plan": {"id": row.id, "version": row.version, "status": row.status, "trigger": row.trigger, "day": row.day,
                 "created_at": as_utc(row.created_at).isoformat(), "objective": row.objective, "stats": row.stats,
                 "diff": row.diff}}


_ADDITIVE = ("jobs_served", "technicians_used", "travel_s", "distance_m", "sla_late_jobs", "sla_lateness_s",
             "overtime_s", "continuity_misses", "cost")


def _moved_objective(previous: Plan, snapshot: Snapshot, before: dict[int, routing.Route],
                     after: dict[int, routing.Route], spans: list[int], reasons: dict[int, str],
                     left: list[dict[str, Any]]) -> routing.ObjectiveBreakdown:
    """The previous version's objective moved by a live change to a few days: each summed term plus what the
    changed days add now minus what they cost before the change (both timed now); spans over every route; the
    unassigned counts moved by the jobs that entered or left the changed days."""
    problem = snapshot.problem
    was = routing.evaluate(problem, routing.Plan(routes=[before[t] for t in after if t in before]))
    now = routing.evaluate(problem, routing.Plan(routes=list(after.values())))
    out = routing.ObjectiveBreakdown(**{**asdict(routing.ObjectiveBreakdown()), **(previous.objective or {})})
    for name in _ADDITIVE:
        setattr(out, name, getattr(out, name) + getattr(now, name) - getattr(was, name))
    out.max_route_span_s, out.min_route_span_s = (max(spans), min(spans)) if spans else (0, 0)
    by_priority = dict(out.unassigned_by_priority)

    def key(job_id: int) -> str:
        job = problem.job(job_key(job_id))
        return "must_serve" if job.must_serve else str(job.priority)

    entered = [parse_key(s.job_id) for r in after.values() for s in r.stops if parse_key(s.job_id) in reasons]
    for jid in entered:
        by_priority[key(jid)] = max(0, by_priority.get(key(jid), 0) - 1)
    for u in left:
        if u["job_id"] not in reasons:
            by_priority[key(u["job_id"])] = by_priority.get(key(u["job_id"]), 0) + 1
    out.unassigned_by_priority = {k: v for k, v in by_priority.items() if v}
    out.jobs_unassigned = sum(out.unassigned_by_priority.values())
    return out


def _diff(previous: Plan | None, before: dict[int, tuple[int, Any]], after: dict[int, tuple[int, Any]],
          unassigned: int) -> dict[str, Any]:
    moved, eta_changed = [], []
    for jid in sorted(set(before) | set(after)):
        old, new = before.get(jid), after.get(jid)
        if (old and old[0]) != (new and new[0]):
            moved.append({"job_id": jid, "from": old[0] if old else None, "to": new[0] if new else None})
        elif old and new and abs((as_utc(new[1]) - as_utc(old[1])).total_seconds()) >= ETA_CHANGE_S:
            eta_changed.append({"job_id": jid, "technician_id": new[0], "from": as_utc(old[1]).isoformat(),
                                "to": as_utc(new[1]).isoformat(),
                                "delta_s": int((as_utc(new[1]) - as_utc(old[1])).total_seconds())})
    return {"previous_version": previous.version if previous else None, "moved": moved,
            "eta_changed": eta_changed, "assigned": len(after), "unassigned": unassigned}


def _jobs_follow(session: Session, settings: Settings, snapshot: Snapshot, version: int,
                 after: dict[int, tuple[int, datetime]], unassigned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Jobs follow the plan (only those still waiting; started or finished work is left alone), and their
    reporters hear about it. Reads the touched jobs and their notices in two queries, whatever their number."""
    touched = set(after) | {u["job_id"] for u in unassigned}
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_(touched or {-1}))).all()}
    # In the session's identity map from here on: job_notices.maybe_update_eta's lookup is not a query.
    told = {n.job_id for n in session.exec(select(JobNotice).where(col(JobNotice.job_id).in_(touched or {-1}))).all()}
    events: list[dict[str, Any]] = []
    now = utcnow()
    for jid, (tid, arrival) in after.items():
        job = jobs.get(jid)
        if job is None:
            continue
        if job.status in (JobStatus.unassigned, JobStatus.assigned):
            changed = job.assigned_technician_id != tid or job.status != JobStatus.assigned
            if changed:
                old_tid = job.assigned_technician_id
                job.status, job.assigned_technician_id = JobStatus.assigned, tid
                job.version += 1
                session.add(JobEvent(job_id=jid, status="assigned", previous_status=None if old_tid is None else
                                     "assigned", technician_id=tid, actor="planner",
                                     data={"plan_version": version, "from_technician_id": old_tid}))
                events.append(make_event("job.assigned", {"job_id": jid, "technician_id": tid,
                                                          "previous_technician_id": old_tid,
                                                          "eta_at": as_utc(arrival).isoformat(),
                                                          "plan_version": version, "version": job.version},
                                         technician_ids=[tid, old_tid]))
            job.eta_at = arrival
            job.updated_at = now
            session.add(job)
            tech = snapshot.technicians.get(tid)
            if tech is not None:
                if job.priority >= settings.dispatch_urgent_priority and jid not in told:
                    events += job_notices.send_eta(session=session, settings=settings, job=job, tech=tech, eta=arrival,
                                               kind="scheduled")  # urgent work: the reporter hears when it is planned
                elif jid in told:  # nobody was told a window otherwise: nothing to update
                    events += job_notices.maybe_update_eta(session=session, settings=settings, job=job, tech=tech,
                                                       eta=arrival)
        elif job.status == JobStatus.en_route and job.assigned_technician_id == tid:
            job.eta_at = arrival
            session.add(job)
    for item in unassigned:
        job = jobs.get(item["job_id"])
        if job is not None and job.status == JobStatus.assigned:
            old_tid = job.assigned_technician_id
            job.status, job.assigned_technician_id, job.eta_at = JobStatus.unassigned, None, None
            job.version += 1
            job.updated_at = now
            session.add(job)
            session.add(JobEvent(job_id=job.id or 0, status="unassigned", previous_status="assigned",
                                 technician_id=old_tid, actor="planner", reason=item["reason"],
                                 data={"plan_version": version}))
            events.append(make_event("job.unassigned", {"job_id": job.id, "previous_technician_id": old_tid,
                                                        "reason": item["reason"], "plan_version": version,
                                                        "version": job.version, "dispatch_hold": job.dispatch_hold},
                                     technician_ids=[old_tid]))
    return events


def _plan_events(row: Plan, snapshot: Snapshot, routes: list[routing.Route],
                 job_events: list[dict[str, Any]], delta: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``plan.created`` for the consoles, the jobs' own events, then ``route.updated`` for each technician whose
    day is in ``routes``. A live change's ``plan.created`` carries its ``delta`` (``_plan_delta``); a whole day's
    (a solve) carries none: a console reads that plan afresh."""
    diff = row.diff or {}
    out = [make_event("plan.created", {
        "plan_id": row.id, "version": row.version, "trigger": row.trigger, "objective": row.objective,
        "diff": {"moved": len(diff.get("moved", [])), "eta_changed": len(diff.get("eta_changed", []))},
        "delta": delta}, staff_only=True), *job_events]
    for route in routes:  # each technician hears about their own day
        tid = parse_key(route.technician_id)
        out.append(make_event("route.updated", {
            "technician_id": tid, "plan_version": row.version,
            "stops": [{"job_id": parse_key(s.job_id), "arrival_at": from_s(snapshot.origin, s.arrival_s).isoformat()}
                      for s in route.stops]}, technician_ids=[tid]))
    return out


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` for the problem's records, without its deep copy of every value (5x faster on a
    1,000-job day); the same dicts and lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _problem_summary(snapshot: Snapshot) -> dict[str, Any]:
    """The problem without its matrices (those are rebuilt from the street network on demand)."""
    return {"technicians": [_plain(t) for t in snapshot.problem.technicians],
            "jobs": [_plain(j) for j in snapshot.problem.jobs], "now_s": snapshot.now_s,
            "locations": len(snapshot.coords),
            "scope": None if snapshot.scope is None else {"technician_ids": sorted(snapshot.scope)}}


def solution_of(*, session: Session, plan_id: int) -> PlanSolution | None:
    return session.get(PlanSolution, plan_id)
