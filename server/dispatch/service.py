"""Planning service: solve jobs (queued → running → succeeded | failed | cancelled) with best-so-far,
coalesced triggers, and the plan they store. A solve job may run in this process or on a Celery worker;
either way the plan insert is idempotent per solve job (a retried task never stores twice)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

import routing
from server.audit import service as audit
from server.auth.models import User
from server.config import Settings
from server.core import tasks
from server.core.errors import Conflict, DomainError, NotFound, TooMany
from server.core.timeutil import utcnow
from server.dispatch.models import TERMINAL_SOLVE, SolveJob, SolveStatus, TechnicianDispatchState
from server.dispatch.problem import Snapshot, build_snapshot
from server.dispatch.regions import solve_regions, wants_regions
from server.dispatch.runtime import after_commit, submit_solve
from server.events.broker import make_event
from server.jobs.models import JobEvent
from server.plans import writer
from server.plans.models import Plan, PlanSolution
from server.plans.service import active_plan

log = logging.getLogger("groundcrew.dispatch")

#: How often a running solve looks for a cancel request in the database (s). The optimizer asks more often (every
#: 0.2 s); the answer in between is the last one read.
CANCEL_POLL_S = 0.5
#: Least time between two stored progress reports of a solve (s): each is a write and an event to every console.
PROGRESS_EVERY_S = 1.0
#: How many times a solve overtaken by a live change carries its best plan onto the day as it is now before it gives
#: up (see ``_carry_over``); on a day that changes every few seconds, dropping it instead would mean the optimizer's
#: work seldom lands.
CARRY_OVER_TRIES = 2
#: Optimizer time for one carry-over (s): enough to place the jobs the change freed or added, not to re-plan.
CARRY_OVER_S = 1.0


def get(*, session: Session, solve_id: str) -> SolveJob:
    """The solve job, or NotFound."""
    job = session.get(SolveJob, solve_id)
    if job is None:
        raise NotFound(f"solve job {solve_id} not found")
    return job


def list_solves(*, session: Session, limit: int = 20) -> list[SolveJob]:
    """The most recent solve jobs."""
    return list(session.exec(select(SolveJob).order_by(col(SolveJob.created_at).desc()).limit(limit)).all())


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(worker: str | None) -> bool:
    """True when ``worker`` ("host:pid") names a process on this host that no longer exists."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


#: A queued solve may wait behind others (one solver per process, or a Celery backlog), but not this long.
QUEUED_STALE_S = 900.0


def expire_abandoned(*, session: Session, engine: Engine, settings: Settings) -> list[SolveJob]:
    """Fail solves whose worker is gone (commits): a process killed mid-solve, or a server restarted with
    solves still queued in its memory. Without this a dead solve stays "running", every later trigger joins
    the queued one that will never start, and the plan is never updated again.

    Gone means: the process recorded on the solve (this host, in-process workers) no longer exists, or no result
    came long after its time limit - a solve always returns within its limit plus a small constant. With Celery
    a killed worker's task is redelivered (acks_late), so only the clock counts, and it waits out the broker's
    visibility timeout first."""
    now = utcnow()
    open_jobs = session.exec(select(SolveJob).where(col(SolveJob.status).in_(
        [SolveStatus.queued, SolveStatus.running]))).all()
    expired: list[SolveJob] = []
    for job in open_jobs:
        worker = next((p.get("worker") for p in reversed(job.progress) if p.get("worker")), None)
        redelivery = settings.celery_visibility_timeout_s if settings.broker_url else 0.0
        if job.status == SolveStatus.running:
            since = job.started_at or job.created_at
            late = (now - since).total_seconds() > job.time_limit_s + max(120.0, job.time_limit_s) + redelivery
        else:
            late = (now - job.created_at).total_seconds() > settings.dispatch_coalesce_s + QUEUED_STALE_S + redelivery
        if not (late or (not settings.broker_url and _process_gone(worker))):
            continue
        where = f" by {worker}" if worker else ""
        job.status, job.finished_at = SolveStatus.failed, now
        job.error = (f"abandoned: the worker {'running' if job.started_at else 'holding'} this solve{where} stopped "
                     "before it finished; request a new solve")
        session.add(job)
        expired.append(job)
    if expired:
        session.commit()
        log.warning("expired %d abandoned solve(s): %s", len(expired), [j.id for j in expired])
        after_commit(engine=engine, settings=settings, events=[_event(j) for j in expired])
    return expired


