"""Domain errors. Services raise these with a message a person can act on; the API maps each to
its HTTP status as ``{"detail": ...}``."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class Invalid(DomainError):
    """Input that is well-formed but not acceptable (unknown reference, impossible value)."""

    status_code = 422


class Unavailable(DomainError):
    status_code = 503


class TooMany(DomainError):
    """Too much asked at once (a bounded queue is full): 429 with ``Retry-After`` in whole seconds."""

    status_code = 429

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


def invalid_from(exc: ValidationError) -> Invalid:
    """A 422 naming each field pydantic refused (for a model validated inside a service, e.g. a merged update)."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "body"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(message if message.startswith(f"{field}:") else f"{field}: {message}")
    return Invalid("; ".join(parts))


def refuse_nulls(data: dict[str, Any], model: type[BaseModel]) -> None:
    """A field ``model`` cannot hold empty, sent as null in a partial update, is a 422 naming it."""
    for key, value in data.items():
        field = model.model_fields.get(key)
        if value is None and field is not None and not _nullable(field.annotation):
            raise Invalid(f"{key}: must not be null (leave it out to keep the current value)")


def _nullable(annotation: Any) -> bool:
    return annotation is None or type(None) in get_args(annotation)


_NOT_NULL = (
    re.compile(r"NOT NULL constraint failed: (?:\w+\.)?(\w+)"),  # SQLite
    re.compile(r'null value in column "(\w+)"'),  # PostgreSQL
)


def integrity_error_answer(exc: IntegrityError) -> tuple[int, str]:
    """The status and detail for a database integrity error: a NOT NULL violation is bad input (422 naming the
    column); anything else (a duplicate, a dangling reference) is a conflict with existing data (409)."""
    text = str(exc.orig)
    for pattern in _NOT_NULL:
        match = pattern.search(text)
        if match:
            return 422, f"{match.group(1)}: must not be null"
    return 409, "conflict with existing data (a duplicate or a reference to something that does not exist)"
