"""Storing a routing plan as the next plan version: stops with aware UTC times, the diff against the
previous version (who moved, whose ETA changed), job assignments and ETAs, and customer ETA updates."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

import routing
from server.config import Settings
from server.core.timeutil import as_utc, utcnow
from server.dispatch import notices
from server.dispatch.models import JobEvent, JobNotice, PlanSolution
from server.dispatch.problem import Snapshot, from_s, parse_key
from server.events.broker import make_event
from server.jobs.models import Job, JobStatus
from server.plans.models import Plan, PlanStatus, PlanStop

ETA_CHANGE_S = 60  # smaller moves are not reported in the diff


def active_plan(*, session: Session) -> Plan | None:
    return session.exec(select(Plan).where(Plan.status == PlanStatus.active).order_by(col(Plan.version).desc())).first()


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
    return _store(session, settings, snapshot, plan, trigger, solve_job_id)


def _store(session: Session, settings: Settings, snapshot: Snapshot, plan: routing.Plan, trigger: str,
           solve_job_id: str | None) -> tuple[Plan, list[dict[str, Any]]]:
    origin = snapshot.origin
    previous = active_plan(session=session)
    before: dict[int, tuple[int, Any]] = {}
    carried: list[PlanStop] = []
    if previous is not None:
        for stop in session.exec(select(PlanStop).where(PlanStop.plan_id == previous.id)).all():
            before[stop.job_id] = (stop.technician_id, stop.arrival_at)
            if stop.technician_id in snapshot.locked:
                carried.append(stop)
        previous.status = PlanStatus.superseded
        session.add(previous)
    version = int(session.exec(select(func.max(Plan.version))).one() or 0) + 1
    day = origin.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    unassigned = [{"job_id": parse_key(u.job_id), "reason": u.reason} for u in plan.unassigned] + snapshot.skipped
    row = Plan(version=version, status=PlanStatus.active, trigger=trigger[:60], day=day,
               objective=asdict(plan.objective),
               stats={**asdict(plan.stats), "solve_job_id": solve_job_id, "technicians": len(plan.routes),
                      "jobs": len(snapshot.problem.jobs), "locked_technicians": sorted(snapshot.locked)},
               unassigned=unassigned)
    session.add(row)
    session.flush()
    after: dict[int, tuple[int, Any]] = {}
    for route in plan.routes:
        tid = parse_key(route.technician_id)
        for seq, stop in enumerate(route.stops):
            jid = parse_key(stop.job_id)
            arrival = from_s(origin, stop.arrival_s)
            session.add(PlanStop(plan_id=row.id or 0, technician_id=tid, job_id=jid, sequence=seq, arrival_at=arrival,
                                 start_at=from_s(origin, stop.start_s), end_at=from_s(origin, stop.end_s),
                                 travel_s=stop.travel_s, wait_s=stop.wait_s, distance_m=stop.distance_m))
            after[jid] = (tid, arrival)
    for stop in carried:  # a locked technician's day is kept exactly as it was
        if stop.job_id not in after:
            session.add(PlanStop(**{**stop.model_dump(exclude={"id", "plan_id"}), "plan_id": row.id or 0}))
            after[stop.job_id] = (stop.technician_id, stop.arrival_at)

    events: list[dict[str, Any]] = []
    moved, eta_changed = [], []
    for jid in sorted(set(before) | set(after)):
        old, new = before.get(jid), after.get(jid)
        if (old and old[0]) != (new and new[0]):
            moved.append({"job_id": jid, "from": old[0] if old else None, "to": new[0] if new else None})
        elif old and new and abs((as_utc(new[1]) - as_utc(old[1])).total_seconds()) >= ETA_CHANGE_S:
            eta_changed.append({"job_id": jid, "technician_id": new[0], "from": as_utc(old[1]).isoformat(),
                                "to": as_utc(new[1]).isoformat(),
                                "delta_s": int((as_utc(new[1]) - as_utc(old[1])).total_seconds())})
    row.diff = {"previous_version": previous.version if previous else None, "moved": moved,
                "eta_changed": eta_changed, "assigned": len(after), "unassigned": len(unassigned)}

    # Jobs follow the plan (only those still waiting; started or finished work is left alone).
    touched = set(after) | {u["job_id"] for u in unassigned}
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_(touched or {-1}))).all()}
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
                                                          "plan_version": version},
                                         technician_ids=[tid, old_tid]))
            job.eta_at = arrival
            job.updated_at = now
            session.add(job)
            tech = snapshot.technicians.get(tid)
            if tech is not None:
                if job.priority >= settings.dispatch_urgent_priority and session.get(JobNotice, jid) is None:
                    events += notices.send_eta(session=session, settings=settings, job=job, tech=tech, eta=arrival,
                                               kind="scheduled")  # urgent work: the reporter hears when it is planned
                else:
                    events += notices.maybe_update_eta(session=session, settings=settings, job=job, tech=tech,
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
                                                        "reason": item["reason"], "plan_version": version},
                                     technician_ids=[old_tid]))
    session.add(PlanSolution(plan_id=row.id or 0, solve_job_id=solve_job_id, day_origin=origin,
                             problem=_problem_summary(snapshot),
                             solution=plan.to_dict(), coords=[list(p) for p in snapshot.coords]))
    session.flush()
    events.insert(0, make_event("plan.created", {
        "plan_id": row.id, "version": version, "trigger": row.trigger, "objective": row.objective,
        "diff": {"moved": len(moved), "eta_changed": len(eta_changed)}}, staff_only=True))
    for route in plan.routes:  # each technician hears about their own day
        tid = parse_key(route.technician_id)
        events.append(make_event("route.updated", {
            "technician_id": tid, "plan_version": version,
            "stops": [{"job_id": parse_key(s.job_id), "arrival_at": from_s(origin, s.arrival_s).isoformat()}
                      for s in route.stops]}, technician_ids=[tid]))
    return row, events


def _problem_summary(snapshot: Snapshot) -> dict[str, Any]:
    """The problem without its matrices (those are rebuilt from the street network on demand)."""
    from dataclasses import asdict as as_dict

    return {"technicians": [as_dict(t) for t in snapshot.problem.technicians],
            "jobs": [as_dict(j) for j in snapshot.problem.jobs], "now_s": snapshot.now_s,
            "locations": len(snapshot.coords)}


def solution_of(*, session: Session, plan_id: int) -> PlanSolution | None:
    return session.get(PlanSolution, plan_id)
