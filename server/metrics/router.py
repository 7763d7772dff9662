"""SLA and operations metrics: JSON for the console at ``/metrics/ops``; Prometheus text at ``/metrics``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import PlainTextResponse

from server.core.deps import SettingsDep, StaffUser
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read
from server.metrics import service

router = FeatureRouter(tags=["metrics"])


async def _metrics(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """The figures, recomputed at most every ``metrics_cache_s`` in this process: they aggregate every job, and
    every open console and Prometheus polls them. A fresh copy is answered on the event loop (no session, no
    thread); requests that find it stale together share one recomputation."""
    state = request.app.state
    cached = getattr(state, "ops_metrics", None)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    figures = await shared_read(request, ("ops-metrics",), lambda session: service.compute(session=session))
    state.ops_metrics = (time.monotonic() + settings.metrics_cache_s, figures)
    return figures


@router.get("/metrics/ops", summary="Open jobs by status, SLA at risk/breached, response and resolution times, "
                                    "travel per job, utilization per technician")
async def ops_metrics(request: Request, settings: SettingsDep, _: StaffUser) -> dict:
    return await _metrics(request, settings)


@router.get("/metrics", response_class=PlainTextResponse, summary="The same figures for Prometheus (text format)")
async def prometheus_metrics(request: Request, settings: SettingsDep) -> PlainTextResponse:
    body = service.prometheus(await _metrics(request, settings))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
