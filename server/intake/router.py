"""Channel webhooks: every provider posts here; each message goes through the intake pipeline once.

Each channel has one verification dependency (``verify_<channel>``): a provider channel whose secret is set checks
every delivery's signature (401 when missing or wrong); one whose secret is unset refuses deliveries (503 "channel
not configured") unless ``insecure_channels`` is on (the demo). The web form is our own public form: no secret,
rate-limited per client IP like every route here. A redelivery (same provider message id) acts once."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl

from fastapi import BackgroundTasks, Depends, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import IntegrityError

from server.core.deps import SessionDep, SettingsDep
from server.core.errors import Conflict, DomainError, Forbidden, Invalid, Unauthorized
from server.core.routing import FeatureRouter
from server.intake import adapters
from server.intake.adapters import Normalized
from server.intake.guard import parse_json, rate_limit, secret_or_refuse
from server.intake.pipeline import receive
from server.notify.service import deliver_queued

if TYPE_CHECKING:
    from geodata import City

router = FeatureRouter(prefix="/channels", tags=["channels"])


class PayloadTooLarge(DomainError):
    status_code = 413


def intake_city(request: Request) -> City | None:
    """The street map for geotagging; None when the deployment runs without one (``load_city=false``):
    then only GPS points locate a complaint."""
    settings = request.app.state.settings
    if not settings.load_city:
        return None
    from server.core.city import get_city

    return get_city(request)


async def raw_body(request: Request) -> bytes:
    """The request body, refused (413) above ``max_request_bytes``."""
    limit = request.app.state.settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body: {declared} bytes is more than the {limit} accepted")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"body: {len(body)} bytes is more than the {limit} accepted")
    return body


Body = Annotated[bytes, Depends(raw_body)]


def _json(body: bytes) -> Any:
    return parse_json(body)


# ------------------------------------------------------------------------------------------- verifiers
async def verify_twitter(request: Request, body: Body) -> None:
    """X (Account Activity API / V2 webhooks) signs each POST: ``x-twitter-webhooks-signature:
    sha256=<base64 HMAC-SHA256 of the raw body keyed with the app's consumer secret>``
    (https://docs.x.com/x-api/webhooks/introduction, "Signature verification")."""
    settings = request.app.state.settings
    secret = secret_or_refuse(settings, settings.twitter_consumer_secret, "TWITTER_CONSUMER_SECRET")
    if secret is None:
        return
    given = request.headers.get("x-twitter-webhooks-signature", "")
    expected = "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("x-twitter-webhooks-signature: missing or wrong signature")


async def verify_facebook(request: Request, body: Body) -> None:
    """Meta signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC with the app secret>``."""
    settings = request.app.state.settings
    secret = secret_or_refuse(settings, settings.facebook_app_secret, "FACEBOOK_APP_SECRET")
    if secret is None:
        return
    given = request.headers.get("x-hub-signature-256", "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("X-Hub-Signature-256: missing or wrong signature")


async def verify_twilio(request: Request, body: Body) -> None:
    """Twilio signs URL + sorted form pairs: ``X-Twilio-Signature: base64(HMAC-SHA1(auth token))``."""
    settings = request.app.state.settings
    token = secret_or_refuse(settings, settings.twilio_auth_token, "TWILIO_AUTH_TOKEN")
    if token is None:
        return
    url = str(request.url)
    if settings.channel_public_url:
        url = settings.channel_public_url.rstrip("/") + request.url.path
    pairs = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    signed = url + "".join(k + v for k, v in pairs)
    expected = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest())
    if not hmac.compare_digest(request.headers.get("x-twilio-signature", "").encode(), expected):
        raise Unauthorized("X-Twilio-Signature: missing or wrong signature")


async def verify_email(request: Request, body: Body) -> None:
    """Our inbound-mail relay posts raw messages with ``X-Groundcrew-Signature: sha256=<hex HMAC-SHA256 of the
    raw message keyed with email_webhook_secret>``, or (relays that cannot sign) ``Authorization: Bearer
    <email_webhook_secret>``."""
    settings = request.app.state.settings
    secret = secret_or_refuse(settings, settings.email_webhook_secret, "EMAIL_WEBHOOK_SECRET")
    if secret is None:
        return
    signature = request.headers.get("x-groundcrew-signature")
    if signature is not None:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(signature.encode(), expected.encode()):
            return
        raise Unauthorized("X-Groundcrew-Signature: wrong signature")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), secret.encode()):
        return
    raise Unauthorized("X-Groundcrew-Signature: missing (or Authorization: Bearer with the relay's secret)")


