"""Customers and their channel identities (one person, many handles)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, utc_field


class Channel(StrEnum):
    twitter = "twitter"
    facebook = "facebook"
    email = "email"
    sms = "sms"
    webform = "webform"
    open311 = "open311"
    phone = "phone"


class CustomerBase(SQLModel):
    display_name: str = Field(default="", max_length=200)
    address: str | None = Field(default=None, max_length=300)
    address_lat: float | None = Field(default=None, ge=-90, le=90)
    address_lon: float | None = Field(default=None, ge=-180, le=180)
    preferred_channel: Channel | None = enum_field(None, enum=Channel)


class CustomerCreate(CustomerBase):
    pass


class CustomerUpdate(SQLModel):
    display_name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    address_lat: float | None = Field(default=None, ge=-90, le=90)
    address_lon: float | None = Field(default=None, ge=-180, le=180)
    preferred_channel: Channel | None = None


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    merged_into_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    created_at: datetime = utc_field(default_now=True)

    @property
    def first_name(self) -> str:
        parts = self.display_name.split()
        return parts[0] if parts else ""


class CustomerPublic(CustomerBase):
    id: int
    merged_into_id: int | None
    created_at: datetime


def normalize_handle(channel: str, handle: str) -> str:
    """The comparable form of a handle: emails and social handles are case-insensitive, phones digits."""
    handle = handle.strip()
    if channel in (Channel.email, Channel.twitter, Channel.facebook):
        return handle.lower().lstrip("@") if channel != Channel.email else handle.lower()
    if channel in (Channel.sms, Channel.phone):
        digits = "".join(ch for ch in handle if ch.isdigit())
        return ("+" + digits) if handle.startswith("+") else digits
    return handle


class IdentityBase(SQLModel):
    channel: Channel = enum_field(Channel.webform)
    handle: str = Field(min_length=1, max_length=200)
    display_name: str = Field(default="", max_length=200)
    verified: bool = False

    @field_validator("handle")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("handle: must not be blank")
        return value.strip()


class IdentityCreate(IdentityBase):
    pass


class Identity(IdentityBase, table=True):
    __table_args__ = (UniqueConstraint("channel", "handle", name="uq_identity_channel_handle"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    created_at: datetime = utc_field(default_now=True)


class IdentityPublic(IdentityBase):
    id: int
    customer_id: int
    created_at: datetime


class CustomerDetail(CustomerPublic):
    identities: list[IdentityPublic]
