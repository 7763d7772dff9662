"""Domain errors. Services raise these with a message a person can act on; the API maps each to
its HTTP status as ``{"detail": ...}``."""

from __future__ import annotations


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
