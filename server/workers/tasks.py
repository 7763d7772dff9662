"""Celery tasks: optimization (whole area or one region), customer-message delivery, imports. Each is
idempotent: it may run again after a killed worker and must not do anything twice."""

from __future__ import annotations

from typing import Any

from server.config import Settings
from server.workers.celery_app import app


def _settings() -> Settings:
    return Settings()


@app.task(name="groundcrew.solve", acks_late=True, reject_on_worker_lost=True)
def solve_task(solve_job_id: str) -> int | None:
    """Run a solve job stored in the database (idempotent per solve job)."""
    from server.dispatch.runtime import engine_for
    from server.dispatch.service import run_solve_job

    settings = _settings()
    return run_solve_job(engine=engine_for(settings), settings=settings, solve_job_id=solve_job_id)


@app.task(name="groundcrew.region", acks_late=True, reject_on_worker_lost=True)
def region_task(problem: dict[str, Any], time_limit_s: float) -> dict[str, Any]:
    """Solve one dispatch region (pure: a retry just solves again)."""
    from server.dispatch.regions import solve_one

    return solve_one(problem, time_limit_s)


@app.task(name="groundcrew.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver_task() -> int:
    """Deliver queued customer messages (each message is delivered at most once: status changes first)."""
    from server.dispatch.runtime import engine_for
    from server.notify.service import deliver_queued

    settings = _settings()
    return deliver_queued(engine=engine_for(settings), settings=settings)
