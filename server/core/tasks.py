"""Background work by name. ``submit(SOLVE, ...)`` runs the named task on a Celery worker when a broker is set, else
on this process's worker threads (never inside a request or on the event loop).

Why by name: the feature that asks for work (dispatch asks for a delivery, a plan change asks for a solve) must not
import the feature that does it, nor the Celery task module (that was an import cycle hidden inside functions:
dispatch/service -> runtime -> workers/tasks -> dispatch/service). Each feature registers the function behind its
names (``register``); the Celery tasks in ``server/workers/tasks.py`` call the same functions. A name whose feature
has not been imported yet in this process is loaded from ``_HOMES`` on first use."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from server.config import Settings
from server.core.db import make_engine

log = logging.getLogger("groundcrew.tasks")

SOLVE = "groundcrew.solve"  # (solve_job_id): run a stored solve job
REGION = "groundcrew.region"  # (problem dict, time limit s[, warm plan, plan in force]): one dispatch region, dicts
DELIVER = "groundcrew.deliver"  # (): deliver queued customer messages
HORIZON = "groundcrew.horizon"  # (): plan the working days after today when the daily roll-over is due

#: Where each name's function is registered (imported by name on first use, so nothing here imports a feature).
_HOMES = {SOLVE: "server.dispatch.service", REGION: "server.dispatch.regions", DELIVER: "server.notify.service",
          HORIZON: "server.horizon.service"}

_handlers: dict[str, Callable[..., Any]] = {}
#: Solves one at a time per process (each uses both cores); everything else on two side threads.
_solver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundcrew-solve")
_side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="groundcrew-dispatch")
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def register(name: str, fn: Callable[..., Any]) -> None:
    """``fn(engine, settings, *args)`` does the work named ``name`` (in process and in the Celery task)."""
    _handlers[name] = fn


def handler(name: str) -> Callable[..., Any]:
    if name not in _handlers:
        importlib.import_module(_HOMES[name])
    return _handlers[name]


def engine_for(settings: Settings) -> Engine:
    """One engine per database URL in this process (Celery workers have no app to hold one)."""
    url = settings.resolved_database_url
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(settings)
        return _engines[url]


def run(name: str, settings: Settings, *args: Any, engine: Engine | None = None) -> Any:
    """Do the named work now, in this thread (what a Celery task and a worker thread both call)."""
    return handler(name)(engine or engine_for(settings), settings, *args)


def _guarded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        log.exception("background work failed: %s", getattr(fn, "__name__", fn))


def submit(name: str, *, engine: Engine, settings: Settings, args: tuple[Any, ...] = (), delay_s: float = 0.0) -> None:
    """Run the named work after ``delay_s``: a Celery task when a broker is set, else a worker thread here."""
    if settings.broker_url:
        from server.workers.celery_app import app

        app.send_task(name, args=list(args), countdown=delay_s or None)
        return
    fn = handler(name)

    def _run() -> None:
        if delay_s:
            time.sleep(delay_s)
        fn(engine, settings, *args)

    (_solver if name == SOLVE else _side).submit(_guarded, _run)


def run_in_background(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """A function of this process on a side thread (in-process work that has no name)."""
    _side.submit(_guarded, fn, *args, **kwargs)