def request_solve(*, session: Session, engine: Engine, settings: Settings, trigger: str, reason: str | None = None,
                  time_limit_s: float | None = None, requested_by: str = "system",
                  coalesce: bool = True) -> tuple[SolveJob, bool]:
    """Queue a solve (commits). A burst of triggers joins the solve still waiting to start: returns (job, created)."""
    expire_abandoned(session=session, engine=engine, settings=settings)
    if coalesce:
        waiting = session.exec(select(SolveJob).where(SolveJob.status == SolveStatus.queued,
                                                      col(SolveJob.cancel_requested).is_(False),
                                                      col(SolveJob.region).is_(None))
                               .order_by(col(SolveJob.created_at))).first()
        if waiting is not None:
            waiting.reasons = [*waiting.reasons, reason or trigger][-50:]
            session.add(waiting)
            session.commit()
            return waiting, False
    open_solves = session.exec(select(func.count()).select_from(SolveJob).where(
        col(SolveJob.status).in_([SolveStatus.queued, SolveStatus.running]))).one()
    if open_solves >= settings.dispatch_max_open_solves:
        raise TooMany(f"{open_solves} solves are already queued or running (at most "
                      f"{settings.dispatch_max_open_solves}); wait for one to finish or stop one "
                      "(DELETE /dispatch/solves/{id})", retry_after_s=max(1, round(settings.dispatch_solve_time_s)))
    limit = time_limit_s or (settings.dispatch_solve_time_s if trigger in ("manual", "morning")
                             else settings.dispatch_replan_time_s)
    # In-process solves live in this process's memory until they start: record whose, so that a restart
    # can tell an orphan from a solve waiting its turn (see expire_abandoned).
    queued_by = [] if settings.broker_url else [{"at": utcnow().isoformat(), "event": "queued",
                                                 "worker": _worker_id()}]
    job = SolveJob(id=uuid.uuid4().hex, trigger=trigger[:60], reasons=[reason or trigger], time_limit_s=limit,
                   requested_by=requested_by, progress=queued_by)
    session.add(job)
    session.commit()
    submit_solve(engine=engine, settings=settings, solve_job_id=job.id,
                 delay_s=settings.dispatch_coalesce_s if coalesce else 0.0)
    return job, True


def request_replan(*, session: Session, engine: Engine, settings: Settings, trigger: str,
                   reason: str) -> tuple[SolveJob, bool] | None:
    """A coalesced re-plan after something changed, unless the deployment re-plans only on request:
    (job, created) or None."""
    if not settings.dispatch_auto_replan:
        return None
    return request_solve(session=session, engine=engine, settings=settings, trigger=trigger, reason=reason)


def cancel(*, session: Session, solve_id: str, actor: User) -> SolveJob:
    """Stop a solve early: a queued one never starts; a running one stores its best plan so far."""
    job = get(session=session, solve_id=solve_id)
    if job.status in TERMINAL_SOLVE:
        raise Conflict(f"solve job {solve_id} already finished ({job.status})")
    job.cancel_requested = True
    if job.status == SolveStatus.queued:
        job.status, job.finished_at = SolveStatus.cancelled, utcnow()
    session.add(job)
    audit.record(session=session, action="cancel", entity="solve_job", entity_id=None, actor_user_id=actor.id,
                 actor=actor.username, detail={"solve_job_id": solve_id})
    session.commit()
    return job


def _event(job: SolveJob) -> dict[str, Any]:
    return make_event("solve.updated", {"solve_job_id": job.id, "status": str(job.status), "trigger": job.trigger,
                                        "best_cost": job.best_cost, "plan_id": job.plan_id}, staff_only=True)


def _better(a: routing.Plan, b: routing.Plan | None) -> bool:
    if b is None:
        return True
    return (a.objective.jobs_unassigned, a.objective.cost) < (b.objective.jobs_unassigned, b.objective.cost)


def previous_solution(*, session: Session, snapshot: Snapshot) -> routing.Plan | None:
    """The active plan's routing solution, restricted to what still exists (for warm starts)."""
    active = active_plan(session=session)
    if active is None:
        return None
    sol = session.get(PlanSolution, active.id)
    if sol is None or not sol.solution:
        return None
    known = {j.id for j in snapshot.problem.jobs}
    techs = {t.id for t in snapshot.problem.technicians}
    prev = routing.Plan.from_dict(sol.solution)
    prev.routes = [routing.Route(r.technician_id, 0, 0, stops=[s for s in r.stops if s.job_id in known])
                   for r in prev.routes if r.technician_id in techs]
    return prev


