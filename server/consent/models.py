"""An opt-out is kept per channel handle, not per customer: the carrier's rules (and the customer's words) are
about that number or address, and a merge of two customers must not switch one of them back on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, utc_field
from server.customers.models import Channel


class ChannelOptOut(SQLModel, table=True):
    """One handle that must not receive outbound messages on a channel until it opts back in."""

    __tablename__ = "channel_opt_out"
    __table_args__ = (UniqueConstraint("channel", "handle", name="uq_channel_opt_out_channel_handle"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = enum_field(Channel.sms)
    handle: str = Field(max_length=200, index=True)
    keyword: str = Field(default="", max_length=40)  # what they sent ("STOP", "UNSUBSCRIBE", ...)
    opted_out_at: datetime = utc_field(default_now=True)
