"""Appointments: a visit the customer must be present for, booked with them as an arrival window in their own
conversation. One row per job (a UNIQUE job_id): an offer, the customer's choice, re-offers and the reminder all
move the same row, so a job can never hold two bookings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

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
