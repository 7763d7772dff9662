"""Appointments: a visit the customer must be present for, booked with them as an arrival window in their own
conversation. One row per job (a UNIQUE job_id): an offer, the customer's choice, re-offers and the reminder all
move the same row, so a job can never hold two bookings. ``BookingPolicy`` (one row) is how windows are offered, set
by an administrator in the console (server/appointments/policy.py)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class AppointmentStatus(StrEnum):
    offered = "offered"  # options sent; waiting for the customer's number
    booked = "booked"  # the customer chose: the job carries the window as a hard time window and is pinned
    reoffer = "reoffer"  # the booked window became impossible: new options are due
    cancelled = "cancelled"
    done = "done"  # the job was completed


OPEN_APPOINTMENT = (AppointmentStatus.offered, AppointmentStatus.booked, AppointmentStatus.reoffer)


class Appointment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    language: str | None = Field(default=None, max_length=10)
    status: AppointmentStatus = enum_field(AppointmentStatus.offered, index=True)
    #: What was offered: [{"n", "start", "end" (aware ISO), "technician_id", "added_travel_s"}] in reply order.
    options: list[dict[str, Any]] = json_field(list)
    offer_round: int = 1
    invalid_replies: int = 0
    window_start: datetime | None = utc_field()
    window_end: datetime | None = utc_field()
    technician_id: int | None = Field(default=None, foreign_key="technician.id")
    offered_at: datetime = utc_field(default_now=True)
    booked_at: datetime | None = utc_field()
    reminded_at: datetime | None = utc_field()
    updated_at: datetime = utc_field(default_now=True)
    #: Every step in words, oldest first ({"at", "event", ...}): what the dispatcher and the customer page show.
    history: list[dict[str, Any]] = json_field(list)


class SlotOption(SQLModel):
    """One arrival window that fits the plan, with what it adds to it."""

    n: int
    start: datetime
    end: datetime
    technician_id: int | None
    added_travel_s: int
    added_travel_min: float
    day: str  # local date, ISO


class OfferRequest(SQLModel):
    send: bool = Field(False, description="Send the windows to the customer on their channel (else only computed).")


class OfferResult(SQLModel):
    job_id: int
    options: list[SlotOption]
    sent: bool
    appointment_id: int | None
    elapsed_ms: float
    notes: list[str] = []


class AppointmentPublic(SQLModel):
    id: int
    job_id: int
    customer_id: int | None
    conversation_id: int
    status: AppointmentStatus
    options: list[dict[str, Any]]
    offer_round: int
    window_start: datetime | None
    window_end: datetime | None
    technician_id: int | None
    offered_at: datetime
    booked_at: datetime | None
    reminded_at: datetime | None
    history: list[dict[str, Any]]


# ---------------------------------------------------------------- the booking policy (Administration › Appointments)


class BookingPolicy(SQLModel, table=True):
    """How slots are offered, set by an administrator in the console: one row (id 1). A number left empty (NULL)
    is the server's setting (``appointment_window_min`` and the rest), so a deployment that never saves a policy
    offers exactly as its environment says."""

    __tablename__ = "booking_policy"

    id: int | None = Field(default=None, primary_key=True)
    window_min: int | None = None
    offer_count: int | None = None
    days: int | None = None
    lead_min: int | None = None
    #: Per service name: True offers windows, False does not; a service left out follows the catalogue's
    #: ``customer_present`` (only differences from the catalogue are stored).
    services: dict[str, bool] = json_field(dict)
    #: Days without windows: [{"first_day", "last_day" (ISO dates, inclusive), "reason"}], in date order.
    blackouts: list[dict[str, Any]] = json_field(list)
    version: int = 0
    updated_at: datetime = utc_field(default_now=True)
    updated_by: str | None = Field(default=None, max_length=120)


class BlackoutRule(SQLModel):
    """No arrival window is offered from ``first_day`` to ``last_day`` (inclusive, local dates; one day when
    ``last_day`` is left out)."""

    first_day: date
    last_day: date | None = None
    reason: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _range(self) -> BlackoutRule:
        last = self.last_day or self.first_day
        if last < self.first_day:
            raise ValueError(f"last_day: {last} is before the first day {self.first_day}")
        if (last - self.first_day).days > 366:
            raise ValueError(f"last_day: a blackout is at most a year long ({self.first_day} to {last})")
        self.last_day = last
        self.reason = self.reason.strip()
        return self


class BookingSettings(SQLModel):
    """The numbers an offer uses: window length and lead time in minutes, windows at once, working days ahead
    (today included)."""

    window_min: int
    offer_count: int
    days: int
    lead_min: int


class BookingPolicyUpdate(SQLModel):
    """The whole policy (PUT replaces it). A number sent as null (or left out) is the server's setting."""

    window_min: int | None = Field(None, ge=30, le=480, multiple_of=15,
                                   description="Length of an offered arrival window, minutes (whole quarter hours).")
    offer_count: int | None = Field(None, ge=1, le=5, description="Arrival windows offered at once.")
    days: int | None = Field(None, ge=1, le=14, description="Working days offered, today included.")
    lead_min: int | None = Field(None, ge=0, le=24 * 60,
                                 description="An offered window starts at least this many minutes from now.")
    services: dict[str, bool] = Field(default_factory=dict, description="Per service name: offers windows or not; "
                                      "a service left out follows the catalogue's customer_present.")
    blackouts: list[BlackoutRule] = Field(default_factory=list, max_length=400)
    version: int | None = Field(None, description="The version this change was made from (as GET returned it): "
                                "a policy saved by someone else since is a 409 instead of being overwritten.")


class ServicePolicy(SQLModel):
    """One catalogue service and whether it offers windows: the catalogue's flag, the stored override (None: none),
    and the result."""

    name: str
    label: str
    field_work: bool
    customer_present: bool
    override: bool | None
    offers_slots: bool


class BookingPolicyPublic(SQLModel):
    window_min: int | None
    offer_count: int | None
    days: int | None
    lead_min: int | None
    defaults: BookingSettings  # the server's settings: what an empty number means
    effective: BookingSettings  # what offers use now
    services: list[ServicePolicy]
    blackouts: list[BlackoutRule]
    version: int
    updated_at: datetime | None
    updated_by: str | None
    #: Booked windows that fall on a blackout day (they stay booked: the customer was told).
    warnings: list[str] = []
