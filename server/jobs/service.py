"""Field jobs: create, read, change (with optimistic locking) and their reporters."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.sql.elements import Label
from sqlmodel import Session, col, func, select

from server.appointments.models import Appointment, AppointmentStatus
from server.audit import service as audit
from server.auth.models import User
from server.core.errors import Conflict, NotFound, invalid_from, refuse_nulls
from server.core.pagination import PageParams, paginate_rows
from server.core.timeutil import utcnow
from server.jobs.models import Job, JobCreate, JobReport, JobStatus, JobUpdate


def get(*, session: Session, job_id: int) -> Job:
    """The job, or NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs(
    *, session: Session, page: PageParams, status: JobStatus | None = None, technician_id: int | None = None,
    category: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Jobs, highest priority first, as plain column rows with their ``reporter_count`` and booked window
    (read-only)."""
    query = select(Job)
    if status is not None:
        query = query.where(Job.status == status)
    if technician_id is not None:
        query = query.where(Job.assigned_technician_id == technician_id)
    if category:
        query = query.where(Job.category == category)
    return paginate_rows(session, query.order_by(col(Job.priority).desc(), col(Job.id)), page,
                         extra=[_reporter_count(), *_booked_window()])


def _reporter_count() -> Label[int]:
    """Counted in the same statement (a correlated count per returned row): a second query for the ids was a
    round trip and a fresh IN-list statement for every page size."""
    return (select(func.count()).where(JobReport.job_id == Job.id).correlate(Job).scalar_subquery()
            .label("reporter_count"))


def _booked_window() -> list[Label[Any]]:
    """The window booked with the customer (``booked_start``, ``booked_end``: an appointment in status booked; at
    most one per job, its job_id is unique), in the same statement as the job: the schedule board draws it."""
    booked = (Appointment.job_id == Job.id) & (Appointment.status == AppointmentStatus.booked)  # type: ignore[arg-type]
    return [select(column).where(booked).correlate(Job).scalar_subquery().label(name)
            for column, name in ((Appointment.window_start, "booked_start"), (Appointment.window_end, "booked_end"))]


def booked_window(*, session: Session, job_id: int) -> dict[str, Any]:
    """``{"booked_start", "booked_end"}`` of one job (None, None when nothing is booked)."""
    appt = session.exec(select(Appointment).where(Appointment.job_id == job_id,
                                                  Appointment.status == AppointmentStatus.booked)).first()
    return {"booked_start": appt.window_start if appt else None, "booked_end": appt.window_end if appt else None}


def public_row(*, session: Session, job_id: int) -> dict[str, Any]:
    """One job as a plain column row with its ``reporter_count`` and booked window (read-only, one statement), or
    NotFound."""
    table = Job.__table__  # type: ignore[attr-defined]
    row = session.connection().execute(
        select(*table.columns, _reporter_count(), *_booked_window()).where(table.c.id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"job {job_id} not found")
    return dict(row)


def reporter_counts(*, session: Session, job_ids: list[int]) -> dict[int, int]:
    """How many reports each job has."""
    if not job_ids:
        return {}
    rows = session.exec(
        select(JobReport.job_id, func.count()).where(col(JobReport.job_id).in_(job_ids)).group_by(JobReport.job_id)
    ).all()
    return {job_id: int(count) for job_id, count in rows}


def reports(*, session: Session, job_id: int) -> list[JobReport]:
    return list(session.exec(select(JobReport).where(JobReport.job_id == job_id).order_by(col(JobReport.id))).all())


def create(*, session: Session, job_in: JobCreate, actor: User | None) -> Job:
    """Add a job (unassigned until a plan or a dispatcher assigns it)."""
    job = Job.model_validate(job_in)
    session.add(job)
    session.flush()
    audit.record(
        session=session, action="create", entity="job", entity_id=job.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
        detail={"title": job.title, "category": job.category},
    )
    return job


def update(*, session: Session, job: Job, job_in: JobUpdate, actor: User) -> Job:
    """Change a job. If the caller names the version it edited and it is stale, refuse (409) rather
    than silently overwrite another person's change."""
    data = job_in.model_dump(exclude_unset=True)
    edited_version = data.pop("version", None)
    if edited_version is not None and edited_version != job.version:
        raise Conflict(
            f"version: job {job.id} was changed by someone else (now version {job.version}, you edited "
            f"version {edited_version}); reload and try again"
        )
    refuse_nulls(data, JobCreate)
    try:
        merged = JobCreate.model_validate({**job.model_dump(), **data})
    except ValidationError as exc:  # the change makes the job as a whole invalid
        raise invalid_from(exc) from None
    for key in data:
        setattr(job, key, getattr(merged, key))
    job.version += 1
    job.updated_at = utcnow()
    session.add(job)
    audit.record(
        session=session, action="update", entity="job", entity_id=job.id, actor_user_id=actor.id,
        actor=actor.username, detail={"fields": sorted(data), "version": job.version},
    )
    return job
