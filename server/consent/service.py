"""Record and read opt-outs. Intake records them (a customer's STOP / START); notify honours them (nothing is
sent to an opted-out handle; the message is marked failed with the reason)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from server.consent.models import ChannelOptOut
from server.customers.models import Channel


def record_opt_out(*, session: Session, channel: Channel | str, handle: str, keyword: str = "") -> ChannelOptOut:
    """Mark ``handle`` on ``channel`` as opted out (idempotent: a second STOP keeps the first row)."""
    existing = find(session=session, channel=channel, handle=handle)
    if existing is not None:
        return existing
    row = ChannelOptOut(channel=Channel(channel), handle=handle, keyword=keyword[:40])
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent STOP won the race: theirs is the same fact
        found = find(session=session, channel=channel, handle=handle)
        assert found is not None
        return found
    return row


def record_opt_in(*, session: Session, channel: Channel | str, handle: str) -> bool:
    """Lift an opt-out (START / UNSTOP). Returns whether there was one."""
    existing = find(session=session, channel=channel, handle=handle)
    if existing is None:
        return False
    session.delete(existing)
    session.flush()
    return True


def find(*, session: Session, channel: Channel | str, handle: str) -> ChannelOptOut | None:
    return session.exec(
        select(ChannelOptOut).where(ChannelOptOut.channel == Channel(channel), ChannelOptOut.handle == handle)
    ).first()


def is_opted_out(*, session: Session, channel: Channel | str, handle: str | None) -> bool:
    """Whether nothing may be sent to ``handle`` on ``channel``."""
    return bool(handle) and find(session=session, channel=channel, handle=handle or "") is not None
