"""Field jobs: create, read, change (with optimistic locking) and their reporters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy.sql.elements import Label
from sqlmodel import Session, col, func, select

from server.appointments.models import Appointment, AppointmentStatus
from server.audit import service as audit
from server.auth.models import User
from server.config import Settings
from server.core.errors import Conflict, Invalid, NotFound, Unavailable, invalid_from, refuse_nulls
from server.core.pagination import PageParams, paginate_rows
from server.core.timeutil import as_utc, utcnow
from server.jobs.models import OPEN_STATUSES, Job, JobCreate, JobEvent, JobReport, JobStatus, JobUpdate

#: An edited window may last at most this long, and start at most this far ahead; an edited SLA may be due at most
#: this far ahead. Longer is a typing slip (a year in the date), not a request the planner can use.
MAX_WINDOW = timedelta(days=14)
MAX_AHEAD = timedelta(days=366)
#: What a plan reads of a job: changing one of these on an open job asks for a re-plan (when there is a plan).
PLANNED_FIELDS = frozenset({"lat", "lon", "time_windows", "required_skills", "duration_min", "sla_due_at",
                            "priority", "must_not_drop"})


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


def ensure_on_map(*, settings: Settings, lat: float, lon: float) -> None:
    """Refuse (422) a place outside the service area (the city's street map): no technician could be routed there.
    Not checked when this process runs without the street map (``load_city`` off: some tests and tools)."""
    if not settings.load_city:
        return
    from server.core.city import load_city

    try:
        city = load_city(settings)
    except Exception as exc:  # a broken OSM source: say so rather than store a place nobody checked
        raise Unavailable(f"the street map is not available to check the place: {exc}") from exc
    if not city.network.contains(lat, lon):
        raise Invalid(f"lat/lon: ({lat:.5f}, {lon:.5f}) is outside the service area (the city's street map), where no "
                      "technician can be routed: choose a place inside the dashed outline")


def _check_edited_times(*, job: Job, data: dict[str, Any], merged: JobCreate, now: datetime, tz: ZoneInfo) -> None:
    """Windows an edit adds and an SLA it sets must be within reason: a new window not over already, at most
    ``MAX_WINDOW`` long, starting within ``MAX_AHEAD``; an SLA not before the job was reported nor beyond
    ``MAX_AHEAD``. Windows the job had already are kept as they are (a past one is history, not a slip). Times in
    the messages are on the service area's clock (``tz``)."""

    def said(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return at.astimezone(tz).strftime(fmt)

    if "time_windows" in data:
        kept = {(as_utc(datetime.fromisoformat(w["start"])), as_utc(datetime.fromisoformat(w["end"])))
                for w in job.time_windows or []}
        for n, w in enumerate(merged.time_windows, start=1):
            start, end = as_utc(datetime.fromisoformat(w["start"])), as_utc(datetime.fromisoformat(w["end"]))
            if (start, end) in kept:
                continue
            if end <= now:
                raise Invalid(f"time_windows: window {n} ({said(start)}–{said(end, '%H:%M')}) is over already, "
                              "give a window that ends in the future")
            if end - start > MAX_WINDOW:
                raise Invalid(f"time_windows: window {n} lasts {(end - start).days} days, at most "
                              f"{MAX_WINDOW.days} days")
            if start - now > MAX_AHEAD:
                raise Invalid(f"time_windows: window {n} starts {said(start, '%Y-%m-%d')}, more than a year ahead")
    due = merged.sla_due_at
    if "sla_due_at" in data and due is not None:
        due = as_utc(due)
        if due < as_utc(job.created_at):
            raise Invalid(f"sla_due_at: {said(due)} is before the job was reported ({said(as_utc(job.created_at))})")
        if due - now > MAX_AHEAD:
            raise Invalid(f"sla_due_at: {said(due, '%Y-%m-%d')} is more than a year ahead")


def _plain(key: str, value: Any) -> Any:
    """A field's value as the job's history stores it (JSON; a long description only as its length)."""
    if key == "description" and isinstance(value, str) and len(value) > 200:
        return f"({len(value)} characters)"
    return to_jsonable_python(value)


def update(*, session: Session, job: Job, job_in: JobUpdate, actor: User, settings: Settings | None = None
           ) -> set[str]:
    """Change a job. If the caller names the version it edited and it is stale, refuse (409) rather
    than silently overwrite another person's change. A new place must be on the city's map (with ``settings``);
    new windows and an SLA must be within reason. What changed (before and after) goes to the job's history
    (a ``JobEvent`` "edited") and the audit log. Returns the names of the fields whose value changed."""
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
    now = utcnow()
    _check_edited_times(job=job, data=data, merged=merged, now=now,
                        tz=ZoneInfo(settings.timezone if settings is not None else "UTC"))
    if settings is not None and ({"lat", "lon"} & data.keys()) and (merged.lat, merged.lon) != (job.lat, job.lon):
        ensure_on_map(settings=settings, lat=merged.lat, lon=merged.lon)
    changes = {key: {"before": _plain(key, getattr(job, key)), "after": _plain(key, getattr(merged, key))}
               for key in sorted(data)}
    changes = {key: change for key, change in changes.items() if change["before"] != change["after"]}
    for key in data:
        setattr(job, key, getattr(merged, key))
    job.version += 1
    job.updated_at = now
    session.add(job)
    if changes:
        session.add(JobEvent(job_id=job.id or 0, status="edited", previous_status=job.status.value, at=now,
                             technician_id=job.assigned_technician_id, actor_user_id=actor.id, actor=actor.username,
                             reason="changed " + ", ".join(changes), data={"changes": changes,
                                                                           "version": job.version}))
    audit.record(
        session=session, action="update", entity="job", entity_id=job.id, actor_user_id=actor.id,
        actor=actor.username, detail={"fields": sorted(data), "version": job.version, "changes": changes},
    )
    return set(changes)


def needs_replan(*, job: Job, changed: set[str]) -> bool:
    """Whether an edit changed what a plan reads of an open job."""
    return job.status in OPEN_STATUSES and bool(changed & PLANNED_FIELDS)
