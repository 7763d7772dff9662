"""The technician's day in the field over HTTP: lifecycle steps from the app's outbox (with completion photos and
signature), a job's history and attachments, live location pings, and "running late / off sick" (which trigger a
coalesced re-plan through dispatch)."""

from __future__ import annotations

import mimetypes

from fastapi import Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError

from server.auth.access import ensure_job_visible
from server.core.deps import CurrentUser, SessionDep, SettingsDep
from server.core.errors import Conflict
from server.core.routing import FeatureRouter
from server.dispatch import service as dispatch
from server.dispatch.models import TechnicianStatusChange
from server.fieldwork import service as fieldwork
from server.fieldwork.models import AttachmentPublic, LocationPing, StatusChange
from server.jobs import service as jobs
from server.jobs.models import JobEventPublic, JobPublic

router = FeatureRouter(tags=["field"])


def _engine(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.engine


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
        job, events, replayed = fieldwork.change_status(session=session, settings=settings, job_id=job_id,
                                                        change=body, user=user)
        closed = job.status.value in ("completed", "cancelled")  # the reporters' closing notice was queued
        fieldwork.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events,
                                     deliver=closed and not replayed)
    except (Conflict, IntegrityError):
        # A retry that raced its original (both passed the key check): once the original is in, replay it.
        session.rollback()
        replay = fieldwork.replayed_step(session=session, job_id=job_id, change=body)
        if replay is None:
            raise
        job, replayed = replay, True
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replay"] = "true"
    elif job.status.value in ("unable", "cancelled"):
        dispatch.request_replan(session=session, engine=_engine(request), settings=settings,
                               trigger="job " + job.status.value, reason=f"job {job_id} {job.status.value}")
    session.refresh(job)
    counts = jobs.reporter_counts(session=session, job_ids=[job_id])
    return JobPublic.model_validate({**job.model_dump(), "reporter_count": counts.get(job_id, 0)})


@router.get("/jobs/{job_id}/events", response_model=list[JobEventPublic], summary="A job's lifecycle, in order")
def job_events(job_id: int, session: SessionDep, user: CurrentUser) -> list:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    return fieldwork.history(session=session, job_id=job_id)


@router.get("/jobs/{job_id}/attachments", response_model=list[AttachmentPublic],
            summary="The completion's photos and signature (who may see the job may see them)")
def job_attachments(job_id: int, session: SessionDep, user: CurrentUser) -> list[dict]:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    return fieldwork.attachments(session=session, job_id=job_id)


@router.get("/jobs/{job_id}/attachments/{name}", response_class=FileResponse,
            summary="One photo or the signature of a completed job, as stored",
            responses={200: {"content": {"image/*": {}, "application/octet-stream": {}}}})
def job_attachment(job_id: int, name: str, session: SessionDep, settings: SettingsDep,
                   user: CurrentUser) -> FileResponse:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    path = fieldwork.attachment_file(session=session, settings=settings, job_id=job_id, name=name)
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
    tech, events = fieldwork.record_location(session=session, settings=settings, user=user, ping=body)
    technician_id = tech.id  # read before the commit expires the row (after it, reading it again is a query)
    fieldwork.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events)
    return {"technician_id": technician_id, "accepted": True,
            "eta_updates": sum(e["type"] == "job.eta" for e in events)}


@router.post("/technicians/{technician_id}/dispatch-status",
             summary="Done early, running late, off sick, back to working: triggers a coalesced re-plan")
def technician_status(technician_id: int, body: TechnicianStatusChange, session: SessionDep, settings: SettingsDep,
                      user: CurrentUser, request: Request) -> dict:
    state, events = fieldwork.technician_status(session=session, technician_id=technician_id, change=body, user=user)
    fieldwork.commit_and_publish(session=session, engine=_engine(request), settings=settings, events=events)
    replan = dispatch.request_replan(session=session, engine=_engine(request), settings=settings,
                                    trigger=f"technician {body.status.value}",
                                    reason=f"technician {technician_id} {body.status.value}")
    return {"technician_id": technician_id, "status": state.status, "late_min": state.late_min,
            "replan_solve_id": replan[0].id if replan else None, "coalesced": bool(replan) and not replan[1]}
