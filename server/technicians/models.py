"""Technicians: who can do what, where they start, when they work."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, NamedTuple

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


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hhmm(value: Any, field: str) -> str:
    """A weekly-pattern time: "HH:MM" local wall-clock, stored as that string."""
    if not isinstance(value, str) or len(value.strip()) != 5 or value.strip()[2] != ":":
        raise ValueError(f"{field}: a local time 'HH:MM' like '07:00' (got {str(value)[:40]!r})")
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field}: a local time 'HH:MM' like '07:00' (got {value[:40]!r})") from None
    return parsed.strftime("%H:%M")


def _check_weekly(value: dict[str, Any] | None) -> dict[str, Any]:
    """The weekly pattern: ISO weekday "1" (Monday) .. "7" (Sunday) -> {"start": "HH:MM", "end": "HH:MM"} or "off".
    A weekday left out works shift_start..shift_end, so a technician without a pattern works every day as before."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("weekly_shifts: an object of weekday '1'..'7' -> {start, end} or 'off'")
    out: dict[str, Any] = {}
    for key, entry in value.items():
        day = str(key).strip()
        if day not in {"1", "2", "3", "4", "5", "6", "7"}:
            raise ValueError(f"weekly_shifts: weekday must be 1 (Monday) .. 7 (Sunday) (got {str(key)[:20]!r})")
        where = f"weekly_shifts.{day}"
        if entry is None or entry == "off" or entry is False:
            out[day] = "off"
            continue
        if not isinstance(entry, dict) or set(entry) - {"start", "end"}:
            raise ValueError(f"{where}: {{'start': 'HH:MM', 'end': 'HH:MM'}} or 'off'")
        start = _hhmm(entry.get("start"), f"{where}.start")
        end = _hhmm(entry.get("end"), f"{where}.end")
        if end <= start:
            raise ValueError(f"{where}.end: must be after start ({start}-{end})")
        out[day] = {"start": start, "end": end}
    return dict(sorted(out.items()))


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
    weekly_shifts: dict[str, Any] = json_field()
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

    @field_validator("weekly_shifts", mode="before")
    @classmethod
    def _weekly(cls, value: Any) -> dict[str, Any]:
        return _check_weekly(value)

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
    weekly_shifts: dict[str, Any] | None = None
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

    @field_validator("weekly_shifts", mode="before")
    @classmethod
    def _weekly(cls, value: Any) -> dict[str, Any] | None:
        return None if value is None else _check_weekly(value)


class DayShift(NamedTuple):
    """One day's shift in local wall-clock times, and the break rules that fit inside it."""

    start: time
    end: time
    breaks: list[dict[str, Any]]


def shift_on(tech: TechnicianBase, day: date) -> DayShift | None:
    """This technician's shift on ``day`` (local date), or None when the weekly pattern has that weekday off.
    A weekday the pattern leaves out works shift_start..shift_end. On a day with its own hours, break rules that
    cannot fit (e.g. a lunch break on a morning-only Friday) are dropped for that day.
    Availability and recorded absences are not looked at here: callers already filter those."""
    entry = (tech.weekly_shifts or {}).get(str(day.isoweekday()))
    if entry == "off":
        return None
    if isinstance(entry, dict):
        start, end = time.fromisoformat(entry["start"]), time.fromisoformat(entry["end"])
    else:
        start, end = tech.shift_start, tech.shift_end

    def minutes(value: time) -> int:
        return value.hour * 60 + value.minute

    def fits(rule: dict[str, Any]) -> bool:  # can start inside its window, after the shift starts, and end in it
        first = max(minutes(time.fromisoformat(rule["earliest"])), minutes(start))
        latest = minutes(time.fromisoformat(rule["latest"]))
        return first <= latest and first + int(rule["duration_min"]) <= minutes(end)

    if (start, end) == (tech.shift_start, tech.shift_end):  # the everyday shift: its breaks as they always were
        return DayShift(start, end, list(tech.breaks))
    return DayShift(start, end, [b for b in tech.breaks if fits(b)])


def weekly_summary(tech: TechnicianBase) -> str:
    """A short human summary of the week, e.g. "Mon-Thu 07:00-17:30, Fri 07:00-12:00" (off days left out)."""
    def label(day: int) -> str | None:
        entry = (tech.weekly_shifts or {}).get(str(day))
        if entry == "off":
            return None
        if isinstance(entry, dict):
            return f"{entry['start']}-{entry['end']}"
        return f"{tech.shift_start.strftime('%H:%M')}-{tech.shift_end.strftime('%H:%M')}"

    parts: list[str] = []
    day = 1
    while day <= 7:
        here = label(day)
        last = day
        while last < 7 and label(last + 1) == here:
            last += 1
        if here is not None:
            names = WEEKDAY_NAMES[day - 1] if last == day else f"{WEEKDAY_NAMES[day - 1]}-{WEEKDAY_NAMES[last - 1]}"
            parts.append(f"{names} {here}")
        day = last + 1
    return ", ".join(parts) or "off every day"


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
