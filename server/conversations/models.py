"""Conversations (threads on one channel) and their messages, inbound and outbound."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationInfo, computed_field, field_validator, model_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field
from server.customers.models import Channel, normalize_handle

MAX_TEXT = 10_000


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Visibility(StrEnum):
    public = "public"
    private = "private"


class AuthorKind(StrEnum):
    customer = "customer"
    agent = "agent"
    technician = "technician"
    system = "system"


class DeliveryStatus(StrEnum):
    """Inbound: ``received``. Outbound: ``queued`` (waiting, or waiting for a retry) → ``sent`` (the provider
    accepted it; its id is in meta) → ``delivered`` / ``failed`` (with the reason in meta["detail"]); ``recorded``:
    no provider is configured for the channel, so nothing left the server."""

    received = "received"
    recorded = "recorded"
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"


class ConversationStatus(StrEnum):
    open = "open"
    waiting = "waiting"
    closed = "closed"


class Conversation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("channel", "external_thread_id", name="uq_conversation_thread"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    channel: Channel = enum_field(Channel.webform)
    external_thread_id: str | None = Field(default=None, max_length=200)
    subject: str = Field(default="", max_length=300)
    status: ConversationStatus = enum_field(ConversationStatus.open, index=True)
    created_at: datetime = utc_field(default_now=True)
    last_message_at: datetime = utc_field(default_now=True, index=True)


class ConversationPublic(SQLModel):
    id: int
    customer_id: int
    channel: Channel
    external_thread_id: str | None
    subject: str
    status: ConversationStatus
    created_at: datetime
    last_message_at: datetime


class MessageBase(SQLModel):
    text: str = Field(max_length=MAX_TEXT)
    visibility: Visibility = enum_field(Visibility.private)
    external_id: str | None = Field(default=None, max_length=200)
    media: list[str] = json_field(list)


class MessageCreate(MessageBase):
    """An agent's or technician's reply into an existing conversation."""

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text: must not be blank")
        return value

    @field_validator("media")
    @classmethod
    def _media(cls, value: list[str]) -> list[str]:
        if len(value) > 10:
            raise ValueError("media: at most 10 links")
        for link in value:
            if not link.startswith(("http://", "https://")) or len(link) > 2000:
                raise ValueError("media: each item must be an http(s) URL")
        return value


class Message(MessageBase, table=True):
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_message_channel_external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    channel: Channel = enum_field(Channel.webform)
    direction: Direction = enum_field(Direction.inbound)
    author_kind: AuthorKind = enum_field(AuthorKind.customer)
    author_name: str = Field(default="", max_length=200)
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    reply_to_external_id: str | None = Field(default=None, max_length=200)
    sent_at: datetime = utc_field(default_now=True, index=True)
    created_at: datetime = utc_field(default_now=True)
    lat: float | None = None
    lon: float | None = None
    place_name: str | None = Field(default=None, max_length=300)
    delivery_status: DeliveryStatus = enum_field(DeliveryStatus.received)
    meta: dict[str, Any] = json_field()


class MessagePublic(MessageBase):
    id: int
    conversation_id: int
    customer_id: int | None
    channel: Channel
    direction: Direction
    author_kind: AuthorKind
    author_name: str
    sent_at: datetime
    lat: float | None
    lon: float | None
    place_name: str | None
    delivery_status: DeliveryStatus
    meta: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delivery_detail(self) -> str:
        """Outbound: why the message is in its state (the provider's answer or reason, a retry's time)."""
        return str(self.meta.get("detail") or "") if self.direction == Direction.outbound else ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delivery_attempts(self) -> int:
        """Outbound: how many times it was handed to the provider."""
        return int(self.meta.get("attempts") or 0) if self.direction == Direction.outbound else 0


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]


class LinkedHandle(SQLModel):
    """Another key the author is known by in the same message (a web form's email, a linked account)."""

    channel: Channel
    handle: str = Field(min_length=1, max_length=200)
    verified: bool = False


class InboundMessage(SQLModel):
    """The channel-neutral shape every adapter produces (and the generic inbound endpoint accepts)."""

    channel: Channel
    external_id: str = Field(min_length=1, max_length=200)
    author_handle: str = Field(min_length=1, max_length=200)
    author_name: str = Field(default="", max_length=200)
    author_verified: bool = False
    text: str = Field(max_length=MAX_TEXT)
    sent_at: datetime | None = None
    visibility: Visibility = Visibility.private
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    place_name: str | None = Field(default=None, max_length=300)
    media: list[str] = Field(default_factory=list, max_length=10)
    reply_to_external_id: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(default=None, max_length=200)
    subject: str = Field(default="", max_length=300)
    linked_handles: list[LinkedHandle] = Field(default_factory=list, max_length=5)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text: must not be blank")
        return value

    @field_validator("author_handle", "external_id")
    @classmethod
    def _id_not_blank(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():  # a blank handle would become a customer identity nobody can address
            raise ValueError(f"{info.field_name}: must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _both_coordinates(self) -> InboundMessage:
        handles = [("author_handle", self.channel, self.author_handle)] + [
            (f"linked_handles.{i}.handle", link.channel, link.handle) for i, link in enumerate(self.linked_handles)]
        for name, channel, handle in handles:
            if not normalize_handle(channel, handle):  # e.g. "@" on X, or an SMS sender with no digits
                raise ValueError(f"{name}: '{handle[:40]}' is not a usable {channel} handle")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat/lon: give both coordinates or neither")
        return self
