"""Celery tasks: optimization (whole area or one region), customer-message delivery. Each is idempotent: it may run
again after a killed worker and must not do anything twice. Each runs the function its feature registered under the
task's name (``server.core.tasks``); the features themselves never import this module."""

from __future__ import annotations

from typing import Any

from server.config import Settings
from server.core import tasks
from server.workers.celery_app import app


def _settings() -> Settings:
    return Settings()


@app.task(name=tasks.SOLVE, acks_late=True, reject_on_worker_lost=True)
def solve_task(solve_job_id: str) -> int | None:
    """Run a solve job stored in the database (idempotent per solve job)."""
    return tasks.run(tasks.SOLVE, _settings(), solve_job_id)


@app.task(name=tasks.REGION, acks_late=True, reject_on_worker_lost=True)
def region_task(problem: dict[str, Any], time_limit_s: float, warm: dict[str, Any] | None = None,
                in_force: dict[str, Any] | None = None) -> dict[str, Any]:
    """Solve one dispatch region, from its part of the plan being re-planned when given (pure: a retry just solves
    again)."""
    return tasks.run(tasks.REGION, _settings(), problem, time_limit_s, warm, in_force)


@app.task(name=tasks.DELIVER, acks_late=True, reject_on_worker_lost=True)
def deliver_task() -> int:
    """Deliver queued customer messages (each message is delivered at most once: status changes first)."""
    return tasks.run(tasks.DELIVER, _settings())


@app.task(name=tasks.HORIZON, acks_late=True, reject_on_worker_lost=True)
def horizon_task() -> int | None:
    """The daily horizon roll-over when it is due (a repeat finds it done and does nothing): the new run's id."""
    return tasks.run(tasks.HORIZON, _settings())
