"""Dispatch operations API: solve jobs, dispatcher overrides with previews, explanations, the technician
lifecycle, live location, and technician status changes (which trigger coalesced re-plans)."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError

from server.auth.access import ensure_job_visible
from server.core.city import CityDep
from server.core.deps import CurrentUser, DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import Conflict
from server.core.routing import FeatureRouter
from server.dispatch import control, lifecycle, service
from server.dispatch.models import (
    AttachmentPublic,
    JobEventPublic,
    LocationPing,
    Override,
    OverridePreview,
    SolveJob,
    SolveJobPublic,
    SolveRequest,
    StatusChange,
    TechnicianStatusChange,
)
from server.dispatch.runtime import after_commit
from server.jobs import service as jobs
from server.jobs.models import JobPublic


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start this process's dispatch watcher (new urgent jobs, morning plan) when the city is loaded here."""
    settings = app.state.settings
    watcher = None
    if settings.dispatch_background and settings.load_city:
        from server.dispatch.watcher import Watcher

        watcher = Watcher(app.state.engine, settings)
        watcher.start()
    try:
        yield
    finally:
        if watcher is not None:
            watcher.close()


router = FeatureRouter(tags=["dispatch"], lifespan=lifespan)


def _engine(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.engine


@router.post("/dispatch/solves", response_model=SolveJobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Start solving a new plan (returns at once; poll GET for status and best-so-far)")
def start_solve(body: SolveRequest, session: SessionDep, settings: SettingsDep, user: DispatcherUser,
                request: Request, response: Response) -> SolveJob:
    job, _ = service.request_solve(session=session, engine=_engine(request), settings=settings,
                                   trigger=body.trigger, reason=f"{body.trigger} by {user.username}",
                                         time_limit_s=body.time_limit_s, requested_by=user.username, coalesce=False)
    response.headers["Location"] = f"/dispatch/solves/{job.id}"
    return job


@router.get("/dispatch/solves", response_model=list[SolveJobPublic], summary="Recent solve jobs")
def list_solves(session: SessionDep, _: StaffUser,
                limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[SolveJob]:
    return service.list_solves(session=session, limit=limit)


@router.get("/dispatch/solves/{solve_id}", response_model=SolveJobPublic, summary="A solve job: status, best so far")
def get_solve(solve_id: str, session: SessionDep, _: StaffUser) -> SolveJob:
    return service.get(session=session, solve_id=solve_id)


@router.delete("/dispatch/solves/{solve_id}", response_model=SolveJobPublic,
               summary="Stop a solve early (a running one keeps and stores its best plan so far)")
def stop_solve(solve_id: str, session: SessionDep, user: DispatcherUser) -> SolveJob:
    return service.cancel(session=session, solve_id=solve_id, actor=user)


@router.post("/dispatch/overrides/preview", response_model=OverridePreview,
             summary="What an assign/unassign/pin/reorder/lock would cost (added travel, SLA risk); changes nothing")
async def preview_override(body: Override, session: SessionDep, settings: SettingsDep, city: CityDep,
                           _: DispatcherUser) -> OverridePreview:
    def _run() -> OverridePreview:
        snapshot = control.preview_snapshot(session=session, settings=settings, city=city, override=body)
        return control.preview(snapshot=snapshot, override=body)[0]

    return await run_in_threadpool(_run)


@router.post("/dispatch/overrides/commit", summary="Make the override: a new plan version, then a coalesced re-plan")
async def commit_override(body: Override, session: SessionDep, settings: SettingsDep, city: CityDep,
                          user: DispatcherUser, request: Request) -> dict:
    def _run() -> dict:
        result, plan_id, events = control.commit(session=session, settings=settings, city=city, override=body,
                                                 user=user)
        session.commit()
        after_commit(engine=_engine(request), settings=settings, events=events)
        replan = service.request_replan(session=session, engine=_engine(request), settings=settings,
                                        trigger="override", reason=f"{body.action.value} by {user.username}")
        return {"preview": result.model_dump(mode="json"), "plan_id": plan_id,
                "replan_solve_id": replan[0].id if replan else None}

    return await run_in_threadpool(_run)


@router.get("/dispatch/jobs/{job_id}/explain",
            summary="Why this job is unassigned, or why it went to this technician (with the alternatives)")
async def explain(job_id: int, session: SessionDep, settings: SettingsDep, city: CityDep, _: StaffUser) -> dict:
    return await run_in_threadpool(control.explain, session=session, settings=settings, city=city, job_id=job_id)


_ERROR_BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@router.post("/jobs/{job_id}/status", response_model=JobPublic,
             summary="Lifecycle step: en_route, on_site, completed (notes, parts, photos, signature), unable, "
                     "cancelled; send an idempotency_key from the app's outbox",
             responses={413: {"description": "A photo or the signature over the per-file limit (the detail names "
                                             "it: 'photos[1] (...)' or 'signature (...)'), all files over the "
                                             "per-completion limit, or the body over the completion's body limit",
                              **_ERROR_BODY},
                        415: {"description": "A photo or the signature is not a JPEG, PNG, WebP or HEIC image by "
                                             "its content (the detail names it)", **_ERROR_BODY}})
def change_status(job_id: int, body: StatusChange, session: SessionDep, settings: SettingsDep, user: CurrentUser,
                  request: Request, response: Response) -> JobPublic:
    try:
        job, events, replayed = lifecycle.change_status(session=session, settings=settings, job_id=job_id,
                                                        change=body, user=user)
        closed = job.status.value in ("completed", "cancelled")  # the reporters' closing notice was queued
        lifecycle.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events,
                                     deliver=closed and not replayed)
    except (Conflict, IntegrityError):
        # A retry that raced its original (both passed the key check): once the original is in, replay it.
        session.rollback()
        replay = lifecycle.replayed_step(session=session, job_id=job_id, change=body)
        if replay is None:
            raise
        job, replayed = replay, True
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replay"] = "true"
    elif job.status.value in ("unable", "cancelled"):
        service.request_replan(session=session, engine=_engine(request), settings=settings,
                               trigger="job " + job.status.value, reason=f"job {job_id} {job.status.value}")
    session.refresh(job)
    counts = jobs.reporter_counts(session=session, job_ids=[job_id])
    return JobPublic.model_validate({**job.model_dump(), "reporter_count": counts.get(job_id, 0)})


@router.get("/jobs/{job_id}/events", response_model=list[JobEventPublic], summary="A job's lifecycle, in order")
def job_events(job_id: int, session: SessionDep, user: CurrentUser) -> list:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    return lifecycle.history(session=session, job_id=job_id)


@router.get("/jobs/{job_id}/attachments", response_model=list[AttachmentPublic],
            summary="The completion's photos and signature (who may see the job may see them)")
def job_attachments(job_id: int, session: SessionDep, user: CurrentUser) -> list[dict]:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    return lifecycle.attachments(session=session, job_id=job_id)


@router.get("/jobs/{job_id}/attachments/{name}", response_class=FileResponse,
            summary="One photo or the signature of a completed job, as stored",
            responses={200: {"content": {"image/*": {}, "application/octet-stream": {}}}})
def job_attachment(job_id: int, name: str, session: SessionDep, settings: SettingsDep,
                   user: CurrentUser) -> FileResponse:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    path = lifecycle.attachment_file(session=session, settings=settings, job_id=job_id, name=name)
    media_type = mimetypes.guess_type(path.name)[0] or ""
    # Only images are shown inline; anything else (a file named .html, say) is a download, never a page.
    inline = media_type.startswith("image/") and media_type != "image/svg+xml"
    return FileResponse(path, media_type=media_type if inline else "application/octet-stream",
                        content_disposition_type="inline" if inline else "attachment", filename=path.name,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"})


@router.post("/technicians/me/location", status_code=status.HTTP_202_ACCEPTED,
             summary="A live position from the technician's app (moves the ETA of the job they drive to)")
def ping_location(body: LocationPing, session: SessionDep, settings: SettingsDep, user: CurrentUser,
                  request: Request) -> dict:
    tech, events = lifecycle.record_location(session=session, settings=settings, user=user, ping=body)
    technician_id = tech.id  # read before the commit expires the row (after it, reading it again is a query)
    lifecycle.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events)
    return {"technician_id": technician_id, "accepted": True,
            "eta_updates": sum(e["type"] == "job.eta" for e in events)}


@router.post("/technicians/{technician_id}/dispatch-status",
             summary="Done early, running late, off sick, back to working: triggers a coalesced re-plan")
def technician_status(technician_id: int, body: TechnicianStatusChange, session: SessionDep, settings: SettingsDep,
                      user: CurrentUser, request: Request) -> dict:
    state, events = lifecycle.technician_status(session=session, technician_id=technician_id, change=body, user=user)
    lifecycle.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events)
    replan = service.request_replan(session=session, engine=_engine(request), settings=settings,
                                    trigger=f"technician {body.status.value}",
                                    reason=f"technician {technician_id} {body.status.value}")
    return {"technician_id": technician_id, "status": state.status, "late_min": state.late_min,
            "replan_solve_id": replan[0].id if replan else None, "coalesced": bool(replan) and not replan[1]}
