"""Plans: versioned outputs of the optimizer, one stop per job per technician, with ETAs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class PlanStatus(StrEnum):
    active = "active"
    superseded = "superseded"


class Plan(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True, index=True)
    status: PlanStatus = enum_field(PlanStatus.active, index=True)
    trigger: str = Field(default="manual", max_length=60)
    day: str = Field(default="", max_length=10, description="Local service day, YYYY-MM-DD.")
    created_at: datetime = utc_field(default_now=True)
    objective: dict[str, Any] = json_field()
    stats: dict[str, Any] = json_field()
    diff: dict[str, Any] = json_field()
    unassigned: list[dict[str, Any]] = json_field(list)


class PlanStop(SQLModel, table=True):
    __tablename__ = "plan_stop"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    technician_id: int = Field(foreign_key="technician.id", index=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    sequence: int = Field(ge=0)
    arrival_at: datetime = utc_field(nullable=False)
    start_at: datetime = utc_field(nullable=False)
    end_at: datetime = utc_field(nullable=False)
    travel_s: int = 0
    wait_s: int = 0
    distance_m: int = 0


class PlanStopPublic(SQLModel):
    technician_id: int
    job_id: int
    sequence: int
    arrival_at: datetime
    start_at: datetime
    end_at: datetime
    travel_s: int
    wait_s: int
    distance_m: int


class PlanPublic(SQLModel):
    id: int
    version: int
    status: PlanStatus
    trigger: str
    day: str
    created_at: datetime
    objective: dict[str, Any]
    stats: dict[str, Any]
    diff: dict[str, Any]
    unassigned: list[dict[str, Any]]


class PlanDetail(PlanPublic):
    stops: list[PlanStopPublic]


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
