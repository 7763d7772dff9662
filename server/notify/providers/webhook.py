"""Generic webhook relay: POSTs each message as JSON to a URL of the deployment's own relay, signed.

Headers: ``Idempotency-Key: groundcrew-message-<id>`` (the same on every retry of a message, so the relay can drop
repeats), ``X-Groundcrew-Timestamp: <unix seconds>`` and ``X-Groundcrew-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<raw body>" with outbound_webhook_secret>`` (a relay refuses old timestamps to stop replays)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import httpx

from server.notify.connectors import DeliveryResult, Outbound, failure, transport_failure


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Groundcrew-Signature value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def payload(outbound: Outbound, sender: dict[str, str]) -> dict:
    """The relay's JSON: what to send, to whom (handle and the provider's numeric id when known), as whom."""
    return {
        "message_id": outbound.message_id, "idempotency_key": outbound.idempotency_key,
        "channel": outbound.channel, "visibility": outbound.visibility,
        "to": {"handle": outbound.to_handle, "id": outbound.recipient_id},
        "from": {**sender, "author_name": outbound.author_name},
        "subject": outbound.subject, "text": outbound.text, "media": list(outbound.media),
        "thread_id": outbound.thread_id, "in_reply_to": outbound.reply_to_external_id,
        "last_inbound_at": outbound.last_inbound_at.isoformat() if outbound.last_inbound_at else None,
        "quick_replies": [{"label": q.label, "payload": q.payload, "description": q.description}
                          for q in outbound.quick_replies],  # answer buttons, for a relay whose channel has them
    }


@dataclass
class WebhookConnector:
    """POSTs the message to ``url``; 2xx is accepted (a JSON ``id`` in the answer is kept as the provider id)."""

    url: str
    secret: str | None = None
    sender: dict[str, str] | None = None
    timeout_s: float = 10.0
    name: str = "webhook"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        body = json.dumps(payload(outbound, self.sender or {}), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": outbound.idempotency_key,
                   "X-Groundcrew-Timestamp": timestamp}
        if self.secret:
            headers["X-Groundcrew-Signature"] = signature(self.secret, timestamp, body)
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return transport_failure("the relay", exc, idempotent=True)  # it drops repeats by Idempotency-Key
        if response.status_code >= 300:
            return failure(f"relay answered HTTP {response.status_code}: {response.text[:200]}",
                           status=response.status_code)
        ext = None
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                answer = response.json()
            except ValueError:
                answer = None
            ext = str(answer["id"]) if isinstance(answer, dict) and answer.get("id") else None
        return DeliveryResult(ok=True, detail=f"accepted by the relay (HTTP {response.status_code})", external_id=ext)
