"""Where dispatch work runs, for the dispatch features: solves and deliveries by name through ``server.core.tasks``
(Celery workers when a broker is set, worker threads here otherwise), and the events of a committed change.
Imports no feature: nothing here knows who solves or who delivers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from server.config import Settings
from server.core import tasks
from server.core.tasks import engine_for, run_in_background
from server.events.broker import publish_all

__all__ = ["after_commit", "deliver_soon", "engine_for", "run_in_background", "submit_solve"]


def submit_solve(*, engine: Engine, settings: Settings, solve_job_id: str, delay_s: float = 0.0) -> None:
    """Run the solve job after ``delay_s`` (the coalescing window) on a worker."""
    tasks.submit(tasks.SOLVE, engine=engine, settings=settings, args=(solve_job_id,), delay_s=delay_s)


def deliver_soon(*, engine: Engine, settings: Settings) -> None:
    """Deliver queued customer messages through the connectors (a Celery task when scaled out)."""
    tasks.submit(tasks.DELIVER, engine=engine, settings=settings)


def after_commit(*, engine: Engine, settings: Settings, events: list[dict[str, Any]], deliver: bool = False) -> None:
    """Publish the events of a committed change and start delivering any messages it queued."""
    publish_all(settings, events)
    if deliver or any(e.get("type") == "message.queued" for e in events):
        deliver_soon(engine=engine, settings=settings)
