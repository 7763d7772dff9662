"""A horizon plan: which technician does which open job on which working day after today (tentative)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from server.core.models import json_field, utc_field


class HorizonRun(SQLModel, table=True):
    """One horizon plan, made at ``created_at`` for ``days`` (working days after that day). The newest is current."""

    __tablename__ = "horizon_run"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = utc_field(default_now=True, index=True)
    days: list[str] = json_field(list)  # ISO dates, in order
    technicians: int = 0
    jobs: int = 0  # open unassigned jobs considered
    planned: int = 0
    travel_min: int = 0
    unassigned: list[dict[str, Any]] = json_field(list)  # {"job_id", "reason"}
    trigger: str = Field(default="manual", max_length=40)


class HorizonVisit(SQLModel, table=True):
    """A tentative visit: the job is planned for ``technician_id`` on ``day``, starting around ``start_at``."""

    __tablename__ = "horizon_visit"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="horizon_run.id", index=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    technician_id: int = Field(foreign_key="technician.id", index=True)
    day: date
    sequence: int = Field(ge=0)
    start_at: datetime = utc_field(nullable=False)
    end_at: datetime = utc_field(nullable=False)
    #: Part ``part`` of ``parts`` of a multi-day visit (1 of 1 for a job done in one visit).
    part: int = Field(default=1, ge=1)
    parts: int = Field(default=1, ge=1)


class HorizonVisitPublic(SQLModel):
    job_id: int
    job_title: str
    address: str | None
    priority: int
    technician_id: int
    technician_name: str
    day: date
    sequence: int
    start_at: datetime
    end_at: datetime
    part: int = 1
    parts: int = 1


class TechnicianDayPublic(SQLModel):
    """One technician's hours on one day the dispatcher's board shows (local wall-clock "HH:MM", breaks that fit that
    day), or why they do not work it: ``off`` is "absence" (recorded; ``reason`` says why), "day off" (their weekly
    pattern) or their availability ("off", "sick": today only; a technician marked off plans no later day either)."""

    technician_id: int
    day: date
    start: str | None = None
    end: str | None = None
    breaks: list[dict[str, Any]] = []
    off: str | None = None
    reason: str = ""


class HorizonPublic(SQLModel):
    """The current horizon plan; ``run_id`` None when none was made yet. ``shifts``: every technician's hours today
    and on each of the run's days (read now, from their weekly pattern and absences), for the board."""

    run_id: int | None
    created_at: datetime | None
    days: list[str]
    technicians: int
    jobs: int
    planned: int
    travel_min: int
    visits: list[HorizonVisitPublic]
    unassigned: list[dict[str, Any]]
    shifts: list[TechnicianDayPublic] = []