async def verify_webform(request: Request) -> None:
    """Our own form: public, no secret (rate-limited per client IP)."""


# ------------------------------------------------------------------------------------------- handling
def _run(request: Request, session: Any, settings: Any, items: list[Normalized], response: Response,
         background: BackgroundTasks) -> dict[str, Any]:
    city = intake_city(request)

    def receive_all() -> tuple[list[Any], list[dict[str, Any]]]:
        results = []
        for item in items:
            result = receive(session=session, settings=settings, city=city, inbound=item.inbound,
                             followers=item.followers, reposts=item.reposts, addressed_to_us=item.addressed_to_us,
                             known_address=item.known_address, stated_address=item.stated_address,
                             savepoint=len(items) > 1)
            results.append(result)
        session.flush()
        # The answer is read before the commit expires every object (afterwards each attribute is a query).
        summaries = [r.summary() for r in results]
        session.commit()
        return results, summaries

    for attempt in range(3):
        try:
            results, summaries = receive_all()
            break
        except (IntegrityError, Conflict):
            # The same delivery (or a new author's identity) was stored on another connection at the same moment:
            # roll back and receive again, which now finds it and answers like any redelivery (200, the original).
            session.rollback()
            if attempt == 2:
                raise
    response.status_code = status.HTTP_201_CREATED if any(r.created for r in results) else status.HTTP_200_OK
    if any(r.needs_location and r.created for r in results):  # the "where is it?" reply goes out now
        background.add_task(deliver_queued, engine=request.app.state.engine, settings=settings, wait=False)
    return summaries[0] if len(summaries) == 1 else {"results": summaries}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Already received (same external id): the original result, nothing written"},
    201: {"description": "Stored: message, case, job (if any), geotag"},
    413: {"description": "Body too large"}, 422: {"description": "Bad payload; the detail names the field"},
}
_RESPONSES[429] = {"description": "Too many requests from this client address (see Retry-After)"}
_SIGNED = {**_RESPONSES, 401: {"description": "Signature header missing or wrong"},
           503: {"description": "Channel not configured: its secret is unset (and insecure_channels is off)"}}
_WEBHOOK = Depends(rate_limit("webhook"))


@router.post("/twitter", status_code=201, responses=_SIGNED, dependencies=[_WEBHOOK, Depends(verify_twitter)],
             summary="X / Twitter v2 tweet payload (data, includes.users, geo, referenced_tweets)")
def twitter(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    items = adapters.twitter(_json(body), handles=adapters.our_handles(settings.social_handles))
    return _run(request, session, settings, items, response, background)


@router.get("/facebook", response_class=PlainTextResponse, summary="Meta webhook subscription handshake")
def facebook_handshake(
    settings: SettingsDep, mode: Annotated[str, Query(alias="hub.mode")],
    token: Annotated[str, Query(alias="hub.verify_token")], challenge: Annotated[str, Query(alias="hub.challenge")],
) -> str:
    if mode != "subscribe" or not settings.facebook_verify_token or not hmac.compare_digest(
            token, settings.facebook_verify_token):
        raise Forbidden("hub.verify_token: does not match the configured token")
    return challenge


@router.post("/facebook", status_code=201, responses=_SIGNED, dependencies=[_WEBHOOK, Depends(verify_facebook)],
             summary="Facebook page webhook (feed posts and comments)")
def facebook(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    return _run(request, session, settings, adapters.facebook(_json(body)), response, background)


@router.post("/email", status_code=201, responses=_SIGNED, dependencies=[_WEBHOOK, Depends(verify_email)],
             summary="Raw RFC 822 email (Content-Type: message/rfc822)")
def email_in(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("message/rfc822", "text/plain", "application/octet-stream"):
        raise Invalid(f"content-type: expected message/rfc822, got '{content_type or 'none'}'")
    return _run(request, session, settings, [adapters.parse_email(body)], response, background)


@router.post("/sms", status_code=201, responses=_SIGNED, dependencies=[_WEBHOOK, Depends(verify_twilio)],
             summary="SMS webhook in the Twilio shape (form-encoded)")
def sms(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Invalid(f"content-type: expected application/x-www-form-urlencoded, got '{content_type or 'none'}'")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise Invalid("body: not a form-encoded payload") from None
    return _run(request, session, settings, [adapters.sms(form)], response, background)


@router.post("/webform", status_code=201, responses=_RESPONSES,
             dependencies=[Depends(rate_limit("webform")), Depends(verify_webform)],
             summary="Our web form (JSON: submission_id, name, email/phone, text, lat/lon, address, photos)")
def webform(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    return _run(request, session, settings, [adapters.webform(_json(body))], response, background)
