"""Tickets for the live event stream: ``issue`` one for a signed-in user, ``redeem`` it once within its lifetime.

They live in the database, not in process memory: with several API processes (README "Scaling out") the ticket
is made by whichever process answers ``POST /events/ticket`` and redeemed by whichever accepts the WebSocket. The
database is there in every deployment (SQLite file or PostgreSQL), so one code path serves all of them; a single
``DELETE`` decides who redeems a ticket, so two connections racing with one ticket cannot both get in."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from server.core.timeutil import utcnow
from server.events.models import EventTicket

#: How long a ticket may wait before it is used (seconds): long enough for one connection attempt.
TICKET_TTL_S = 30


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue(*, session: Session, user_id: int, now: datetime | None = None) -> str:
    """A new random ticket for ``user_id``, valid ``TICKET_TTL_S`` from now (commits); old expired ones go."""
    now = now or utcnow()
    table = EventTicket.__table__  # type: ignore[attr-defined]
    session.execute(sa.delete(table).where(table.c.expires_at <= now))
    ticket = secrets.token_urlsafe(32)
    session.add(EventTicket(ticket_hash=_hash(ticket), user_id=user_id,
                            expires_at=now + timedelta(seconds=TICKET_TTL_S)))
    session.commit()
    return ticket


def redeem(*, session: Session, ticket: str, now: datetime | None = None) -> int | None:
    """The user id the ticket was issued to, if it exists, has not expired and nobody redeemed it before
    (it is deleted either way); ``None`` otherwise."""
    now = now or utcnow()
    if not ticket or len(ticket) > 200:
        return None
    row = session.get(EventTicket, _hash(ticket))
    if row is None:
        return None
    user_id, expires_at = row.user_id, row.expires_at
    table = EventTicket.__table__  # type: ignore[attr-defined]
    deleted = session.execute(sa.delete(table).where(table.c.ticket_hash == row.ticket_hash)).rowcount
    session.commit()
    if deleted != 1 or expires_at <= now:
        return None
    return user_id
