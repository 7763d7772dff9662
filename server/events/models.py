"""Event-stream tickets: single-use, short-lived proofs of sign-in for opening ``/events/ws`` or
``/events/stream`` from a browser (which cannot send an Authorization header there)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.core.models import utc_field


class EventTicket(SQLModel, table=True):
    """One unused ticket. Only its SHA-256 is stored: the database never holds a usable ticket."""

    __tablename__ = "event_ticket"

    ticket_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(index=True)  # no foreign key: a ticket never stands in the way of removing a user
    expires_at: datetime = utc_field(nullable=False, index=True)


class EventTicketPublic(SQLModel):
    ticket: str
    expires_in_s: int