def _claim(engine: Engine, solve_job_id: str) -> SolveJob | None:
    """Mark the job running (again, after a killed worker); None when there is nothing to do."""
    with Session(engine) as session:
        job = session.get(SolveJob, solve_job_id)
        if job is None or job.status in TERMINAL_SOLVE:
            return None
        if job.cancel_requested:
            job.status, job.finished_at = SolveStatus.cancelled, utcnow()
            session.add(job)
            session.commit()
            return None
        job.status, job.attempts, job.started_at = SolveStatus.running, job.attempts + 1, utcnow()
        job.progress = [*job.progress, {"at": utcnow().isoformat(), "event": f"attempt {job.attempts} started",
                                        "worker": _worker_id()}]
        session.add(job)
        session.commit()
        session.refresh(job)
        session.expunge(job)
        return job


def run_solve_job(*, engine: Engine, settings: Settings, solve_job_id: str) -> int | None:
    """Run one solve job to completion (any process); returns the stored plan id. Safe to run twice."""
    from server.core.city import load_city

    job = _claim(engine, solve_job_id)
    if job is None:
        return None
    after_commit(engine=engine, settings=settings, events=[_event(job)])
    try:
        city = load_city(settings)
        planned_at = utcnow()  # a change recorded from here on counts as after the snapshot
        with Session(engine) as session:
            base = active_plan(session=session)  # read before the snapshot: a change in between counts as after
            snapshot = build_snapshot(session=session, settings=settings, city=city).without_held()
            warm = previous_solution(session=session, snapshot=snapshot)
        best = _optimize(engine, settings, job, snapshot, warm)
        return _store(engine, settings, job, city, snapshot, best, base.version if base is not None else 0,
                      planned_at)
    except Exception as exc:
        if isinstance(exc, DomainError):  # nothing to plan (no technician on shift...): a reason, not a crash
            log.warning("solve job %s not run: %s", solve_job_id, exc)
        else:
            log.exception("solve job %s failed", solve_job_id)
        with Session(engine) as session:
            row = session.get(SolveJob, solve_job_id)
            if row is not None and row.status not in TERMINAL_SOLVE:
                row.status, row.error, row.finished_at = SolveStatus.failed, f"{type(exc).__name__}: {exc}"[:2000], \
                    utcnow()
                session.add(row)
                session.commit()
                after_commit(engine=engine, settings=settings, events=[_event(row)])
        return None


def _store(engine: Engine, settings: Settings, job: SolveJob, city: Any, snapshot: Snapshot, best: routing.Plan,
           base_version: int, planned_at: datetime) -> int | None:
    """Store the solve's plan of ``snapshot`` (plan version ``base_version`` read at ``planned_at``); when a live
    change overtook it, carry it onto the day as it is now first (``_carry_over``, up to ``CARRY_OVER_TRIES``
    times)."""
    for tries_left in range(CARRY_OVER_TRIES, -1, -1):
        stored = _finish(engine, settings, job.id, snapshot, best, base_version, planned_at,
                         may_carry_over=tries_left > 0)
        if stored is not _OVERTAKEN:
            return stored
        try:
            now_at = utcnow()
            with Session(engine) as session:
                now_base = active_plan(session=session)
                now_snapshot = build_snapshot(session=session, settings=settings, city=city).without_held()
        except DomainError:  # nothing left to plan (every technician off): it ends as it would have without
            return _finish(engine, settings, job.id, snapshot, best, base_version, planned_at)
        planned_at, snapshot = now_at, now_snapshot
        base_version = now_base.version if now_base is not None else 0
        best = _carry_over(engine, settings, job, snapshot, best)
    return None


class _SolveWatch:
    """The running solve's link to its row: ``should_stop`` reads the cancel request (at most every
    ``CANCEL_POLL_S``), ``on_progress`` stores the best plan's cost so far and tells the consoles (at most every
    ``PROGRESS_EVERY_S``; the last report is always kept for ``flush``), ``on_region`` counts a regional solve's
    regions in."""

    def __init__(self, engine: Engine, settings: Settings, solve_job_id: str) -> None:
        self.engine, self.settings, self.solve_job_id = engine, settings, solve_job_id
        self.cancelled = False
        self.next_poll = 0.0
        self.next_write = 0.0
        self.pending: routing.SolveProgress | None = None

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.cancelled or now < self.next_poll:
            return self.cancelled
        self.next_poll = now + CANCEL_POLL_S
        with Session(self.engine) as session:
            row = session.get(SolveJob, self.solve_job_id)
            self.cancelled = row is None or row.cancel_requested
        return self.cancelled

    def on_progress(self, progress: routing.SolveProgress) -> None:
        self.pending = progress
        if time.monotonic() >= self.next_write:
            self.flush()

    def on_region(self, planned: int, regions: int) -> None:
        """A regional solve's step: one more region's plan is in (one write and event each; a day has tens)."""
        self._record({"event": f"{planned} of {regions} regions planned", "regions_planned": planned,
                      "regions": regions})

    def flush(self) -> None:
        progress, self.pending = self.pending, None
        if progress is None:
            return
        self.next_write = time.monotonic() + PROGRESS_EVERY_S
        objective = progress.plan.objective
        self._record({"s": progress.elapsed_s, "cost": objective.cost, "unassigned": objective.jobs_unassigned},
                     objective)

    def _record(self, entry: dict[str, Any], best: routing.ObjectiveBreakdown | None = None) -> None:
        """Append ``entry`` (timed now) to the solve's progress, with ``best`` as its best so far when given, and
        tell the consoles."""
        with Session(self.engine) as session:
            row = session.get(SolveJob, self.solve_job_id)
            if row is None:
                return
            if best is not None:
                row.best_cost, row.best_objective = best.cost, asdict(best)
            row.progress = [*row.progress, {"at": utcnow().isoformat(), **entry}][-200:]
            session.add(row)
            session.commit()
            event = _event(row)
        after_commit(engine=self.engine, settings=self.settings, events=[event])


