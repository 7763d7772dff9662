"""The small interface every outbound channel implements: ``deliver(Outbound) -> DeliveryResult``.

Connectors send once and say what happened; they never sleep or retry (the service retries transient failures
with backoff, visibly, in the message's state). Provider connectors live in ``server.notify.providers``; the
recording outbox here is what a channel without a configured provider gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class QuickReply:
    """One tappable answer offered with a private message (X DM quick reply option, Messenger quick reply).
    ``label``: what the button shows (and what the customer's reply then says); ``payload``: what the provider hands
    back to our webhook when it is tapped, never shown (an opaque signed token); ``description``: a line under the
    label where the channel has one (X)."""

    label: str
    payload: str
    description: str = ""


@dataclass(frozen=True)
class Outbound:
    """What a connector needs to deliver one message."""

    message_id: int
    channel: str
    to_handle: str | None
    text: str
    visibility: str
    thread_id: str | None
    reply_to_external_id: str | None
    idempotency_key: str
    subject: str = ""
    recipient_id: str | None = None  # a provider's numeric id of the customer (X user id), when known
    media: tuple[str, ...] = ()
    author_name: str = ""  # who on our side wrote it (agent, technician, or the system)
    last_inbound_at: datetime | None = None  # when the customer last wrote in this thread (Messenger's window)
    #: Buttons to answer with, on channels that have them (X DMs, Messenger); the text always says how to answer
    #: by typing too, so a channel or client without buttons loses nothing.
    quick_replies: tuple[QuickReply, ...] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """``ok``: the provider accepted the message (``external_id``: its id for it). ``retryable``: a transient
    failure (provider down, 5xx, rate limit) worth sending again later. ``recorded``: nothing was sent anywhere.
    ``unconfirmed``: the request may have reached the provider but no answer came (not retried)."""

    ok: bool
    detail: str = ""
    external_id: str | None = None
    retryable: bool = False
    recorded: bool = False
    unconfirmed: bool = False


class Connector(Protocol):
    name: str

    def deliver(self, outbound: Outbound) -> DeliveryResult: ...


@dataclass
class RecordingOutbox:
    """Delivers nowhere; records every message (demos, tests, and channels with no provider configured)."""

    name: str = "recording-outbox"
    sent: list[Outbound] = field(default_factory=list)

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        self.sent.append(outbound)
        return DeliveryResult(ok=True, recorded=True,
                              detail=f"recorded only: no provider is configured for {outbound.channel}")


def failure(detail: str, *, status: int | None = None, retryable: bool | None = None) -> DeliveryResult:
    """A failed send; with an HTTP ``status`` it is retryable when the provider may accept it later
    (408, 425, 429, 5xx)."""
    if retryable is None:
        retryable = status is None or status in (408, 425, 429) or status >= 500
    return DeliveryResult(ok=False, detail=detail[:500], retryable=retryable)


def transport_failure(provider: str, exc: Exception, *, idempotent: bool = False) -> DeliveryResult:
    """A request that got no HTTP answer. When it cannot have reached the provider (no connection), it is retried.
    When it may have (the answer timed out or the connection dropped after sending), it is retried only if the
    provider drops repeats (``idempotent``); otherwise it fails with the reason, so the customer never gets it
    twice (someone can check the provider's log and send it again)."""
    what = f"{type(exc).__name__}: {exc}"[:300]
    if idempotent or _never_reached(exc):
        return failure(f"{provider} unreachable: {what}")
    return DeliveryResult(ok=False, retryable=False, unconfirmed=True,
                          detail=f"no answer from {provider} after sending ({what}); not retried, as it may have gone "
                          "out — check the provider's log")


def _never_reached(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    try:
        import requests
        from urllib3.exceptions import NewConnectionError
    except ImportError:  # pragma: no cover - requests comes with the twilio SDK
        return False
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, NewConnectionError)
    return False
