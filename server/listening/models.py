"""Listening feed: public posts that match the taxonomy inside the service area, not addressed to us."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from server.core.models import enum_field, utc_field


class MentionStatus(StrEnum):
    new = "new"
    answered = "answered"
    dismissed = "dismissed"


class ListeningMention(SQLModel, table=True):
    __tablename__ = "listening_mention"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    category: str | None = Field(default=None, max_length=60)
    confidence: float = 0.0
    priority: int = 5
    lat: float | None = None
    lon: float | None = None
    location_confidence: float | None = None
    status: MentionStatus = enum_field(MentionStatus.new, index=True)
    reply_message_id: int | None = Field(default=None, foreign_key="message.id")
    created_at: datetime = utc_field(default_now=True, index=True)


class ListeningMentionPublic(SQLModel):
    id: int
    message_id: int
    customer_id: int | None
    category: str | None
    confidence: float
    priority: int
    lat: float | None
    lon: float | None
    location_confidence: float | None
    status: MentionStatus
    reply_message_id: int | None
    created_at: datetime
    text: str = ""
    author_name: str = ""
    channel: str = ""


class MentionReply(SQLModel):
    text: str = Field(min_length=1, max_length=2000)
