"""Where dispatch work runs: in-process worker threads by default, Celery workers when a broker is set.
Nothing here runs inside a request or on the event loop; requests only enqueue."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from server.config import Settings
from server.core.db import make_engine
from server.events.broker import publish_all

log = logging.getLogger("groundcrew.dispatch")

_solver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundcrew-solve")
_side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="groundcrew-dispatch")
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(settings: Settings) -> Engine:
    """One engine per database URL in this process (Celery workers have no app to hold one)."""
    url = settings.resolved_database_url
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(settings)
        return _engines[url]


def _guarded(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("background dispatch work failed: %s", getattr(fn, "__name__", fn))


def submit_solve(*, engine: Engine, settings: Settings, solve_job_id: str, delay_s: float = 0.0) -> None:
    """Run the solve job after ``delay_s`` (the coalescing window) on a worker."""
    if settings.broker_url:
        from server.workers.tasks import solve_task

        solve_task.apply_async(args=[solve_job_id], countdown=delay_s)
        return
    from server.dispatch.service import run_solve_job

    def _run() -> None:
        if delay_s:
            time.sleep(delay_s)
        run_solve_job(engine=engine, settings=settings, solve_job_id=solve_job_id)

    _solver.submit(_guarded, _run)


def deliver_soon(*, engine: Engine, settings: Settings) -> None:
    """Deliver queued customer messages through the connector (a Celery task when scaled out)."""
    if settings.broker_url:
        from server.workers.tasks import deliver_task

        deliver_task.delay()
        return
    from server.notify.service import deliver_queued

    _side.submit(_guarded, deliver_queued, engine=engine, settings=settings)


def run_in_background(fn: Any, *args: Any, **kwargs: Any) -> None:
    _side.submit(_guarded, fn, *args, **kwargs)


def after_commit(*, engine: Engine, settings: Settings, events: list[dict[str, Any]], deliver: bool = False) -> None:
    """Publish the events of a committed change and start delivering any messages it queued."""
    publish_all(settings, events)
    if deliver or any(e.get("type") == "message.queued" for e in events):
        deliver_soon(engine=engine, settings=settings)
