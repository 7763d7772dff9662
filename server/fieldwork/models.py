"""The technician's day in the field: lifecycle steps sent from the app (with completion notes, parts, photos and
the signature), what a completion left behind, and live location pings."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from server.core.models import json_field, utc_field
from server.jobs.models import MAX_DURATION_MIN


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


class ReturnVisit(SQLModel):
    """"Needs a return visit" on the unable step: the server opens a follow-up job at the same place, for the same
    customers, preferring the same technician, not before ``earliest_day`` (the day the part arrives)."""

    reason: str = Field(min_length=1, max_length=1000, description="e.g. 'part on order'")
    earliest_day: date | None = Field(default=None, description="Not before this local day (default: any day).")
    duration_min: int | None = Field(default=None, ge=1, le=MAX_DURATION_MIN,
                                     description="Work the return visit needs (default: the job's duration).")

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reason: say why a return visit is needed")
        return value.strip()


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
    return_visit: ReturnVisit | None = Field(default=None, description=(
        "Only with 'unable': a follow-up job is opened (the job's follow_ups lists it)."))
    work_left_min: int | None = Field(default=None, ge=0, le=MAX_DURATION_MIN, description=(
        "Only with 'completed' on a multi-day visit: work still to do (min). More than 0 closes today's part only: "
        "the job stays open for its next part with the same technician preferred. Default for a job longer than "
        "the technician's working day: its duration less one working day."))

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
