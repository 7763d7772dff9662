"""Dispatch operations: solve jobs, pins and locks, technicians' live dispatch state, and dispatchers'
overrides with their previews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

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


# -- API shapes --------------------------------------------------------------------------------------------
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
    break_booked_windows: bool = Field(default=False, description=(
        "commit: the dispatcher confirmed that the change may break windows booked with customers (the preview's "
        "booked_windows with breaks=true); without it such a change is refused."))


class BookedWindowCheck(SQLModel):
    """A job the change moves that has a window booked with its customer: the new arrival, and whether it is after
    the window's end (arriving before its start, the technician waits: the window is kept)."""

    job_id: int
    start: datetime
    end: datetime
    eta: datetime | None
    breaks: bool
    customer: str | None = None


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
    #: Each job with a booked window on the affected technicians' new days (server/appointments).
    booked_windows: list[BookedWindowCheck] = []
