"""Hand-off (case → job), incident reporters and split, affected customers and proactive notices."""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, Request, Response, status
from pydantic import BaseModel

from server.auth.access import ensure_job_visible
from server.core.deps import AgentUser, CurrentUser, SessionDep, SettingsDep, StaffUser
from server.core.routing import FeatureRouter
from server.incidents import service
from server.incidents.models import AffectedCustomer, HandoffRequest, ProactiveNoticePublic, ProactiveRequest
from server.jobs import service as jobs
from server.jobs.models import JobPublic
from server.notify.service import deliver_queued

router = FeatureRouter(tags=["incidents"])


class HandoffResult(BaseModel):
    job: JobPublic
    joined_incident: bool
    created: bool


def _public(session: Any, job: Any) -> JobPublic:
    count = jobs.reporter_counts(session=session, job_ids=[job.id]).get(job.id, 0)
    return JobPublic.model_validate({**job.model_dump(), "reporter_count": count})


@router.post("/cases/{case_id}/handoff", response_model=HandoffResult, status_code=status.HTTP_201_CREATED,
             tags=["cases"], summary="Turn a case into a field job at the place an agent placed or confirmed")
def handoff(case_id: int, session: SessionDep, settings: SettingsDep, user: StaffUser, response: Response,
            body: HandoffRequest | None = None) -> HandoffResult:
    body = body or HandoffRequest()
    job, joined, created = service.handoff(session=session, settings=settings, case_id=case_id, actor=user,
                                           lat=body.lat, lon=body.lon, address=body.address)
    session.commit()
    session.refresh(job)
    if not created:
        response.status_code = status.HTTP_200_OK
    return HandoffResult(job=_public(session, job), joined_incident=joined, created=created)


@router.get("/jobs/{job_id}/reporters", tags=["jobs"], summary="Everyone who reported this job, with channel and text")
def reporters(job_id: int, session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    ensure_job_visible(user=user, job=jobs.get(session=session, job_id=job_id))
    return service.reporters(session=session, job_id=job_id)


@router.post("/jobs/{job_id}/reports/{report_id}/split", response_model=JobPublic, status_code=status.HTTP_201_CREATED,
             tags=["jobs"], summary="Move a wrongly joined report out into a new job")
def split(job_id: int, report_id: int, session: SessionDep, user: StaffUser) -> JobPublic:
    job = service.split(session=session, job_id=job_id, report_id=report_id, actor=user)
    session.commit()
    session.refresh(job)
    return _public(session, job)


@router.get("/jobs/{job_id}/affected-customers", response_model=list[AffectedCustomer], tags=["jobs"],
            summary="Customers living near this incident who have not reported it")
def affected(job_id: int, session: SessionDep, settings: SettingsDep, _: AgentUser) -> list[AffectedCustomer]:
    return service.affected_customers(session=session, settings=settings, job_id=job_id)


@router.post("/jobs/{job_id}/proactive-notice", response_model=list[ProactiveNoticePublic], tags=["jobs"],
             summary="Send affected customers one notice each on their preferred channel (never twice)")
def proactive(job_id: int, session: SessionDep, settings: SettingsDep, user: AgentUser, request: Request,
              background: BackgroundTasks, body: ProactiveRequest | None = None) -> list[Any]:
    body = body or ProactiveRequest()
    sent = service.send_proactive(session=session, settings=settings, job_id=job_id, actor=user,
                                  customer_ids=body.customer_ids, text=body.text)
    session.commit()
    for notice in sent:
        session.refresh(notice)
    background.add_task(deliver_queued, engine=request.app.state.engine, settings=request.app.state.settings,
                        wait=False)
    return sent
