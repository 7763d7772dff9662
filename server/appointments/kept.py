"""Booked windows that a new plan no longer keeps are marked for a re-offer (the appointment sweep in
``service.sweep`` then sends the customer new windows).

A module of its own, depending on nothing but the appointment table, because the plan writer (server/plans) and the
dispatcher's override (server/dispatch/control.py) call it when they store a day, while ``appointments.service``
itself depends on both to compute and book windows: calling the service from there was an import cycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from server.appointments.models import Appointment, AppointmentStatus
from server.config import Settings
from server.core.timeutil import as_utc, utcnow
from server.events.broker import make_event

#: Entries kept in an appointment's history (oldest dropped first).
HISTORY_LIMIT = 50


def note(appt: Appointment, event: str, **data: Any) -> None:
    """Add ``event`` (with its data) to the appointment's history and touch it."""
    appt.history = [*appt.history, {"at": utcnow().isoformat(), "event": event, **data}][-HISTORY_LIMIT:]
    appt.updated_at = utcnow()


def local_day(settings: Settings, at: datetime) -> str:
    """The local service day (YYYY-MM-DD) of an instant."""
    return as_utc(at).astimezone(ZoneInfo(settings.timezone)).date().isoformat()


def mark_not_kept(*, session: Session, settings: Settings, day: str, job_ids: list[int]) -> list[dict[str, Any]]:
    """A plan for ``day`` left these jobs out (or a dispatcher chose to break their windows): any of them booked for
    that day can no longer keep its window and is marked for a re-offer (the caller commits). The staff-only
    ``appointment.broken`` events to publish are returned."""
    if not job_ids:
        return []
    rows = session.exec(select(Appointment).where(Appointment.status == AppointmentStatus.booked,
                                                  col(Appointment.job_id).in_(job_ids))).all()
    events = []
    for appt in rows:
        if appt.window_start is None or local_day(settings, appt.window_start) != day:
            continue
        appt.status = AppointmentStatus.reoffer
        note(appt, "window no longer possible after a re-plan")
        session.add(appt)
        events.append(make_event("appointment.broken", {"appointment_id": appt.id, "job_id": appt.job_id},
                                 staff_only=True))
    return events
