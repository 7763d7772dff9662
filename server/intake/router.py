"""Channel webhooks: every provider posts here; each message goes through the intake pipeline once.

Each channel has one verification dependency (``verify_<channel>``): a provider channel whose secret is set checks
every delivery's signature (401 when missing or wrong); one whose secret is unset refuses deliveries (503 "channel
not configured") unless ``insecure_channels`` is on (the demo). The web form is our own public form: no secret,
rate-limited per client IP like every route here. A redelivery (same provider message id) acts once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape as xml_escape

from fastapi import BackgroundTasks, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import IntegrityError

from server.consent import service as consent
from server.core.deps import SessionDep, SettingsDep
from server.core.errors import Conflict, DomainError, Forbidden, Invalid, Unauthorized
from server.core.routing import FeatureRouter
from server.customers.models import Channel, normalize_handle
from server.intake import adapters, mail
from server.intake.adapters import Normalized, Skipped
from server.intake.guard import (
    ChannelNotConfigured,
    clean_text,
    parse_json,
    rate_limit,
    secrets_or_refuse,
    signed_by_any,
)
from server.intake.mail import MailPolicy
from server.intake.models import IntakeEvent
from server.intake.pipeline import receive
from server.notify.service import deliver_queued, record_messenger_deliveries

if TYPE_CHECKING:
    from geodata import City

router = FeatureRouter(prefix="/channels", tags=["channels"])
log = logging.getLogger("groundcrew.intake")


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
    secrets = secrets_or_refuse(settings, settings.twitter_consumer_secret, "TWITTER_CONSUMER_SECRET")
    if secrets is None:
        return
    given = request.headers.get("x-twitter-webhooks-signature", "")
    if not signed_by_any(given, secrets, lambda secret: "sha256=" + base64.b64encode(
            hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()):
        raise Unauthorized("x-twitter-webhooks-signature: missing or wrong signature")


async def verify_facebook(request: Request, body: Body) -> None:
    """Meta signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC with the app secret>``."""
    settings = request.app.state.settings
    secrets = secrets_or_refuse(settings, settings.facebook_app_secret, "FACEBOOK_APP_SECRET")
    if secrets is None:
        return
    given = request.headers.get("x-hub-signature-256", "")
    if not signed_by_any(given, secrets,
                         lambda secret: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()):
        raise Unauthorized("X-Hub-Signature-256: missing or wrong signature")


async def verify_twilio(request: Request, body: Body) -> None:
    """Twilio signs URL + sorted form pairs: ``X-Twilio-Signature: base64(HMAC-SHA1(auth token))``."""
    settings = request.app.state.settings
    tokens = secrets_or_refuse(settings, settings.twilio_auth_token, "TWILIO_AUTH_TOKEN")
    if tokens is None:
        return
    url = str(request.url)
    if settings.channel_public_url:  # Twilio signs the full URL it called, query string included
        url = settings.channel_public_url.rstrip("/") + request.url.path + (
            "?" + request.url.query if request.url.query else "")
    pairs = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    signed = url + "".join(k + v for k, v in pairs)
    if not signed_by_any(request.headers.get("x-twilio-signature", ""), tokens, lambda token: base64.b64encode(
            hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest())):
        raise Unauthorized("X-Twilio-Signature: missing or wrong signature")


async def verify_email(request: Request, body: Body) -> None:
    """Our inbound-mail relay posts raw messages with ``X-Groundcrew-Signature: sha256=<hex HMAC-SHA256 of the
    raw message keyed with email_webhook_secret>``, or (relays that cannot sign) ``Authorization: Bearer
    <email_webhook_secret>``."""
    settings = request.app.state.settings
    secrets = secrets_or_refuse(settings, settings.email_webhook_secret, "EMAIL_WEBHOOK_SECRET")
    if secrets is None:
        return
    signature = request.headers.get("x-groundcrew-signature")
    if signature is not None:
        if signed_by_any(signature, secrets,
                         lambda secret: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()):
            return
        raise Unauthorized("X-Groundcrew-Signature: wrong signature")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and signed_by_any(token.strip(), secrets, lambda secret: secret):
        return
    raise Unauthorized("X-Groundcrew-Signature: missing (or Authorization: Bearer with the relay's secret)")


async def verify_webform(request: Request) -> None:
    """Our own form: public, no secret (rate-limited per client IP)."""


async def verify_mailgun(request: Request, body: Body) -> None:
    """Mailgun signs each POST in its form fields: ``signature`` = hex HMAC-SHA256 of ``timestamp`` + ``token``
    keyed with the HTTP webhook signing key (https://documentation.mailgun.com/docs/mailgun/user-manual/
    webhooks/securing-webhooks). The signature does not cover the body, so a timestamp more than 15 minutes
    away is refused too (a captured signature cannot be replayed later with other content)."""
    settings = request.app.state.settings
    keys = secrets_or_refuse(settings, settings.mailgun_signing_key, "MAILGUN_SIGNING_KEY")
    if keys is None:
        return
    form = await request.form()
    timestamp, token = str(form.get("timestamp") or ""), str(form.get("token") or "")
    if not timestamp or not token or not signed_by_any(
            str(form.get("signature") or ""), keys,
            lambda key: hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()):
        raise Unauthorized("signature: missing or wrong Mailgun signature (timestamp, token, signature)")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 15 * 60:
        raise Unauthorized("timestamp: the Mailgun signature is more than 15 minutes old")


async def verify_relay_auth(request: Request) -> None:
    """SendGrid Inbound Parse and Postmark sign nothing; their webhook URL carries credentials instead
    (``https://user:<email_webhook_secret>@host/...``, sent as HTTP Basic), or a relay sends ``Authorization:
    Bearer <email_webhook_secret>``."""
    settings = request.app.state.settings
    secrets = secrets_or_refuse(settings, settings.email_webhook_secret, "EMAIL_WEBHOOK_SECRET")
    if secrets is None:
        return
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            value = ""
    if scheme.lower() in ("basic", "bearer") and value and signed_by_any(value.strip(), secrets, lambda s: s):
        return
    raise Unauthorized("Authorization: missing or wrong (Basic with the webhook secret as password, or Bearer)")


# ------------------------------------------------------------------------------------------- handling
def _store_events(session: Any, channel: Channel, skipped: list[Skipped], payload: str) -> list[int]:
    """Keep acknowledged-but-not-filed events (raw payload, once per delivery) for audit; their ids."""
    rows = [IntakeEvent(channel=channel, kind=s.kind[:80], outcome=s.outcome[:40], detail=s.detail[:500],
                        external_id=(s.external_id or None) and s.external_id[:200],
                        payload=clean_text(payload) if i == 0 else "") for i, s in enumerate(skipped)]
    session.add_all(rows)
    session.flush()
    return [r.id or 0 for r in rows]


def _acknowledge(session: Any, channel: Channel, skipped: list[Skipped], payload: str) -> dict[str, Any]:
    """200 for a delivery that files nothing: each event stored with why (a provider never retries it)."""
    ids = _store_events(session, channel, skipped, payload)
    answer = {"acknowledged": True, "filed": 0, "detail": "; ".join(s.detail for s in skipped)[:1000],
              "events": [{"id": i, "kind": s.kind, "outcome": s.outcome} for i, s in zip(ids, skipped, strict=True)]}
    session.commit()
    return answer


def _provider(request: Request, session: Any, settings: Any, channel: Channel, payload: str,
              parse: Callable[[], list[Normalized | Skipped]], response: Response,
              background: BackgroundTasks, *, only_200: bool = False) -> dict[str, Any]:
    """A provider delivery: messages filed through the pipeline; unknown kinds, our own posts and malformed
    payloads stored and acknowledged (200), because providers retry (and Meta disables) failing webhooks.
    ``only_200``: the provider counts nothing but 200 as delivered (Mailgun, Postmark): new or not, the answer is
    200 and ``created`` in the body tells which."""
    try:
        parsed = parse()
    except Invalid as exc:
        log.info("%s delivery not filed: %s", channel, exc)
        parsed = [Skipped("invalid", "invalid", str(exc))]
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        # A shape no adapter check foresaw (a number where an object belongs): kept and acknowledged all the same,
        # so a provider never retries it forever.
        log.warning("%s delivery with an unexpected shape not filed: %r", channel, exc)
        parsed = [Skipped("invalid", "invalid", f"body: unexpected shape ({type(exc).__name__}: {exc})"[:500])]
    items = [p for p in parsed if isinstance(p, Normalized)]
    skipped = [p for p in parsed if isinstance(p, Skipped)]
    if items:
        try:
            answer = _run(request, session, settings, items, response, background, skipped=skipped,
                          payload=payload)
            if only_200:
                response.status_code = status.HTTP_200_OK
            return answer
        except Invalid as exc:  # a message that passed the adapter but not the pipeline (e.g. after cleaning)
            session.rollback()
            skipped = [Skipped("invalid", "invalid", str(exc))]
    response.status_code = status.HTTP_200_OK
    return _acknowledge(session, channel, skipped, payload)


def _run(request: Request, session: Any, settings: Any, items: list[Normalized], response: Response,
         background: BackgroundTasks, *, skipped: list[Skipped] | None = None, payload: str = ""
         ) -> dict[str, Any]:
    city = intake_city(request)
    skipped = skipped or []

    def receive_all() -> tuple[list[Any], list[dict[str, Any]]]:
        results = []
        for item in items:
            result = receive(session=session, settings=settings, city=city, inbound=item.inbound,
                             followers=item.followers, reposts=item.reposts, addressed_to_us=item.addressed_to_us,
                             known_address=item.known_address, stated_address=item.stated_address,
                             savepoint=len(items) > 1, meta=item.meta,
                             sender_authenticated=item.sender_authenticated)
            results.append(result)
        if skipped:
            _store_events(session, items[0].inbound.channel, skipped, payload)
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
    answer = summaries[0] if len(summaries) == 1 else {"results": summaries}
    if skipped:
        answer = {**answer, "ignored": [{"kind": s.kind, "outcome": s.outcome} for s in skipped]}
    return answer


def _mail_policy(request: Request, settings: Any) -> MailPolicy:
    """Sender authentication settings (``app.state.dkim_dnsfunc`` replaces DNS for DKIM keys where set)."""
    return MailPolicy(trusted_authserv_ids=frozenset(i.lower() for i in adapters.our_ids(
        settings.email_trusted_authserv_ids)), verify_dkim_locally=settings.email_verify_dkim,
        dnsfunc=getattr(request.app.state, "dkim_dnsfunc", None))


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Already received (same external id): the original result, nothing written; or a "
          "provider event acknowledged and stored without a complaint (unknown kind, our own post, malformed: "
          "`acknowledged: true`, `detail` names why)"},
    201: {"description": "Stored: message, case, job (if any), geotag"},
    413: {"description": "Body too large"}, 422: {"description": "Bad payload; the detail names the field"},
}
_RESPONSES[429] = {"description": "Too many requests from this client address (see Retry-After)"}
_SIGNED = {**_RESPONSES, 401: {"description": "Signature header missing or wrong"},
           503: {"description": "Channel not configured: its secret is unset (and insecure_channels is off)"}}
_PROVIDER_ONLY_200 = {**_SIGNED, 200: {"description": "Every signed delivery: filed (`created: true`, with the "
                                        "message, case and job), already received (`created: false`, the original "
                                        "result), or acknowledged and stored without a complaint (`acknowledged: "
                                        "true`). The provider retries anything else."}}
del _PROVIDER_ONLY_200[201]
_WEBHOOK = Depends(rate_limit("webhook"))


@router.get("/twitter", summary="X Challenge-Response Check (CRC): answers {response_token}",
            responses={503: {"description": "GROUNDCREW_X_CONSUMER_SECRET is unset"}})
def twitter_crc(settings: SettingsDep, crc_token: Annotated[str, Query(min_length=1, max_length=500)]
                ) -> dict[str, str]:
    """``response_token`` = ``sha256=`` + base64(HMAC-SHA256(consumer secret, crc_token))
    (https://docs.x.com/x-api/webhooks/quickstart, "The CRC check")."""
    secret = settings.twitter_consumer_secret
    if not secret:
        raise ChannelNotConfigured("channel not configured: set GROUNDCREW_X_CONSUMER_SECRET to answer X's CRC check")
    digest = hmac.new(secret.encode(), crc_token.encode(), hashlib.sha256).digest()
    return {"response_token": "sha256=" + base64.b64encode(digest).decode()}


@router.post("/twitter", status_code=200, responses=_PROVIDER_ONLY_200,
             dependencies=[_WEBHOOK, Depends(verify_twitter)],
             summary="X webhooks: Account Activity, X Activity API, or X API v2 tweet payloads")
def twitter(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    """Always 200 for a signed delivery: X retries any other answer ("If a 'success' 200 HTTP response code is not
    received, the X server will initiate a retry", https://developer.x.com/en/docs/x-api/enterprise/
    account-activity-api/guides/activity-retries); ``created`` in the body tells a new message from a repeat."""
    handles = adapters.our_handles(settings.social_handles)
    brand = adapters.our_ids(settings.x_brand_user_ids)
    payload = _json(body)  # not JSON at all (or hostile nesting): 422, nothing stored
    return _provider(request, session, settings, Channel.twitter, body.decode("utf-8", "replace"),
                     lambda: adapters.twitter(payload, handles=handles, brand_ids=brand), response, background,
                     only_200=True)


@router.get("/facebook", response_class=PlainTextResponse, summary="Meta webhook subscription handshake")
def facebook_handshake(
    settings: SettingsDep, mode: Annotated[str, Query(alias="hub.mode")],
    token: Annotated[str, Query(alias="hub.verify_token")], challenge: Annotated[str, Query(alias="hub.challenge")],
) -> str:
    if mode != "subscribe" or not settings.facebook_verify_token or not hmac.compare_digest(
            token, settings.facebook_verify_token):
        raise Forbidden("hub.verify_token: does not match the configured token")
    return challenge


@router.post("/facebook", status_code=200, responses=_PROVIDER_ONLY_200,
             dependencies=[_WEBHOOK, Depends(verify_facebook)],
             summary="Meta page webhook: feed posts, comments and photos; Messenger messages (other kinds kept)")
def facebook(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
             background: BackgroundTasks) -> Any:
    """Always 200 for a signed delivery: "When you receive a webhook event, you must always return a 200 OK HTTP
    response" (https://developers.facebook.com/docs/messenger-platform/webhook, "Required 200 OK Response");
    Meta retries other answers and disables webhooks that keep failing. ``created`` in the body tells which."""
    payload = _json(body)
    answer = _provider(request, session, settings, Channel.facebook, body.decode("utf-8", "replace"),
                       lambda: adapters.facebook(payload), response, background, only_200=True)
    mids = _delivered_mids(payload)
    if mids:  # our Messenger replies the customer's device received
        answer = {**answer, "delivered": record_messenger_deliveries(session=session, mids=mids, settings=settings)}
    return answer


def _delivered_mids(payload: Any) -> list[str]:
    """The message ids in a Messenger ``message_deliveries`` notification (``entry[].messaging[].delivery.mids``)."""
    mids: list[str] = []
    entries = payload.get("entry") if isinstance(payload, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        events = entry.get("messaging") if isinstance(entry, dict) else None
        for event in events if isinstance(events, list) else []:
            delivery = event.get("delivery") if isinstance(event, dict) else None
            found = delivery.get("mids") if isinstance(delivery, dict) else None
            mids += [m for m in found if isinstance(m, str)][:100] if isinstance(found, list) else []
    return mids[:1000]


@router.post("/email", status_code=201, responses=_SIGNED, dependencies=[_WEBHOOK, Depends(verify_email)],
             summary="Raw RFC 822 email (Content-Type: message/rfc822)")
def email_in(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
             background: BackgroundTasks) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("message/rfc822", "text/plain", "application/octet-stream"):
        raise Invalid(f"content-type: expected message/rfc822, got '{content_type or 'none'}'")
    item = mail.parse_email(body, policy=_mail_policy(request, settings))  # unreadable: 422 to our relay
    return _provider(request, session, settings, Channel.email, body.decode("utf-8", "replace"), lambda: [item],
                     response, background)


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    """Text fields and attachment file names of a form-encoded or multipart POST."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise Invalid(f"content-type: expected multipart/form-data, got '{content_type or 'none'}'")
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    files = [str(v.filename) for _k, v in form.multi_items() if not isinstance(v, str) and v.filename]
    return fields, files


FormDep = Annotated[tuple[dict[str, str], list[str]], Depends(_form)]


@router.post("/email/mailgun", status_code=200, responses=_SIGNED,
             dependencies=[_WEBHOOK, Depends(verify_mailgun)],
             summary="Mailgun inbound route (forward() POST: sender, from, subject, body-plain, message-headers)")
def email_mailgun(request: Request, body: Body, form: FormDep, session: SessionDep, settings: SettingsDep,
                  response: Response, background: BackgroundTasks) -> Any:
    fields, files = form
    return _provider(request, session, settings, Channel.email, json.dumps(fields)[:200_000],
                     lambda: [mail.mailgun(fields, files, policy=_mail_policy(request, settings))], response,
                     background, only_200=True)


@router.post("/email/sendgrid", status_code=200, responses=_SIGNED,
             dependencies=[_WEBHOOK, Depends(verify_relay_auth)],
             summary="SendGrid Inbound Parse (multipart: headers, from, subject, text, envelope, SPF, dkim)")
def email_sendgrid(request: Request, body: Body, form: FormDep, session: SessionDep, settings: SettingsDep,
                   response: Response, background: BackgroundTasks) -> Any:
    fields, files = form
    return _provider(request, session, settings, Channel.email, json.dumps(fields)[:200_000],
                     lambda: [mail.sendgrid(fields, files, policy=_mail_policy(request, settings))], response,
                     background, only_200=True)


@router.post("/email/postmark", status_code=200, responses=_SIGNED,
             dependencies=[_WEBHOOK, Depends(verify_relay_auth)],
             summary="Postmark inbound webhook (JSON: FromFull, Subject, TextBody, Headers, MessageID)")
def email_postmark(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
                   background: BackgroundTasks) -> Any:
    payload = _json(body)
    return _provider(request, session, settings, Channel.email, body.decode("utf-8", "replace"),
                     lambda: [mail.postmark(payload, policy=_mail_policy(request, settings))], response,
                     background, only_200=True)


def _twiml(message: str | None = None) -> Response:
    """A TwiML answer: ``<Response/>``, or one reply ``<Message>`` (text escaped, never markup)."""
    inner = f"<Message>{xml_escape(message)}</Message>" if message else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
                    media_type="application/xml")


def _wants_twiml(request: Request) -> bool:
    """TwiML for Twilio's own requests (always signed, ``Accept: */*``) and for any caller that accepts XML; the
    intake summary as JSON for a caller that asks for ``application/json`` only, and for unsigned demo posts."""
    accept = request.headers.get("accept", "").lower()
    if "xml" in accept:
        return True
    if "application/json" in accept:
        return False
    return "x-twilio-signature" in request.headers


@router.post("/sms", status_code=201, responses={**_SIGNED, 200: {"description": "TwiML (application/xml) for "
             "Twilio's requests, new message or not (`X-Groundcrew-Created` tells): `<Response/>`, or the HELP text "
             "as `<Message>`; JSON for unsigned demo requests (201 when filed)"}},
             dependencies=[_WEBHOOK, Depends(verify_twilio)],
             summary="Twilio Messaging webhook (SMS/MMS, form-encoded); STOP/START/HELP keywords honoured")
def sms(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
        background: BackgroundTasks) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Invalid(f"content-type: expected application/x-www-form-urlencoded, got '{content_type or 'none'}'")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        raise Invalid("body: not a form-encoded payload") from None
    payload = body.decode("utf-8", "replace")
    twiml = _wants_twiml(request)
    keyword = adapters.sms_keyword(form.get("Body")) if form.get("From") else None
    if keyword is not None:
        return _sms_keyword(session, settings, form, keyword, payload, twiml)
    answer = _provider(request, session, settings, Channel.sms, payload, lambda: [adapters.sms(form)], response,
                       background)
    if not twiml:
        return answer
    # Twilio: "200 OK, Content-Type text/xml, valid TwiML" or 204 (https://www.twilio.com/docs/api/errors/15003;
    # https://www.twilio.com/docs/usage/webhooks/sms-webhooks): 200 for new messages and repeats alike.
    reply = _twiml()
    reply.headers["X-Groundcrew-Created"] = "true" if answer.get("created") else "false"
    if answer.get("message_id"):
        reply.headers["X-Groundcrew-Message-Id"] = str(answer["message_id"])
    return reply


def _sms_keyword(session: Any, settings: Any, form: dict[str, str], keyword: str, payload: str, twiml: bool
                 ) -> Any:
    """STOP/START/HELP (Twilio's keywords): recorded in consent, stored as an event, never filed as a complaint.
    Twilio's Advanced Opt-Out answers STOP and START itself; HELP gets our help text."""
    sender, word = form["From"], (form.get("Body") or "").strip()
    if keyword == "opt_out":
        consent.record_opt_out(session=session, channel=Channel.sms, handle=normalize_handle(Channel.sms, sender),
                               keyword=word.upper())
    elif keyword == "opt_in":
        consent.record_opt_in(session=session, channel=Channel.sms, handle=normalize_handle(Channel.sms, sender))
    sid = form.get("MessageSid") or form.get("SmsSid")
    answer = _acknowledge(session, Channel.sms, [Skipped(word.upper()[:80], keyword,
                                                         f"SMS keyword {word.upper()} from {sender}", sid)], payload)
    text = settings.sms_help_text if keyword == "help" else None
    if twiml:
        return _twiml(text)
    return JSONResponse({**answer, "keyword": keyword, "reply": text})


@router.post("/webform", status_code=201, responses=_RESPONSES,
             dependencies=[Depends(rate_limit("webform")), Depends(verify_webform)],
             summary="Our web form (JSON: submission_id, name, email/phone, text, lat/lon, address, photos)")
def webform(request: Request, body: Body, session: SessionDep, settings: SettingsDep, response: Response,
            background: BackgroundTasks) -> Any:
    return _run(request, session, settings, [adapters.webform(_json(body))], response, background)
