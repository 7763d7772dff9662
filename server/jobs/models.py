"""Field jobs: one incident on the ground, however many people reported it."""

from __future__ import annotations

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field
from server.core.timeutil import as_utc


class JobStatus(StrEnum):
    unassigned = "unassigned"
    assigned = "assigned"
    en_route = "en_route"
    on_site = "on_site"
    completed = "completed"
    unable = "unable"
    cancelled = "cancelled"


OPEN_STATUSES = (JobStatus.unassigned, JobStatus.assigned, JobStatus.en_route, JobStatus.on_site)


class TimeWindow(SQLModel):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        self.start, self.end = as_utc(self.start), as_utc(self.end)
        if self.end <= self.start:
            raise ValueError(f"time_windows: window ends ({self.end.isoformat()}) before it starts "
                             f"({self.start.isoformat()})")
        return self


def _check_windows(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(value) > 10:
        raise ValueError("time_windows: at most 10 windows")
    windows = [TimeWindow.model_validate(item) for item in value]
    windows.sort(key=lambda w: w.start)
    for before, after in itertools.pairwise(windows):
        if after.start < before.end:
            raise ValueError("time_windows: windows must not overlap")
    return [w.model_dump(mode="json") for w in windows]


def _check_required_skills(value: dict[str, int]) -> dict[str, int]:
    for name, level in value.items():
        if not name or len(name) > 40:
            raise ValueError(f"required_skills: skill name '{name}' must be 1..40 characters")
        if not isinstance(level, int) or not 1 <= level <= 5:
            raise ValueError(f"required_skills: minimum level of '{name}' must be an integer 1..5")
    return {k.strip().lower(): v for k, v in value.items()}


#: The longest job: a working week (min). A job longer than a technician's working day is a multi-day visit, which
#: the horizon plans in daily parts (server/horizon/service.py).
MAX_DURATION_MIN = 5 * 8 * 60


class JobBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    category: str = Field(default="general", max_length=60, index=True)
    required_skills: dict[str, int] = json_field()
    duration_min: int = Field(default=30, ge=1, le=MAX_DURATION_MIN)
    priority: int = Field(default=5, ge=1, le=10)
    time_windows: list[dict[str, Any]] = json_field(list)
    sla_due_at: datetime | None = utc_field()
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str | None = Field(default=None, max_length=300)
    location_kind: str | None = Field(default=None, max_length=40)
    location_confidence: float | None = Field(default=None, ge=0, le=1)
    geometry: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    must_not_drop: bool = False

    @field_validator("required_skills")
    @classmethod
    def _skills(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_required_skills(value)

    @field_validator("time_windows")
    @classmethod
    def _windows(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _check_windows(value)

    @field_validator("geometry")
    @classmethod
    def _geometry(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if value.get("type") not in ("LineString", "Polygon", "MultiLineString", "MultiPolygon", "Point"):
            raise ValueError("geometry: must be a GeoJSON geometry (LineString, Polygon, ...)")
        if not isinstance(value.get("coordinates"), list):
            raise ValueError("geometry: 'coordinates' must be a list")
        return value


class JobCreate(JobBase):
    pass


class JobUpdate(SQLModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, max_length=60)
    required_skills: dict[str, int] | None = None
    duration_min: int | None = Field(default=None, ge=1, le=MAX_DURATION_MIN)
    priority: int | None = Field(default=None, ge=1, le=10)
    time_windows: list[dict[str, Any]] | None = None
    sla_due_at: datetime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=300)
    must_not_drop: bool | None = None
    version: int | None = Field(default=None, description="The version you edited; a stale one is refused.")

    @field_validator("required_skills")
    @classmethod
    def _skills(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        return None if value is None else _check_required_skills(value)

    @field_validator("time_windows")
    @classmethod
    def _windows(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return None if value is None else _check_windows(value)


class Job(JobBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    status: JobStatus = enum_field(JobStatus.unassigned, index=True)
    assigned_technician_id: int | None = Field(default=None, foreign_key="technician.id", index=True)
    pinned: bool = False
    eta_at: datetime | None = utc_field()
    created_at: datetime = utc_field(default_now=True, index=True)
    updated_at: datetime = utc_field(default_now=True)
    version: int = 1
    #: A return visit ("back with the part"): the job it follows up, and the follow-ups of this one (ids, in order).
    follow_up_of: int | None = Field(default=None, foreign_key="job.id", index=True)
    follow_ups: list[int] = json_field(list)
    #: Give it to this technician if the plan can (a soft preference, a cost for anyone else), never a pin.
    preferred_technician_id: int | None = Field(default=None, foreign_key="technician.id")
    #: Not before: the day the part arrives (a release date every plan respects).
    earliest_at: datetime | None = utc_field()
    #: Daily parts of a multi-day visit done so far; the job completes with its last part.
    parts_done: int = 0
    #: A dispatcher took it off the plan by hand ("unassign"): no plan or automatic insertion places it again until a
    #: dispatcher assigns it or releases it to the planner ("unpin"). Without this the re-plan that follows every
    #: override put it straight back.
    dispatch_hold: bool = False


class JobPublic(JobBase):
    id: int
    status: JobStatus
    assigned_technician_id: int | None
    pinned: bool
    eta_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    reporter_count: int = 0
    follow_up_of: int | None = None
    follow_ups: list[int] = []
    preferred_technician_id: int | None = None
    earliest_at: datetime | None = None
    parts_done: int = 0
    dispatch_hold: bool = False
    #: The arrival window booked with the customer (server/appointments: the job then carries it as a hard time
    #: window); None when nothing is booked.
    booked_start: datetime | None = None
    booked_end: datetime | None = None


class JobReport(SQLModel, table=True):
    """One report of a job's incident: which customer, through which case and message."""

    __tablename__ = "job_report"
    __table_args__ = (UniqueConstraint("job_id", "case_id", name="uq_job_report_case"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    channel: str | None = Field(default=None, max_length=32)
    created_at: datetime = utc_field(default_now=True)


class JobReportPublic(SQLModel):
    id: int
    job_id: int
    case_id: int | None
    customer_id: int | None
    message_id: int | None
    channel: str | None
    created_at: datetime


class JobEvent(SQLModel, table=True):
    """One step in a job's life (assigned, en route, on site, completed, unable...), with who and when.
    An ``idempotency_key`` makes a retried request (the app's offline outbox) a no-op."""

    __tablename__ = "job_event"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    status: str = Field(max_length=32, index=True)
    previous_status: str | None = Field(default=None, max_length=32)
    at: datetime = utc_field(default_now=True, index=True)
    technician_id: int | None = Field(default=None, foreign_key="technician.id", index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str = Field(default="system", max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    idempotency_key: str | None = Field(default=None, max_length=120, unique=True)
    data: dict[str, Any] = json_field()


class JobEventPublic(SQLModel):
    id: int
    job_id: int
    status: str
    previous_status: str | None
    at: datetime
    technician_id: int | None
    actor: str
    reason: str | None
    data: dict[str, Any]
