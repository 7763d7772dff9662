"""HTTP client for the Groundcrew server, standard library only (urllib), so python-for-android builds it.

Every failure is a typed error with a message a technician can act on:

- ``OfflineError``: the server cannot be reached (no network, wrong address, server down);
- ``AuthError``: wrong credentials, or the session expired and could not be renewed;
- ``ServerError``: the server (or a proxy in front of it) answered 5xx;
- ``ConflictError``: the job is no longer ours (reassigned, cancelled) or the action clashes with its state;
- ``RequestError``: any other refusal (4xx), with the server's ``detail``.

The client never invents a response: when an endpoint is missing the server's 404/405 surfaces as
``RequestError`` (``missing_endpoint`` is True).
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """Base of every client error; ``str(error)`` is a sentence for the screen."""

    def __init__(self, message: str, *, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class OfflineError(ApiError):
    """The server could not be reached."""


class AuthError(ApiError):
    """Credentials refused, or the session expired and could not be renewed."""


class ServerError(ApiError):
    """The server failed (HTTP 5xx); the request may be retried later."""


class ConflictError(ApiError):
    """The job changed hands or state on the server; the action cannot apply any more."""


class RequestError(ApiError):
    """The server refused the request (4xx other than 401/409)."""

    @property
    def missing_endpoint(self) -> bool:
        return self.status in (404, 405) and self.detail in ("Not Found", "Method Not Allowed")


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None = None
    role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token, "role": self.role}


def _detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
        return "; ".join(parts) or json.dumps(detail)
    return json.dumps(detail) if detail is not None else ""


class ApiClient:
    """A small typed client. ``tokens`` renew themselves once on 401 through ``/auth/refresh``;
    ``on_tokens`` is called with the new tokens so they can be persisted."""

    def __init__(
        self, base_url: str, *, tokens: Tokens | None = None, timeout_s: float = 8.0,
        on_tokens: Callable[[Tokens | None], None] | None = None,
    ) -> None:
        self.base_url = normalize_url(base_url)
        self.tokens = tokens
        self.timeout_s = timeout_s
        self.on_tokens = on_tokens

    # ---- plumbing -------------------------------------------------------------------------------
    def _open(self, method: str, path: str, *, body: bytes | None, headers: dict[str, str],
              timeout_s: float | None = None) -> Any:
        url = self.base_url + path
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw).get("detail")
            except (ValueError, AttributeError):
                detail = raw.decode("utf-8", "replace")[:300]
            raise _http_error(exc.code, detail) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OfflineError(f"Cannot reach the server at {self.base_url} ({reason}).") from None

    def request(self, method: str, path: str, *, json_body: Any = None, form: dict[str, str] | None = None,
                auth: bool = True, params: dict[str, Any] | None = None) -> Any:
        """Send one request and decode the JSON answer (None for an empty body)."""
        if params:
            path = f"{path}?{urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})}"
        headers = {"Accept": "application/json"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if auth:
                if self.tokens is None:
                    raise AuthError("You are signed out. Sign in again.", status=401)
                headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            try:
                with self._open(method, path, body=body, headers=headers) as response:
                    raw = response.read()
                return json.loads(raw) if raw else None
            except AuthError:
                if not auth or attempt == 1 or not self._renew():
                    raise
        raise AssertionError("unreachable")

    def _renew(self) -> bool:
        """Exchange the refresh token for new tokens; False when that is not possible."""
        if self.tokens is None or not self.tokens.refresh_token:
            return False
        try:
            data = self.request("POST", "/auth/refresh", json_body={"refresh_token": self.tokens.refresh_token},
                                auth=False)
        except AuthError:
            self.tokens = None
            if self.on_tokens:
                self.on_tokens(None)
            raise AuthError("Your session has expired. Sign in again; your unsent updates are kept.",
                            status=401) from None
        self._set_tokens(data)
        return True

    def _set_tokens(self, data: dict[str, Any]) -> Tokens:
        self.tokens = Tokens(data["access_token"], data.get("refresh_token"), data.get("role"))
        if self.on_tokens:
            self.on_tokens(self.tokens)
        return self.tokens

    # ---- auth -----------------------------------------------------------------------------------
    def sign_in(self, username: str, password: str) -> Tokens:
        """Password sign-in; raises AuthError with the server's reason when refused."""
        try:
            data = self.request("POST", "/auth/token", form={"username": username, "password": password},
                                auth=False)
        except AuthError as exc:
            raise AuthError(f"Sign-in refused: {exc.message}", status=401, detail=exc.detail) from None
        except RequestError as exc:
            if exc.missing_endpoint:
                raise RequestError(f"{self.base_url} does not look like a Groundcrew server.",
                                   status=exc.status) from None
            raise
        return self._set_tokens(data)

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/auth/me")

    # ---- reads ----------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, Any]]:
        """All jobs the server gives this technician (their own), every page."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.request("GET", "/jobs", params={"offset": offset, "limit": 100})
            items.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return items

    def job(self, job_id: int) -> dict[str, Any]:
        return self.request("GET", f"/jobs/{job_id}")

    def job_reports(self, job_id: int) -> list[dict[str, Any]]:
        return self.request("GET", f"/jobs/{job_id}/reports")

    def customer(self, customer_id: int) -> dict[str, Any]:
        return self.request("GET", f"/customers/{customer_id}")

    def conversations(self, customer_id: int) -> list[dict[str, Any]]:
        return self.request("GET", "/conversations", params={"customer_id": customer_id, "limit": 100})["items"]

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        return self.request("GET", f"/conversations/{conversation_id}")

    def job_events(self, job_id: int) -> list[dict[str, Any]]:
        """A job's lifecycle steps (en route, on site, completed...) with their times, in order."""
        return self.request("GET", f"/jobs/{job_id}/events")

    def my_coming_days(self) -> list[dict[str, Any]]:
        """The technician's tentative visits on the working days after today (the horizon plan), in order."""
        return self.request("GET", "/horizon/mine")

    def my_route(self) -> dict[str, Any]:
        """Today's route for the signed-in technician: ordered stops with ETAs and route GeoJSON."""
        return self.request("GET", "/technicians/me/route")

    def streets(self, bbox: tuple[float, float, float, float]) -> dict[str, Any]:
        """Streets (GeoJSON FeatureCollection) inside (west, south, east, north)."""
        return self.request("GET", "/map/streets", params={"bbox": ",".join(f"{v:.6f}" for v in bbox)})

    # ---- actions (idempotent by key) ------------------------------------------------------------
    def post_message(self, conversation_id: int, *, text: str, key: str, visibility: str = "public",
                     media: list[str] | None = None) -> dict[str, Any]:
        """Reply on the customer's own channel; ``key`` makes a retry return the original message."""
        body = {"text": text, "visibility": visibility, "external_id": key, "media": media or []}
        try:
            return self.request("POST", f"/conversations/{conversation_id}/messages", json_body=body)
        except RequestError as exc:
            if exc.status in (403, 404) and not exc.missing_endpoint:
                raise ConflictError(f"This customer is no longer linked to your jobs ({exc.message}).",
                                    status=exc.status, detail=exc.detail) from None
            raise

    def post_status(self, job_id: int, *, status: str, key: str, **fields: Any) -> dict[str, Any]:
        """Move a job along its lifecycle (en_route, on_site, completed, unable)."""
        body = {"status": status, "idempotency_key": key, **{k: v for k, v in fields.items() if v is not None}}
        try:
            return self.request("POST", f"/jobs/{job_id}/status", json_body=body)
        except RequestError as exc:
            if exc.status in (403, 404) and not exc.missing_endpoint:
                raise ConflictError(f"Job #{job_id} is no longer assigned to you.", status=exc.status,
                                    detail=exc.detail) from None
            raise

    def logout(self, tokens: Tokens) -> None:
        """Revoke every token of this user on the server (`POST /auth/logout`); errors are ignored: the app has
        already forgotten them."""
        headers = {"Authorization": f"Bearer {tokens.access_token}"}
        try:
            self._open("POST", "/auth/logout", body=b"", headers=headers).close()
        except Exception:  # offline, expired or refused: nothing more to do
            return

    def post_location(self, *, lat: float, lon: float, at: str | None = None,
                      accuracy_m: float | None = None) -> Any:
        """The technician's position (moves the ETA of the job they drive to); `accuracy_m` is the fix's stated
        accuracy (m), which lets a job completed on site confirm where its address is."""
        body = {"lat": lat, "lon": lon, **({"at": at} if at else {}),
                **({"accuracy_m": round(float(accuracy_m), 1)} if accuracy_m is not None else {})}
        return self.request("POST", "/technicians/me/location", json_body=body)

    # ---- live -----------------------------------------------------------------------------------
    def event_stream(self, timeout_s: float = 30.0) -> Iterator[dict[str, Any]]:
        """Server-sent events from /events/stream as dicts ({"event": ..., "data": ...}); ends on close."""
        if self.tokens is None:
            raise AuthError("You are signed out. Sign in again.", status=401)
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {self.tokens.access_token}"}
        response = self._open("GET", "/events/stream", body=None, headers=headers, timeout_s=timeout_s)
        event: dict[str, Any] = {}
        with response:
            for raw in response:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if "data" in event:
                        with contextlib.suppress(ValueError):
                            event["data"] = json.loads(event["data"])
                        yield event
                    event = {}
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    event[name] = event[name] + "\n" + value if name == "data" and name in event else value


def normalize_url(url: str) -> str:
    """'example.org:8000/' → 'http://example.org:8000'."""
    url = url.strip().rstrip("/")
    if not url:
        raise ValueError("Enter the server address, e.g. http://192.168.1.20:8000")
    if "://" not in url:
        url = "http://" + url
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{url}' is not a server address; use e.g. http://192.168.1.20:8000")
    return url


def _http_error(status: int, detail: Any) -> ApiError:
    text = _detail_text(detail)
    if status == 401:
        return AuthError(text or "Not signed in.", status=status, detail=detail)
    if status == 409:
        return ConflictError(text or "Conflict.", status=status, detail=detail)
    if status >= 500:
        return ServerError(f"The server had a problem (HTTP {status}). Your updates are kept and will be "
                           f"retried.", status=status, detail=detail)
    return RequestError(text or f"HTTP {status}", status=status, detail=detail)