def _optimize(engine: Engine, settings: Settings, job: SolveJob, snapshot: Snapshot,
              warm: routing.Plan | None) -> routing.Plan:
    """One optimizer run for the whole time limit (a run cut into warm-started pieces plans worse), stopped within
    about a second when the solve is cancelled; its best plan so far is stored as it improves."""
    watch = _SolveWatch(engine, settings, job.id)
    if wants_regions(settings, snapshot):
        return solve_regions(settings, snapshot, job.time_limit_s, should_stop=watch.should_stop,
                             on_region=watch.on_region, warm=warm)
    best = routing.solve(snapshot.problem, time_limit_s=job.time_limit_s, seed=job.attempts, warm_start=warm,
                         should_stop=watch.should_stop, on_progress=watch.on_progress)
    watch.flush()
    return _never_worse(snapshot, best)


def _carry_over(engine: Engine, settings: Settings, job: SolveJob, snapshot: Snapshot,
                best: routing.Plan) -> routing.Plan:
    """This solve's best plan moved onto ``snapshot``, the day as it is after a live change: a short warm-started
    solve keeps its routes where they still hold (a pinned job goes where the dispatcher put it, a technician off
    sick has no route, a finished job is gone) and places the jobs the change freed or added. Moving a job away from
    its technician is priced against the plan in force now (what people were told), not against the superseded best.
    The superseded search is not lost, and the next solve starts from the stored result. A regional day is carried
    over region by region (each from its part of ``best``), as it was solved."""
    watch = _SolveWatch(engine, settings, job.id)
    if wants_regions(settings, snapshot):
        carried = solve_regions(settings, snapshot, CARRY_OVER_S, should_stop=watch.should_stop, warm=best,
                                in_force=snapshot.current_plan())
    else:
        carried = routing.solve(snapshot.problem, time_limit_s=CARRY_OVER_S, seed=job.attempts, warm_start=best,
                                in_force=snapshot.current_plan(), should_stop=watch.should_stop)
    return _never_worse(snapshot, carried)


def _never_worse(snapshot: Snapshot, best: routing.Plan) -> routing.Plan:
    """A re-plan cut short (little time, a busy machine) must not undo a better day that is already assigned:
    keep the current assignment when it is feasible and better."""
    from routing import REASON_CAPACITY, evaluate, screen

    current = snapshot.current_plan()
    served = {s.job_id for r in current.routes for s in r.stops}
    _, screened = screen(snapshot.problem)  # the binding cause where there is one (a skill nobody has, ...)
    current.unassigned = [routing.Unassigned(j.id, screened.get(k, REASON_CAPACITY))
                          for k, j in enumerate(snapshot.problem.jobs) if j.id not in served]
    if not served or routing.check_feasibility(snapshot.problem, current):
        return best
    current.objective = evaluate(snapshot.problem, current)
    if _better(current, best):
        current.stats = best.stats
        current.stats.status = f"{best.stats.status}; kept the current assignment (better than this solve)"
        return current
    return best


