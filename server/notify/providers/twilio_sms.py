"""SMS/MMS replies through Twilio's Messages API with the official ``twilio`` SDK.

https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
Each message carries ``StatusCallback=<public url>/notify/twilio/status?message_id=<our id>`` so Twilio reports
queued → sent → delivered / undelivered / failed there (``server.notify.router``); the query names our message,
and Twilio's signature covers the whole URL, so nobody else can move it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from server.notify.connectors import DeliveryResult, Outbound, failure, transport_failure

TWILIO_API = "https://api.twilio.com"
STATUS_PATH = "/notify/twilio/status"


class _BaseUrlClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending to another base URL (a regional proxy, or a local fake in tests)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def status_callback_url(public_url: str, message_id: int) -> str:
    return f"{public_url.rstrip('/')}{STATUS_PATH}?message_id={message_id}"


@dataclass
class TwilioSMS:
    account_sid: str
    auth_token: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    public_url: str | None = None  # without it Twilio cannot report delivery (the message stays `sent`)
    api_url: str = TWILIO_API
    timeout_s: float = 15.0
    name: str = "twilio"
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            http = (TwilioHttpClient(timeout=self.timeout_s) if self.api_url.rstrip("/") == TWILIO_API
                    else _BaseUrlClient(self.api_url, self.timeout_s))
            self._client = Client(self.account_sid, self.auth_token, http_client=http)
        return self._client

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        if not outbound.to_handle:
            return failure("no phone number is known for this customer", retryable=False)
        params: dict[str, Any] = {"to": outbound.to_handle, "body": outbound.text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if outbound.media:
            params["media_url"] = list(outbound.media)
        if self.public_url:
            params["status_callback"] = status_callback_url(self.public_url, outbound.message_id)
        try:
            message = self.client().messages.create(**params)
        except TwilioRestException as exc:
            code = f" {exc.code}" if exc.code else ""
            return failure(f"Twilio refused it (HTTP {exc.status}{code}): {exc.msg}", status=exc.status)
        except requests.RequestException as exc:
            return transport_failure("Twilio", exc)
        return DeliveryResult(ok=True, detail=f"accepted by Twilio ({message.status})", external_id=message.sid)
