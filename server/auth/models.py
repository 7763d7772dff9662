"""Users and their roles."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, utc_field


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    agent = "agent"
    technician = "technician"


class UserBase(SQLModel):
    username: str = Field(min_length=2, max_length=64, regex=r"^[A-Za-z0-9_.@-]+$", index=True, unique=True)
    full_name: str = Field(default="", max_length=120)
    role: Role = enum_field(Role.agent)
    technician_id: int | None = Field(default=None, foreign_key="technician.id")


_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]+$")


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=256)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        """The column's pattern, checked here: SQLModel's ``regex=`` is not enforced under pydantic 2, and a name
        with spaces or markup cannot be typed reliably at sign-in."""
        if not _USERNAME.fullmatch(value):
            raise ValueError("username: letters, digits and . _ @ - only (no spaces)")
        return value


class UserUpdate(SQLModel):
    full_name: str | None = Field(default=None, max_length=120)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    is_active: bool | None = None
    technician_id: int | None = None  # null unlinks the technician

    @field_validator("full_name", "role", "password", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Leaving a field out keeps it; an explicit null is refused (422 naming the field), never stored."""
        if value is None:
            raise ValueError("may not be null; leave the field out to keep its current value")
        return value


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = utc_field(default_now=True)
    # Unused since sign-in throttling moved to SignInThrottle (per IP and per IP + account); kept until
    # tests/security/test_schemathesis.py stops resetting locked_until, then dropped by a migration.
    failed_logins: int = 0
    locked_until: datetime | None = utc_field()
    #: Stamped into every access and refresh token ("ver"); a token whose version is not the user's current one is
    #: refused. Bumped by a password change, deactivation and sign-out, which revokes every token issued before.
    token_version: int = 0


class SignInThrottle(SQLModel, table=True):
    """Sign-in attempts counted per key in a fixed window: one row per client IP and one per (IP, account name).
    Keys are SHA-256 digests, so names typed into the username box (sometimes a password) are never stored."""

    __tablename__ = "sign_in_throttle"

    key: str = Field(primary_key=True, max_length=64)
    attempts: int = 0
    window_start_s: int = Field(sa_type=BigInteger, index=True)  # epoch seconds when the window began


class UserPublic(UserBase):
    id: int
    is_active: bool
    created_at: datetime


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str | None = None
    role: Role


class PasswordChange(SQLModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class RefreshRequest(SQLModel):
    refresh_token: str = Field(min_length=10, max_length=4096)

    @field_validator("refresh_token")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()
