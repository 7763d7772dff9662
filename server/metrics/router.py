"""SLA and operations metrics: JSON for the console at ``/metrics/ops``; Prometheus text at ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from server.core.deps import SessionDep, StaffUser
from server.metrics import service

router = APIRouter(tags=["metrics"])


@router.get("/metrics/ops", summary="Open jobs by status, SLA at risk/breached, response and resolution times, "
                                    "travel per job, utilization per technician")
def ops_metrics(session: SessionDep, _: StaffUser) -> dict:
    return service.compute(session=session)


@router.get("/metrics", response_class=PlainTextResponse, summary="The same figures for Prometheus (text format)")
def prometheus_metrics(session: SessionDep) -> PlainTextResponse:
    body = service.prometheus(service.compute(session=session))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
