"""Users and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
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


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=256)


class UserUpdate(SQLModel):
    full_name: str | None = Field(default=None, max_length=120)
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    is_active: bool | None = None
    technician_id: int | None = None


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    created_at: datetime = utc_field(default_now=True)
    failed_logins: int = 0
    locked_until: datetime | None = utc_field()


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


class RefreshRequest(SQLModel):
    refresh_token: str = Field(min_length=10, max_length=4096)

    @field_validator("refresh_token")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()
