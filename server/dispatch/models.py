"""Dispatch operations: solve jobs, the lifecycle log of every job, completions, pins and locks,
the solver's own record of each plan, and what customers were last told."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class SolveStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_SOLVE = (SolveStatus.succeeded, SolveStatus.failed, SolveStatus.cancelled)


class SolveJob(SQLModel, table=True):
    """One optimization run. Any API process can answer for it; the worker that runs it writes here."""

    __tablename__ = "solve_job"

    id: str = Field(primary_key=True, max_length=36)
    status: SolveStatus = enum_field(SolveStatus.queued, index=True)
    trigger: str = Field(default="manual", max_length=60)
    reasons: list[str] = json_field(list)
    region: str | None = Field(default=None, max_length=40)
    time_limit_s: float = 5.0
    requested_by: str = Field(default="system", max_length=64)
    cancel_requested: bool = False
    attempts: int = 0
    best_cost: int | None = None
    best_objective: dict[str, Any] = json_field()
    progress: list[dict[str, Any]] = json_field(list)
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_field(default_now=True, index=True)
    started_at: datetime | None = utc_field()
    finished_at: datetime | None = utc_field()


class SolveRequest(SQLModel):
    trigger: str = Field(default="manual", min_length=1, max_length=60)
    time_limit_s: float | None = Field(default=None, gt=0, le=600, description="Optimizer time (default: settings).")


class SolveJobPublic(SQLModel):
    id: str
    status: SolveStatus
    trigger: str
    reasons: list[str]
    region: str | None
    time_limit_s: float
    requested_by: str
    cancel_requested: bool
    attempts: int
    best_cost: int | None
    best_objective: dict[str, Any]
    progress: list[dict[str, Any]]
    plan_id: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PlanSolution(SQLModel, table=True):
    """The optimizer's view of a stored plan: its problem and routing plan (warm starts, explanations).
    ``solve_job_id`` is unique, so a retried solve can never store its plan twice."""

    __tablename__ = "plan_solution"

    plan_id: int = Field(foreign_key="plan.id", primary_key=True)
    solve_job_id: str | None = Field(default=None, max_length=36, unique=True)
    day_origin: datetime = utc_field(nullable=False)
    problem: dict[str, Any] = json_field()
    solution: dict[str, Any] = json_field()
    coords: list[Any] = json_field(list)


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


class AttachmentPublic(SQLModel):
    """A file left on completing a job: ``kind`` photo or signature; fetch it from ``url``."""

    kind: str
    name: str
    url: str


class JobCompletion(SQLModel, table=True):
    """What the technician left behind: notes, parts, photos and the customer's signature (files in data_dir)."""

    __tablename__ = "job_completion"

    job_id: int = Field(foreign_key="job.id", primary_key=True)
    technician_id: int | None = Field(default=None, foreign_key="technician.id")
    notes: str = Field(default="", max_length=5000)
    parts_used: list[dict[str, Any]] = json_field(list)
    photos: list[str] = json_field(list)
    signature: str | None = Field(default=None, max_length=500)
    signed_by: str | None = Field(default=None, max_length=120)
    completed_at: datetime = utc_field(default_now=True)


class JobPin(SQLModel, table=True):
    """A dispatcher's decision the optimizer must keep: this job goes to this technician (at this position)."""

    __tablename__ = "job_pin"

    job_id: int = Field(foreign_key="job.id", primary_key=True)
    technician_id: int = Field(foreign_key="technician.id", index=True)
    position: int | None = Field(default=None, ge=0)
    created_at: datetime = utc_field(default_now=True)


class TechnicianDispatchState(SQLModel, table=True):
    """Live dispatch state of a technician: day locked by a dispatcher, running late, last status."""

    __tablename__ = "technician_dispatch_state"

    technician_id: int = Field(foreign_key="technician.id", primary_key=True)
    day_locked: bool = False
    late_min: int = 0
    status: str = Field(default="working", max_length=32)
    note: str | None = Field(default=None, max_length=500)
    updated_at: datetime = utc_field(default_now=True)


class JobNotice(SQLModel, table=True):
    """The arrival window last told to a job's customers (a new one is sent when it moves enough)."""

    __tablename__ = "job_notice"

    job_id: int = Field(foreign_key="job.id", primary_key=True)
    eta_at: datetime = utc_field(nullable=False)
    sent_at: datetime = utc_field(default_now=True)
    count: int = 1


# -- API shapes --------------------------------------------------------------------------------------------
class LifecycleStatus(StrEnum):
    en_route = "en_route"
    on_site = "on_site"
    completed = "completed"
    unable = "unable"
    cancelled = "cancelled"


class Part(SQLModel):
    part: str = Field(min_length=1, max_length=120)
    quantity: float = Field(default=1, gt=0, le=10_000)


class Upload(SQLModel):
    """A photo or signature sent with a completion: JPEG, PNG, WebP or HEIC by content. Limits per file, per
    completion and of the request body are settings (``upload_max_*``), checked in lifecycle.check_attachments."""

    filename: str = Field(min_length=1, max_length=120)
    content_base64: str = Field(min_length=4)


class StatusChange(SQLModel):
    status: LifecycleStatus
    reason: str | None = Field(default=None, max_length=1000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=120)
    at: datetime | None = Field(default=None, description="When it happened on the device (default: now).")
    notes: str = Field(default="", max_length=5000)
    parts_used: list[Part] = Field(default_factory=list, max_length=100)
    photos: list[Upload] = Field(default_factory=list, max_length=100)  # settings.upload_max_photos
    signature: Upload | None = None
    signed_by: str | None = Field(default=None, max_length=120)

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class LocationPing(SQLModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    at: datetime | None = None
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, description=(
        "Horizontal accuracy of the fix (m) as the phone reports it; only fixes with one can confirm an address "
        "in the field (see server/addresses/service.py)."))


class TechnicianStatus(StrEnum):
    working = "working"
    running_late = "running_late"
    done_early = "done_early"
    off_sick = "off_sick"


class TechnicianStatusChange(SQLModel):
    status: TechnicianStatus
    late_min: int = Field(default=0, ge=0, le=600)
    note: str | None = Field(default=None, max_length=500)


class OverrideAction(StrEnum):
    assign = "assign"
    unassign = "unassign"
    pin = "pin"
    unpin = "unpin"
    reorder = "reorder"
    lock = "lock"
    unlock = "unlock"


class Override(SQLModel):
    """A dispatcher's change: previewed with ``POST /dispatch/overrides/preview``, made with ``/commit``."""

    action: OverrideAction
    job_id: int | None = Field(default=None, ge=1)
    technician_id: int | None = Field(default=None, ge=1)
    position: int | None = Field(default=None, ge=0, le=500)
    job_ids: list[int] | None = Field(default=None, max_length=500, description="reorder: the new order.")


class OverridePreview(SQLModel):
    action: OverrideAction
    feasible: bool
    added_travel_s: int
    added_lateness_s: int
    added_overtime_s: int
    sla_at_risk: list[int]
    sla_newly_at_risk: list[int]
    affected_technicians: list[int]
    etas: dict[int, datetime]
    notes: list[str]
    elapsed_ms: float