def _changes_since(session: Session, base_version: int, planned_at: datetime | None) -> list[str]:
    """The live changes made since the solve read the day (plan version ``base_version`` at ``planned_at``): a
    version written (an override, an urgent insertion, another solve), a technician's dispatch status (off sick,
    running late) or a job step by a person. Storing a plan of the day before them would undo them until the next
    re-plan: a job a dispatcher moved jumping back, a sick technician's jobs given back to them, a customer told a
    new time and then the old one."""
    changed = [f"v{version} {trigger}" for version, trigger in session.exec(
        select(Plan.version, Plan.trigger).where(col(Plan.version) > base_version).order_by(col(Plan.version))).all()]
    if planned_at is not None:
        changed += [f"technician {tid} {status}" for tid, status in session.exec(
            select(TechnicianDispatchState.technician_id, TechnicianDispatchState.status)
            .where(col(TechnicianDispatchState.updated_at) > planned_at)).all()]
        changed += [f"job {jid} {status}" for jid, status in session.exec(
            select(JobEvent.job_id, JobEvent.status).where(col(JobEvent.at) > planned_at, JobEvent.actor != "planner")
            .order_by(col(JobEvent.id))).all()]
    return changed


def _superseded(session: Session, row: SolveJob, changed: list[str]) -> str | None:
    """Why this solve's plan, overtaken by the live ``changed`` and not carried over, must not be stored, or None.
    It is left out when a solve requested after this one started will plan (or has planned) the day as it is now;
    without one it is stored as before."""
    if not changed:
        return None
    since = row.started_at or row.created_at
    later = session.exec(select(SolveJob.id).where(
        SolveJob.id != row.id, col(SolveJob.created_at) > since, col(SolveJob.region).is_(None),
        col(SolveJob.status).in_([SolveStatus.queued, SolveStatus.running, SolveStatus.succeeded]))
        .order_by(col(SolveJob.created_at))).first()
    if later is None:
        return None
    what = ", ".join(changed[-3:])
    return (f"superseded: the day changed while this solve ran ({what}); solve {later}, requested after it started, "
            "plans the day as it is now")


#: ``_finish``'s answer when the day changed under the solve and it may carry its plan over (see ``_carry_over``).
_OVERTAKEN = -1


def _finish(engine: Engine, settings: Settings, solve_job_id: str, snapshot: Snapshot,
            best: routing.Plan, base_version: int = 0, planned_at: datetime | None = None, *,
            may_carry_over: bool = False) -> int | None:
    """Store ``best`` as the next plan version and finish the solve; returns the plan id, None when it is not
    stored, or ``_OVERTAKEN`` when a live change overtook it and ``may_carry_over`` (nothing written then but a
    progress note)."""
    with Session(engine) as session:
        writer.lock_plan_writes(session)  # before the row lock below (see lock_plan_writes)
        row = session.exec(select(SolveJob).where(SolveJob.id == solve_job_id).with_for_update()).one()
        if row.plan_id is not None or row.status in TERMINAL_SOLVE:  # another attempt already stored it
            return row.plan_id
        existing = session.exec(select(PlanSolution).where(PlanSolution.solve_job_id == solve_job_id)).first()
        changed = [] if existing is not None else _changes_since(session, base_version, planned_at)
        if changed and may_carry_over and not row.cancel_requested:
            row.progress = [*row.progress, {"at": utcnow().isoformat(), "event": "the day changed while it ran ("
                                            f"{', '.join(changed[-3:])}): carrying its best plan onto the day as it "
                                            "is now"}][-200:]
            session.add(row)
            session.commit()
            return _OVERTAKEN
        stale = _superseded(session, row, changed)
        if stale is not None:
            row.status, row.error, row.finished_at = SolveStatus.cancelled, stale[:2000], utcnow()
            row.best_cost, row.best_objective = best.objective.cost, asdict(best.objective)
            session.add(row)
            session.commit()
            event = _event(row)
            log.info("solve %s not stored: %s", solve_job_id, stale)
            after_commit(engine=engine, settings=settings, events=[event])
            return None
        if existing is not None:
            row.plan_id = existing.plan_id
            events: list[dict[str, Any]] = []
        else:
            trigger = row.trigger if len(row.reasons) <= 1 else f"{row.trigger} (+{len(row.reasons) - 1})"
            plan, events = writer.store_plan(session=session, settings=settings, snapshot=snapshot, plan=best,
                                            trigger=trigger, solve_job_id=solve_job_id)
            row.plan_id = plan.id
        row.status = SolveStatus.cancelled if row.cancel_requested else SolveStatus.succeeded
        row.finished_at = utcnow()
        row.best_cost, row.best_objective = best.objective.cost, asdict(best.objective)
        session.add(row)
        session.commit()
        events.append(_event(row))
        plan_id = row.plan_id
    after_commit(engine=engine, settings=settings, events=events)
    return plan_id


tasks.register(tasks.SOLVE, lambda engine, settings, solve_job_id: run_solve_job(
    engine=engine, settings=settings, solve_job_id=solve_job_id))
