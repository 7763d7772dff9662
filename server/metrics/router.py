"""SLA and operations metrics: JSON for the console at ``/metrics/ops``; Prometheus text at ``/metrics``."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from server.core.deps import SessionDep, SettingsDep, StaffUser
from server.metrics import service

router = APIRouter(tags=["metrics"])
_lock = threading.Lock()


def _metrics(request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The figures, recomputed at most every ``metrics_cache_s`` in this process: they aggregate every job, and
    every open console and Prometheus polls them."""
    state = request.app.state
    cached = getattr(state, "ops_metrics", None)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    with _lock:  # one computation at a time; the others take its result
        cached = getattr(state, "ops_metrics", None)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        figures = service.compute(session=session)
        state.ops_metrics = (time.monotonic() + settings.metrics_cache_s, figures)
        return figures


@router.get("/metrics/ops", summary="Open jobs by status, SLA at risk/breached, response and resolution times, "
                                    "travel per job, utilization per technician")
def ops_metrics(request: Request, session: SessionDep, settings: SettingsDep, _: StaffUser) -> dict:
    return _metrics(request, session, settings)


@router.get("/metrics", response_class=PlainTextResponse, summary="The same figures for Prometheus (text format)")
def prometheus_metrics(request: Request, session: SessionDep, settings: SettingsDep) -> PlainTextResponse:
    body = service.prometheus(_metrics(request, session, settings))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
