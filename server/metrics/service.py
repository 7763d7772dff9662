"""SLA and operations metrics, computed from the database (so every API process reports the same)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import SolveJob
from server.jobs.models import OPEN_STATUSES, Job, JobEvent, JobStatus
from server.plans.models import Plan, PlanStatus, PlanStop
from server.technicians import service as technicians
from server.technicians.models import Technician

AT_RISK_WINDOW = timedelta(minutes=60)


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    ordered = sorted(values)
    return {"count": len(values), "mean": round(statistics.fmean(values), 1),
            "p50": round(ordered[len(ordered) // 2], 1), "p90": round(ordered[min(len(ordered) - 1,
                                                                                  int(len(ordered) * 0.9))], 1)}


def _first_steps(session: Session) -> dict[tuple[int, str], datetime]:
    """When each job first reached on_site and completed: one grouped query, not every event of every job."""
    rows = session.exec(select(JobEvent.job_id, JobEvent.status, func.min(JobEvent.at))
                        .where(col(JobEvent.status).in_(("on_site", "completed")))
                        .group_by(col(JobEvent.job_id), col(JobEvent.status))).all()
    return {(job_id, status): as_utc(at) for job_id, status, at in rows}


def compute(*, session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Open jobs by status, SLA at risk / breached, response and resolution times (minutes), travel per
    job and utilization per technician from the active plan, and solve job counts."""
    now = as_utc(now or utcnow())
    jobs = list(session.exec(select(Job)).all())
    by_status = Counter(j.status.value for j in jobs)
    first = _first_steps(session)
    at_risk, breached_open, breached_closed, met = [], [], [], 0
    response, resolution = [], []
    for job in jobs:
        arrived = first.get((job.id or 0, "on_site"))
        completed = first.get((job.id or 0, "completed"))
        if arrived:
            response.append((arrived - as_utc(job.created_at)).total_seconds() / 60)
        if completed:
            resolution.append((completed - as_utc(job.created_at)).total_seconds() / 60)
        if job.sla_due_at is None:
            continue
        due = as_utc(job.sla_due_at)
        if job.status in OPEN_STATUSES and arrived is None:
            if now > due:
                breached_open.append(job.id)
            elif (job.eta_at and as_utc(job.eta_at) > due) or (job.eta_at is None and due - now < AT_RISK_WINDOW):
                at_risk.append(job.id)
        elif arrived is not None:
            if arrived > due:
                breached_closed.append(job.id)
            else:
                met += 1
    plan = session.exec(select(Plan).where(Plan.status == PlanStatus.active).order_by(col(Plan.version).desc())
                        ).first()
    travel_per_job = None
    utilization: dict[str, dict[str, Any]] = {}
    if plan is not None:
        stops = list(session.exec(select(PlanStop).where(PlanStop.plan_id == plan.id)).all())
        if stops:
            travel_per_job = round(sum(s.travel_s for s in stops) / len(stops) / 60, 1)
        techs = {t.id: t for t in session.exec(select(Technician)).all()}
        local_today = date.fromisoformat(plan.day) if plan.day else now.date()  # the plan's local service day
        per: dict[int, list[PlanStop]] = defaultdict(list)
        for s in stops:
            per[s.technician_id].append(s)
        for tid, tech in techs.items():
            mine = per.get(tid or 0, [])
            shift = technicians.shift_on(tech=tech, day=local_today)  # None: their weekly pattern has today off
            shift_s = (datetime.combine(local_today, shift.end) - datetime.combine(local_today, shift.start)
                       ).total_seconds() if shift is not None else 0
            service_s = sum((as_utc(s.end_at) - as_utc(s.start_at)).total_seconds() for s in mine)
            travel_s = sum(s.travel_s for s in mine)
            utilization[str(tid)] = {
                "name": tech.name, "jobs": len(mine), "service_min": round(service_s / 60, 1),
                "travel_min": round(travel_s / 60, 1),
                "utilization": round((service_s + travel_s) / shift_s, 3) if shift_s > 0 else None}
    solves = Counter(s.value for s in session.exec(select(SolveJob.status)).all())
    return {
        "at": now.isoformat(),
        "jobs": {"total": len(jobs), "open": sum(by_status[s.value] for s in OPEN_STATUSES),
                 "by_status": {s.value: by_status.get(s.value, 0) for s in JobStatus}},
        "sla": {"at_risk": len(at_risk), "breached_open": len(breached_open), "breached_closed": len(breached_closed),
                "met": met, "at_risk_job_ids": sorted(at_risk)[:100], "breached_job_ids": sorted(breached_open)[:100]},
        "response_min": _summary(response),
        "resolution_min": _summary(resolution),
        "travel_per_job_min": travel_per_job,
        "plan": ({"version": plan.version, "trigger": plan.trigger, "unassigned": len(plan.unassigned)}
                 if plan else None),
        "technicians": utilization,
        "solves": dict(solves),
    }


def _labels(**kw: Any) -> str:
    def esc(v: Any) -> str:
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kw.items()) + "}"


def prometheus(metrics: dict[str, Any]) -> str:
    """The same figures in the Prometheus text exposition format (version 0.0.4): aggregates and ids, no names."""
    lines: list[str] = []

    def gauge(name: str, help_: str, samples: list[tuple[dict[str, Any], float | int | None]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            if value is not None:
                lines.append(f"{name}{_labels(**labels) if labels else ''} {value}")

    gauge("groundcrew_jobs", "Jobs by status.", [({"status": s}, n) for s, n in metrics["jobs"]["by_status"].items()])
    gauge("groundcrew_jobs_open", "Open jobs (not completed, unable or cancelled).", [({}, metrics["jobs"]["open"])])
    sla = metrics["sla"]
    gauge("groundcrew_sla_jobs", "Jobs by SLA state.", [({"state": k}, sla[k]) for k in
                                                         ("at_risk", "breached_open", "breached_closed", "met")])
    for key, name in (("response_min", "response"), ("resolution_min", "resolution")):
        summary = metrics[key]
        gauge(f"groundcrew_{name}_minutes", f"{name.title()} time in minutes (created → "
              f"{'on site' if name == 'response' else 'completed'}).",
              [({"stat": s}, summary[s]) for s in ("mean", "p50", "p90")])
        gauge(f"groundcrew_{name}_count", f"Jobs with a {name} time.", [({}, summary["count"])])
    gauge("groundcrew_travel_per_job_minutes", "Planned driving per job in the active plan.",
          [({}, metrics["travel_per_job_min"])])
    # /metrics is scraped without a login (Prometheus' default): ids only, never a person's name.
    gauge("groundcrew_technician_utilization", "Planned (service + travel) / shift per technician.",
          [({"technician_id": tid}, t["utilization"]) for tid, t in metrics["technicians"].items()])
    gauge("groundcrew_technician_jobs", "Jobs per technician in the active plan.",
          [({"technician_id": tid}, t["jobs"]) for tid, t in metrics["technicians"].items()])
    gauge("groundcrew_solve_jobs", "Solve jobs by status.", [({"status": s}, n) for s, n in metrics["solves"].items()])
    gauge("groundcrew_plan_version", "Active plan version.", [({}, (metrics["plan"] or {}).get("version"))])
    return "\n".join(lines) + "\n"
