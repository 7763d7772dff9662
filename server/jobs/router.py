"""Jobs API. Technicians see only the jobs assigned to them."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import BackgroundTasks, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.auth.access import ensure_assignment_visible, ensure_job_visible, is_technician
from server.config import Settings
from server.core.deps import CurrentUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import DomainError, Invalid, Unavailable
from server.core.models import Page
from server.core.pagination import PageDep, page_response, row_json
from server.core.routing import FeatureRouter
from server.dispatch import service as dispatch
from server.events.broker import make_event, publish
from server.jobs import service
from server.jobs.cache import cached_read
from server.jobs.models import Job, JobCreate, JobPublic, JobReportPublic, JobStatus, JobUpdate
from server.plans.service import active_plan
from server.technicians import service as technicians

router = FeatureRouter(prefix="/jobs", tags=["jobs"])
log = logging.getLogger("groundcrew.jobs")


def _replan(*, engine: Engine, settings: Settings, reason: str) -> None:
    """Ask for a coalesced re-plan after an edit, if there is a plan to change (the morning plan reads the job
    anyway)."""
    with Session(engine) as session:
        if active_plan(session=session) is None:
            return
        try:
            dispatch.request_replan(session=session, engine=engine, settings=settings, trigger="job edited",
                                    reason=reason)
        except DomainError as exc:  # e.g. too many solves open: the edit is saved; the next re-plan reads it
            log.warning("no re-plan after an edit: %s", exc.detail)


def _public(job: Job, count: int, booked: dict[str, Any] | None = None) -> JobPublic:
    return JobPublic.model_validate({**job.model_dump(), "reporter_count": count, **(booked or {})})


@router.get("", response_model=Page[JobPublic], summary="List jobs, highest priority first")
async def list_jobs(
    request: Request, user: CurrentUser, page: PageDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    technician_id: Annotated[int | None, Query(ge=1)] = None,
    category: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    if is_technician(user):
        technician_id = user.technician_id if user.technician_id is not None else -1

    def read(session: Session) -> Response:
        rows, total = service.list_jobs(
            session=session, page=page, status=status_, technician_id=technician_id, category=category
        )
        return page_response(JobPublic, rows, total, page)

    # The board every console reloads after the same event: identical waiting requests share one read, and while
    # no job changed the answer is the one read before (server/jobs/cache.py).
    return await cached_read(request, ("jobs", page.offset, page.limit, status_, technician_id, category), read)


@router.post("", response_model=JobPublic, status_code=status.HTTP_201_CREATED, summary="Create a job")
def create_job(job_in: JobCreate, session: SessionDep, settings: SettingsDep, user: StaffUser) -> JobPublic:
    job = service.create(session=session, job_in=job_in, actor=user)
    session.commit()
    session.refresh(job)
    public = _public(job, 0)
    # Open consoles see the new job at once (the event carries it; a technician hears only of their own jobs).
    publish(settings, make_event("job.created", {"job_id": job.id, "job": public.model_dump(mode="json")},
                                 technician_ids=[job.assigned_technician_id]))
    return public


@router.get("/{job_id}", response_model=JobPublic, summary="One job")
async def get_job(request: Request, job_id: int, user: CurrentUser) -> Response:
    # Our own stored row serialized once (as the lists are), read with its report count in one statement; from
    # memory while no job changed. Whether this caller may see it is decided per request, on the row.
    def read(session: Session) -> tuple[int | None, bytes]:
        row = service.public_row(session=session, job_id=job_id)
        return row["assigned_technician_id"], row_json(JobPublic, row)

    assigned_to, body = await cached_read(request, ("job", job_id), read, job_id=job_id)
    ensure_assignment_visible(user=user, job_id=job_id, assigned_technician_id=assigned_to)
    return Response(body, media_type="application/json")


@router.get("/{job_id}/reports", response_model=list[JobReportPublic], summary="Who reported this job")
def get_reports(job_id: int, session: SessionDep, user: CurrentUser) -> list:
    job = service.get(session=session, job_id=job_id)
    ensure_job_visible(user=user, job=job)
    return service.reports(session=session, job_id=job_id)


def _check_new_skills(*, session: Session, settings: Settings, job: Job, wanted: dict[str, int]) -> None:
    """A skill the edit adds must be one the catalogue or a technician knows (422 naming it and the known ones);
    skills the job needed already are kept as they are."""
    added = sorted(set(wanted) - set(job.required_skills or {}))
    if not added:
        return
    try:
        services = technicians.catalogue(path=settings.taxonomy_path)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"taxonomy_path: the service catalogue cannot be read ({exc})") from None
    unknown, known = technicians.unknown_skills(session=session, services=services, names=added)
    if unknown:
        raise Invalid(f"required_skills: {', '.join(repr(n) for n in unknown)} is no skill of the service catalogue or "
                      f"of any technician, so no one could be sent; known skills: {', '.join(known) or 'none'}. "
                      "Give a technician that skill first (Administration › Technicians)")


@router.patch("/{job_id}", response_model=JobPublic, summary="Change a job (send 'version' to avoid lost updates)")
def update_job(job_id: int, job_in: JobUpdate, session: SessionDep, settings: SettingsDep, user: StaffUser,
               request: Request, background: BackgroundTasks) -> JobPublic:
    """A new place must be inside the service area; new windows and an SLA within reason (422 naming the field).
    The change is in the job's history (``GET /jobs/{id}/events``: "edited", before and after) and the audit log;
    a change to what the plan reads of an open job (place, windows, skills, duration, SLA, priority) asks for a
    coalesced re-plan when there is a plan."""
    job = service.get(session=session, job_id=job_id)
    if job_in.required_skills is not None:
        _check_new_skills(session=session, settings=settings, job=job, wanted=job_in.required_skills)
    changed = service.update(session=session, job=job, job_in=job_in, actor=user, settings=settings)
    session.commit()
    if service.needs_replan(job=job, changed=changed):
        background.add_task(_replan, engine=request.app.state.engine, settings=settings,
                            reason=f"job {job_id} edited by {user.username} ({', '.join(sorted(changed))})")
    session.refresh(job)
    public = _public(job, service.reporter_counts(session=session, job_ids=[job_id]).get(job_id, 0),
                     service.booked_window(session=session, job_id=job_id))
    publish(settings, make_event("job.updated", {"job_id": job.id, "job": public.model_dump(mode="json"),
                                                 "changed": sorted(job_in.model_dump(exclude_unset=True))},
                                 technician_ids=[job.assigned_technician_id]))
    return public
