"""Technicians: who can do what, where they start, when they work."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import ValidationInfo, field_validator, model_validator
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class Availability(StrEnum):
    on_shift = "on_shift"
    off = "off"
    sick = "sick"


def _plain_time(value: Any, field: str) -> Any:
    """Shift times are local wall-clock times "HH:MM[:SS]": not a number of seconds, not with an offset."""
    if value is None or isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{field}: a local time like '17:30' (got {type(value).__name__})")
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field}: a local time like '17:30' (got '{value[:40]}')") from None
    if parsed.tzinfo is not None:
        raise ValueError(f"{field}: a local time without an offset or Z (times are in the service's timezone)")
    return parsed


class BreakRule(SQLModel):
    """A break of ``duration_min`` that must start between ``earliest`` and ``latest`` (local time)."""

    earliest: time
    latest: time
    duration_min: int = Field(ge=1, le=240)

    @field_validator("earliest", "latest", mode="before")
    @classmethod
    def _times(cls, value: Any, info: ValidationInfo) -> Any:
        return _plain_time(value, f"breaks.{info.field_name}")

    @model_validator(mode="after")
    def _ordered(self) -> BreakRule:
        if self.latest < self.earliest:
            raise ValueError("breaks: 'latest' must not be before 'earliest'")
        return self


def _check_skills(value: dict[str, int]) -> dict[str, int]:
    for name, level in value.items():
        if not name or len(name) > 40:
            raise ValueError(f"skills: skill name '{name}' must be 1..40 characters")
        if not isinstance(level, int) or not 1 <= level <= 5:
            raise ValueError(f"skills: level of '{name}' must be an integer 1..5")
    return {k.strip().lower(): v for k, v in value.items()}


class TechnicianBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    skills: dict[str, int] = json_field()
    home_lat: float = Field(ge=-90, le=90)
    home_lon: float = Field(ge=-180, le=180)
    end_lat: float | None = Field(default=None, ge=-90, le=90)
    end_lon: float | None = Field(default=None, ge=-180, le=180)
    shift_start: time = time(8, 0)
    shift_end: time = time(17, 0)
    breaks: list[dict[str, Any]] = json_field(list)
    overtime_allowed_min: int = Field(default=60, ge=0, le=600)
    availability: Availability = enum_field(Availability.on_shift)

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: dict[str, int]) -> dict[str, int]:
        return _check_skills(value)

    @field_validator("shift_start", "shift_end", mode="before")
    @classmethod
    def _times(cls, value: Any, info: ValidationInfo) -> Any:
        return _plain_time(value, info.field_name or "time")

    @field_validator("breaks")
    @classmethod
    def _breaks(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [BreakRule.model_validate(item).model_dump(mode="json") for item in value]

    @model_validator(mode="after")
    def _shift(self) -> TechnicianBase:
        if self.shift_end <= self.shift_start:
            raise ValueError("shift_end: must be after shift_start")
        return self


class TechnicianCreate(TechnicianBase):
    pass


class TechnicianUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=40)
    skills: dict[str, int] | None = None
    home_lat: float | None = Field(default=None, ge=-90, le=90)
    home_lon: float | None = Field(default=None, ge=-180, le=180)
    shift_start: time | None = None
    shift_end: time | None = None
    breaks: list[dict[str, Any]] | None = None
    overtime_allowed_min: int | None = Field(default=None, ge=0, le=600)
    availability: Availability | None = None

    @field_validator("skills")
    @classmethod
    def _skills(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        return None if value is None else _check_skills(value)

    @field_validator("shift_start", "shift_end", mode="before")
    @classmethod
    def _times(cls, value: Any, info: ValidationInfo) -> Any:
        return _plain_time(value, info.field_name or "time")

    @field_validator("breaks")
    @classmethod
    def _breaks(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        return [BreakRule.model_validate(item).model_dump(mode="json") for item in value]


class Technician(TechnicianBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    current_lat: float | None = None
    current_lon: float | None = None
    last_seen_at: datetime | None = utc_field()
    created_at: datetime = utc_field(default_now=True)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


class TechnicianPublic(TechnicianBase):
    id: int
    current_lat: float | None
    current_lon: float | None
    last_seen_at: datetime | None


class SkillCoveragePublic(SQLModel):
    """One skill: the catalogue services that need it, how many technicians have it (by level 1..5), open jobs."""

    skill: str
    services: list[str]
    technicians: int
    on_shift: int
    by_level: dict[str, int]
    open_jobs: int


class CatalogueEntryPublic(SQLModel):
    """A service of the loaded catalogue: on-site duration in minutes, SLA in hours from receipt."""

    name: str
    label: str
    service_code: str
    group: str
    skill: str
    duration_min: int
    priority: int
    sla_hours: float
    field_work: bool
    customer_present: bool
    description: str


class AbsenceBase(SQLModel):
    """Days a technician does not work (leave, training, sick note): inclusive local dates."""

    first_day: date
    last_day: date
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _order(self) -> AbsenceBase:
        if self.last_day < self.first_day:
            raise ValueError("last_day: must be on or after first_day")
        if (self.last_day - self.first_day).days > 366:
            raise ValueError("last_day: an absence is at most a year long")
        return self


class TechnicianAbsence(AbsenceBase, table=True):
    __tablename__ = "technician_absence"

    id: int | None = Field(default=None, primary_key=True)
    technician_id: int = Field(foreign_key="technician.id", index=True)
    created_at: datetime = utc_field(default_now=True)


class AbsenceCreate(AbsenceBase):
    pass


class AbsencePublic(AbsenceBase):
    id: int
    technician_id: int
