"""What stands between the public internet and the intake pipeline: the channel-configured gate, per-IP rate
limits on public routes, a JSON parser that refuses hostile nesting, and text cleaning (NUL and XML-illegal
control characters) applied to every inbound message.

Rate limits use the ``limits`` library: counters in process memory, or in Redis when ``broker_url`` is set (then
every API process shares them). A route declares ``Depends(rate_limit("webform"))``."""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request, status
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError

from server.config import Settings
from server.conversations.models import InboundMessage
from server.core.errors import Invalid, Unavailable

log = logging.getLogger("groundcrew.intake")

# C0 controls except tab, newline and carriage return, lone surrogates and U+FFFE/U+FFFF: illegal in XML 1.0;
# NUL and lone surrogates are also refused by PostgreSQL.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_JSON_DEPTH = 64


def clean_text(value: str) -> str:
    """``value`` without NUL, the other XML-illegal control characters and lone surrogates (PostgreSQL refuses
    NUL in text, XML 1.0 refuses all of them, and one of them in a description breaks the public Open311 feed)."""
    return _ILLEGAL.sub("", value) if _ILLEGAL.search(value) else value


def clean(value: Any) -> Any:
    """``clean_text`` applied to every string inside ``value`` (str, list, dict; other values unchanged)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


_CLEANED_FIELDS = ("external_id", "author_handle", "author_name", "text", "place_name", "reply_to_external_id",
                   "thread_id", "subject")


def clean_inbound(inbound: InboundMessage) -> InboundMessage:
    """The message with NUL/control characters removed from its text fields (the same object when it has none)."""
    update: dict[str, Any] = {}
    for name in _CLEANED_FIELDS:
        value = getattr(inbound, name)
        if isinstance(value, str) and clean_text(value) != value:
            update[name] = clean_text(value)
    media = [clean_text(m) for m in inbound.media]
    if media != inbound.media:
        update["media"] = media
    links = [link.model_copy(update={"handle": clean_text(link.handle)}) for link in inbound.linked_handles]
    if any(a.handle != b.handle for a, b in zip(links, inbound.linked_handles, strict=True)):
        update["linked_handles"] = links
    if not update:
        return inbound
    try:
        return InboundMessage.model_validate({**inbound.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"{'.'.join(str(p) for p in first['loc']) or 'body'}: "
                      f"{first['msg'].removeprefix('Value error, ')} (after removing control characters)") from None


# ------------------------------------------------------------------------------------------- JSON
def _depth_ok(body: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays/objects at most ``limit`` deep (brackets inside strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return True
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in ``body``, or 422 naming the body: not JSON, or nested deeper than ``max_depth``."""
    if not _depth_ok(body, max_depth):
        raise Invalid(f"body: JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"body: not valid JSON ({exc})") from None
    except RecursionError:
        raise Invalid(f"body: JSON nested more than {max_depth} levels deep") from None


# ------------------------------------------------------------------------------------------- channel gate
class ChannelNotConfigured(Unavailable):
    """A provider channel without its secret, in a deployment that does not accept unsigned deliveries."""


_warned: set[str] = set()


def secret_or_refuse(settings: Settings, secret: str | None, env: str) -> str | None:
    """The channel's secret; None when unsigned deliveries may pass (``insecure_channels``); else 503."""
    if secret:
        return secret
    if settings.insecure_channels:
        if env not in _warned:
            _warned.add(env)
            log.warning("GROUNDCREW_INSECURE_CHANNELS: accepting an unsigned delivery (GROUNDCREW_%s is unset)", env)
        return None
    raise ChannelNotConfigured(f"channel not configured: set GROUNDCREW_{env} (or GROUNDCREW_INSECURE_CHANNELS=true "
                               "for a demo)")


def secrets_or_refuse(settings: Settings, secret: str | None, env: str) -> list[str] | None:
    """The secrets a delivery may be signed with: the channel's secret, and while a key is being rotated the one it
    replaces (``previous_channel_secrets[env]``), so deliveries signed before the provider switched still pass.
    None when unsigned deliveries may pass; else 503 (see ``secret_or_refuse``)."""
    current = secret_or_refuse(settings, secret, env)
    if current is None:
        return None
    previous = settings.previous_channel_secrets.get(env)
    return [current, previous] if previous and previous != current else [current]


def signed_by_any(given: str | bytes, secrets: list[str], expected: Callable[[str], str | bytes]) -> bool:
    """Whether ``given`` equals ``expected(secret)`` for one of ``secrets`` (each compared in constant time)."""
    given_b = given.encode() if isinstance(given, str) else given
    found = False
    for secret in secrets:
        want = expected(secret)
        found |= hmac.compare_digest(given_b, want.encode() if isinstance(want, str) else want)
    return found


# ------------------------------------------------------------------------------------------- rate limits
def rate_limited(detail: str, retry_after_s: int) -> HTTPException:
    """429 ``{"detail": ...}`` with ``Retry-After`` in whole seconds."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=detail,
                         headers={"Retry-After": str(retry_after_s)})


class _Limiter:
    """One limiter per application: a ``limits`` storage (memory or Redis) and the parsed limits per route group."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.broker_url if settings.broker_url else "memory://"
        self.strategy = MovingWindowRateLimiter(storage_from_string(uri))
        self.rules: dict[str, list[RateLimitItem]] = {
            "webform": parse_many(settings.webform_rate_limit) if settings.webform_rate_limit else [],
            "webhook": parse_many(settings.webhook_rate_limit) if settings.webhook_rate_limit else [],
            "open311": parse_many(settings.open311_rate_limit) if settings.open311_rate_limit else [],
        }

    def hit(self, group: str, client: str) -> None:
        """Count one request; raise a 429 when any of the group's limits is spent."""
        for item in self.rules[group]:
            try:
                allowed = self.strategy.hit(item, group, client)
            except Exception as exc:  # a Redis outage must not take the public routes down with it
                log.warning("rate limit storage unavailable (%s); request let through", exc)
                return
            if not allowed:
                reset = self.strategy.get_window_stats(item, group, client).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                raise rate_limited(f"rate limit: more than {item} from {client} on this route; retry in {retry} s",
                                   retry)


_lock = threading.Lock()


def _limiter(request: Request) -> _Limiter:
    state = request.app.state
    limiter = getattr(state, "intake_rate_limiter", None)
    if limiter is None:
        with _lock:
            limiter = getattr(state, "intake_rate_limiter", None)
            if limiter is None:
                limiter = _Limiter(state.settings)
                state.intake_rate_limiter = limiter
    return limiter


def client_address(request: Request) -> str:
    """The client's IP as the server sees it (behind a proxy, run uvicorn with ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


def rate_limit(group: str) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that counts the request against ``group``'s per-IP limits (429 when spent)."""

    async def dependency(request: Request) -> None:
        _limiter(request).hit(group, client_address(request))

    dependency.__name__ = f"rate_limit_{group}"
    return dependency
