"""Provider deliveries that became no message (an unknown event kind, a read receipt, our own page's echo, a
malformed payload, an SMS opt-out keyword): stored raw for audit and acknowledged, so a provider never retries
them and nothing is lost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, utc_field
from server.customers.models import Channel


class IntakeEvent(SQLModel, table=True):
    """One provider event acknowledged (2xx) without filing a complaint, with why."""

    __tablename__ = "intake_event"

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = enum_field(Channel.sms, index=True)
    kind: str = Field(max_length=80)  # the provider's event kind ("message_reads", "favorite_events", "STOP", ...)
    outcome: str = Field(max_length=40)  # ignored | own | invalid | opt_out | opt_in | help
    detail: str = Field(default="", max_length=500)  # the reason, naming the field when the payload was bad
    external_id: str | None = Field(default=None, max_length=200)
    payload: str = Field(default="", sa_type=Text)  # the raw event (JSON or form text) as delivered
    received_at: datetime = utc_field(default_now=True, index=True)
