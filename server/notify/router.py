"""Provider delivery reports: ``POST /notify/twilio/status`` (Twilio's StatusCallback for our SMS replies).

https://www.twilio.com/docs/messaging/guides/track-outbound-message-status — Twilio POSTs a form with
``MessageSid``, ``MessageStatus`` (queued, sent, delivered, undelivered, failed, ...) and, on failure,
``ErrorCode``, signed with ``X-Twilio-Signature`` over the full URL we gave it (including ``?message_id=``)
plus the sorted form pairs, checked here with the SDK's ``RequestValidator``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from server.core.errors import Invalid, Unauthorized, Unavailable
from server.core.routing import FeatureRouter
from server.notify import service
from server.notify.providers.twilio_sms import STATUS_PATH

router = FeatureRouter(prefix="/notify", tags=["notify"])


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: ours as registered (public base URL + path + query), else the request's own."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@router.post(STATUS_PATH.removeprefix("/notify"), status_code=204, response_class=Response,
             summary="Twilio delivery status callback for an SMS reply",
             responses={401: {"description": "X-Twilio-Signature missing or wrong"},
                        404: {"description": "No such outbound message"},
                        503: {"description": "GROUNDCREW_TWILIO_AUTH_TOKEN is not set"}})
async def twilio_status(request: Request, message_id: Annotated[int, Query(ge=1)]) -> Response:
    settings = request.app.state.settings
    if not settings.twilio_auth_token:
        raise Unavailable("SMS delivery reports need GROUNDCREW_TWILIO_AUTH_TOKEN")
    form = await request.form()
    params = {k: str(v) for k, v in form.multi_items()}
    signature = request.headers.get("x-twilio-signature", "")
    url = signed_url(request, settings.channel_public_url)
    # While the auth token is rotated, reports signed with the token it replaces pass too (like /channels/sms).
    previous = settings.previous_channel_secrets.get("TWILIO_AUTH_TOKEN")
    tokens = [settings.twilio_auth_token, *([previous] if previous and previous != settings.twilio_auth_token
                                            else [])]
    if not any([RequestValidator(token).validate(url, params, signature) for token in tokens]):
        raise Unauthorized("X-Twilio-Signature: missing or wrong signature")
    sid, status = params.get("MessageSid") or params.get("SmsSid"), params.get("MessageStatus")
    if not sid or not status:
        raise Invalid("MessageSid and MessageStatus: required")

    def record() -> None:
        with Session(request.app.state.engine) as session:
            service.record_provider_status(
                session=session, message_id=message_id, provider="Twilio", provider_id=sid, provider_status=status,
                error_code=params.get("ErrorCode") or None, error_message=params.get("ErrorMessage") or None,
                settings=settings)

    await run_in_threadpool(record)
    return Response(status_code=204)
