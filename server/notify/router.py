"""Provider delivery reports: ``POST /notify/twilio/status`` (Twilio's StatusCallback for our SMS replies).

https://www.twilio.com/docs/messaging/guides/track-outbound-message-status — Twilio POSTs a form with
``MessageSid``, ``MessageStatus`` (queued, sent, delivered, undelivered, failed, ...) and, on failure,
``ErrorCode``, signed with ``X-Twilio-Signature`` over the full URL we gave it (including ``?message_id=``)
plus the sorted form pairs, checked here with the SDK's ``RequestValidator``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from server.core.deps import AdminUser, SessionDep, SettingsDep
from server.core.errors import Invalid, Unauthorized, Unavailable
from server.core.routing import FeatureRouter
from server.core.timeutil import utcnow
from server.notify import service
from server.notify.cli import report
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


def _host_only(url: str | None) -> str | None:
    """A relay URL shown as its scheme and host: a path or query may hold a token, so it never leaves the server."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


@router.get("/channels", summary="Each customer channel: provider configured or not, what is missing, last delivery "
            "outcome and outcomes in the last 24 hours (admin)")
def channel_status(session: SessionDep, settings: SettingsDep, _: AdminUser) -> dict[str, Any]:
    """The ``groundcrew channels check`` report (environment variable names, never their values) with what really
    happened to the newest outbound message on each channel."""
    rows = report(settings)
    relay = _host_only(settings.outbound_webhook_url)
    delivered = service.delivery_summary(session=session, channels=[r.channel for r in rows],
                                         since=utcnow() - timedelta(hours=24))
    channels = []
    for r in rows:
        outbound = r.outbound if r.outbound_configured or not relay else f"webhook relay {relay}"
        channels.append({"channel": r.channel, "inbound": r.inbound, "outbound": outbound,
                         "outbound_configured": r.outbound_configured, "register": r.register,
                         "missing": r.missing, **delivered[r.channel]})
    return {"channels": channels, "relay": {"url": relay, "signed": bool(settings.outbound_webhook_secret)}}
