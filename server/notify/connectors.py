"""Connectors deliver an outbound message to a channel. Built in: a recording outbox (keeps what would be
sent, for demos and tests) and a webhook connector that POSTs JSON to a configured URL, with retries."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import httpx


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


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    detail: str = ""
    external_id: str | None = None


class Connector(Protocol):
    name: str

    def deliver(self, outbound: Outbound) -> DeliveryResult: ...


@dataclass
class RecordingOutbox:
    """Delivers nowhere; records every message (the demo's and tests' connector)."""

    name: str = "recording-outbox"
    sent: list[Outbound] = field(default_factory=list)

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        self.sent.append(outbound)
        return DeliveryResult(ok=True, detail="recorded", external_id=f"outbox-{outbound.message_id}")


@dataclass
class WebhookConnector:
    """POSTs the message as JSON; retries transient failures with exponential backoff."""

    url: str
    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 10.0
    name: str = "webhook"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        last = ""
        for attempt in range(self.attempts):
            try:
                response = httpx.post(
                    self.url, json=asdict(outbound), timeout=self.timeout_s,
                    headers={"Idempotency-Key": outbound.idempotency_key},
                )
                if response.status_code < 300:
                    ext = None
                    if response.headers.get("content-type", "").startswith("application/json"):
                        body = response.json()
                        ext = str(body.get("id")) if isinstance(body, dict) and body.get("id") else None
                    return DeliveryResult(ok=True, detail=f"HTTP {response.status_code}", external_id=ext)
                last = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    return DeliveryResult(ok=False, detail=f"refused by {self.url}: {last}")
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < self.attempts:
                time.sleep(self.backoff_s * (2**attempt))
        return DeliveryResult(ok=False, detail=f"gave up after {self.attempts} attempts: {last}")
