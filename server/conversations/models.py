"""Conversations (threads on one channel) and their messages, inbound and outbound."""

from __future__ import annotations

import re
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
    note = "note"  # an agent's private note in the thread: never sent to the customer (no delivery at all)


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
    """The inbox's statuses (Chatwoot's): ``open`` needs an agent; ``pending`` waits on the customer or on someone
    else; ``snoozed`` is hidden until ``snoozed_until``; ``resolved`` is done. A new customer message re-opens
    pending, snoozed and resolved conversations."""

    open = "open"
    pending = "pending"
    snoozed = "snoozed"
    resolved = "resolved"


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
    assignee_user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    snoozed_until: datetime | None = utc_field()
    #: The customer's oldest message no agent has answered yet (None: nobody is waiting for us). The
    #: first-response SLA runs from it: due at awaiting_since + ``inbox_first_response_min``.
    awaiting_since: datetime | None = utc_field(index=True)
    resolved_at: datetime | None = utc_field()


class ConversationPublic(SQLModel):
    id: int
    customer_id: int
    channel: Channel
    external_thread_id: str | None
    subject: str
    status: ConversationStatus
    created_at: datetime
    last_message_at: datetime
    assignee_user_id: int | None = None
    snoozed_until: datetime | None = None
    awaiting_since: datetime | None = None
    resolved_at: datetime | None = None


class StatusChange(SQLModel):
    """Set a conversation's status; ``snoozed`` needs ``snoozed_until`` (a future time, timezone given)."""

    status: ConversationStatus
    snoozed_until: datetime | None = None

    @model_validator(mode="after")
    def _snooze_time(self) -> StatusChange:
        if self.status == ConversationStatus.snoozed and self.snoozed_until is None:
            raise ValueError("snoozed_until: required when the status is snoozed")
        if self.status != ConversationStatus.snoozed and self.snoozed_until is not None:
            raise ValueError("snoozed_until: only for the status snoozed")
        if self.snoozed_until is not None and self.snoozed_until.tzinfo is None:
            raise ValueError("snoozed_until: give a timezone (e.g. 2026-12-05T18:00:00Z)")
        return self


class Assignment(SQLModel):
    """Assign a conversation to a staff user (``null``: unassign)."""

    user_id: int | None = Field(default=None, ge=1)


class NoteCreate(SQLModel):
    """A private note: seen by staff in the thread, never sent to the customer."""

    text: str = Field(max_length=MAX_TEXT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text: must not be blank")
        return value


class TriageCorrection(SQLModel):
    """An agent's answer to triage for the conversation's case: the right category, or that it is not field work."""

    category: str | None = Field(default=None, min_length=1, max_length=60)
    not_field_work: bool = False

    @model_validator(mode="after")
    def _one_answer(self) -> TriageCorrection:
        if self.category is None and not self.not_field_work:
            raise ValueError("category: give a category, or not_field_work true")
        return self


#: Placeholders a canned reply may use, filled from the conversation's customer when it is inserted.
PLACEHOLDERS = ("{{name}}", "{{first_name}}")


def _check_canned_text(value: str) -> str:
    """Not blank, and only the known placeholders (a typo like {{nmae}} would reach a customer verbatim)."""
    if not value.strip():
        raise ValueError("text: must not be blank")
    unknown = sorted(set(re.findall(r"{{[^}]*}}", value)) - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(f"text: unknown placeholder {unknown[0]} (use {' or '.join(PLACEHOLDERS)})")
    return value


class CannedReplyBase(SQLModel):
    short_code: str = Field(min_length=1, max_length=40, regex=r"^[a-z0-9_-]+$")
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _check_canned_text(value)


class CannedReplyCreate(CannedReplyBase):
    pass


class CannedReplyUpdate(SQLModel):
    short_code: str | None = Field(default=None, min_length=1, max_length=40, regex=r"^[a-z0-9_-]+$")
    text: str | None = Field(default=None, min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_canned_text(value)


class CannedReply(CannedReplyBase, table=True):
    __tablename__ = "canned_reply"
    __table_args__ = (UniqueConstraint("short_code", name="uq_canned_reply_short_code"),)

    id: int | None = Field(default=None, primary_key=True)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class CannedReplyPublic(CannedReplyBase):
    id: int
    created_at: datetime
    updated_at: datetime


class CannedReplyFilled(CannedReplyPublic):
    """A canned reply with the customer's name put in, ready to insert into a reply."""

    filled: str


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
