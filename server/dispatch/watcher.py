"""The dispatch watcher (one thread per API process): new urgent jobs are inserted at once, other new
jobs trigger a coalesced re-plan, and the morning plan is made when the day starts. Every action is
idempotent, so several API processes may watch the same database."""

from __future__ import annotations

import logging
import time as _time
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from server.config import Settings
from server.core.periodic import Periodic
from server.core.timeutil import utcnow
from server.dispatch import control, service
from server.dispatch.models import SolveJob, SolveStatus
from server.jobs.models import Job, JobStatus
from server.plans.models import Plan
from server.plans.service import active_plan

log = logging.getLogger("groundcrew.dispatch")

EXPIRY_EVERY_S = 10.0
#: A morning plan that could not be made (no technician on shift yet, none on the map) is tried again
#: after this long, not on every tick: each attempt is a solve record and a logged failure.
MORNING_RETRY_S = 600.0
#: The morning check (3-4 queries) runs this often, not on every tick: the plan is made within seconds of the hour
#: all the same, and an idle API process asks the database ~5 times a second instead of ~20.
MORNING_CHECK_S = 5.0


class Watcher(Periodic):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__("groundcrew-dispatch-watcher", settings.dispatch_watch_interval_s, self.tick, log)
        self.engine, self.settings = engine, settings
        self.last_id: int | None = None
        self.next_expiry = 0.0
        self.next_morning = 0.0

    def tick(self) -> None:
        with Session(self.engine) as session:
            if _time.monotonic() >= self.next_expiry:  # orphaned solves: checked now and then, not every tick
                self.next_expiry = _time.monotonic() + EXPIRY_EVERY_S
                service.expire_abandoned(session=session, engine=self.engine, settings=self.settings)
            if self.last_id is None:
                self.last_id = int(session.exec(select(func.max(Job.id))).one() or 0)
                return
            # Plain values, read before ``_morning`` commits (a commit expires ORM instances, and these are
            # used after the session closes).
            new = list(session.exec(select(Job.id, Job.status, Job.priority).where(col(Job.id) > self.last_id)
                                    .order_by(col(Job.id))).all())
            has_plan = bool(new) and active_plan(session=session) is not None
            if _time.monotonic() >= self.next_morning:
                self.next_morning = _time.monotonic() + MORNING_CHECK_S
                self._morning(session)
        if not new:
            return
        self.last_id = max(job_id or 0 for job_id, _, _ in new)
        if not has_plan:
            return
        replan = False
        for job_id, status, priority in new:
            if status != JobStatus.unassigned:
                continue
            if priority >= self.settings.dispatch_urgent_priority:
                result = control.insert_urgent(engine=self.engine, settings=self.settings, job_id=job_id or 0)
                log.info("urgent job inserted: %s", result)
                if result is not None and result.get("assigned"):
                    # Placed and its reporter told: a whole-day re-plan for one job would cost a full solve and
                    # a full plan write (seconds on a 1,000-job day, holding the plan-writer lock the next urgent
                    # job waits for) and could move the job its reporter was just told about.
                    continue
            replan = True
        if replan:
            with Session(self.engine) as session:
                service.request_replan(session=session, engine=self.engine, settings=self.settings,
                                       trigger="new jobs", reason=f"{len(new)} new job(s)")

    def _morning(self, session: Session) -> None:
        if not self.settings.dispatch_morning_at:
            return
        tz = ZoneInfo(self.settings.timezone)
        now = utcnow().astimezone(tz)
        if now.time() < time.fromisoformat(self.settings.dispatch_morning_at):
            return
        day = now.date().isoformat()
        if session.exec(select(Plan.id).where(Plan.day == day)).first() is not None:
            return
        if session.exec(select(Job.id).where(Job.status == JobStatus.unassigned)).first() is None:
            return
        pending = session.exec(select(SolveJob.id).where(col(SolveJob.status).in_([SolveStatus.queued,
                                                                                  SolveStatus.running]),
                                                         col(SolveJob.region).is_(None))).first()
        if pending is not None:
            return  # a solve under way or about to start makes today's plan; a request now would only join it
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        last = session.exec(select(SolveJob).where(SolveJob.trigger == "morning", SolveJob.created_at >= midnight)
                            .order_by(col(SolveJob.created_at).desc())).first()
        if last is not None and (last.status != SolveStatus.failed
                                 or last.created_at > utcnow() - timedelta(seconds=MORNING_RETRY_S)):
            return  # today's morning plan is under way, or failed a moment ago: not again on every tick
        service.request_solve(session=session, engine=self.engine, settings=self.settings, trigger="morning",
                              reason=f"morning plan for {day} at {datetime.now(tz):%H:%M}")
