"""SMS replies through the official Twilio SDK against a loopback fake of Twilio's Messages API, and Twilio's
status callbacks (signed as Twilio signs them) moving the message to delivered / failed.

Docs the fake and the callbacks follow:
- Create a Message: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
  (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth AccountSid:AuthToken, form fields To,
  From or MessagingServiceSid, Body, MediaUrl, StatusCallback; 201 with the Message resource JSON).
- Errors: https://www.twilio.com/docs/usage/twilios-response (JSON code/message/more_info/status), 21610
  "Attempt to send to unsubscribed recipient": https://www.twilio.com/docs/api/errors/21610
- Status callbacks: https://www.twilio.com/docs/messaging/guides/track-outbound-message-status (form fields
  MessageSid, MessageStatus, ErrorCode, ...), signature: https://www.twilio.com/docs/usage/webhooks/webhooks-security
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from server.auth.models import Role
from server.consent import service as consent
from tests.server.notify.conftest import Calls, closed_port_url, run_pass, serve, stored

SID, TOKEN, FROM = "AC" + "a" * 32, "twilio-auth-token-1", "+14105550100"
CUSTOMER = "+14105550123"
PUBLIC = "https://gc.example.org"


def fake_twilio(calls: Calls) -> FastAPI:
    app = FastAPI()

    @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def create(account_sid: str, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        form = await request.form()
        fields = {k: form.getlist(k) if k == "MediaUrl" else str(v) for k, v in form.multi_items()}
        calls.requests.append({"path": request.url.path, "auth": auth, "form": fields})
        if auth != "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode() or account_sid != SID:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401,
                                 "more_info": "https://www.twilio.com/docs/errors/20003"}, 401)
        failure = calls.next_failure()
        if failure:
            return JSONResponse({"code": 20500, "message": "Service unavailable", "status": failure,
                                 "more_info": "https://www.twilio.com/docs/errors/20500"}, failure)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return JSONResponse({"code": 21000, "message": "form body expected", "status": 400}, 400)
        if not fields.get("To") or not fields.get("Body") or not (fields.get("From") or
                                                                 fields.get("MessagingServiceSid")):
            return JSONResponse({"code": 21604, "message": "A 'To' phone number is required.", "status": 400}, 400)
        if fields["To"] == "+14105550199":
            return JSONResponse({"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                 "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}, 400)
        sid = "SM" + uuid.uuid4().hex
        return JSONResponse({
            "account_sid": SID, "api_version": "2010-04-01", "body": fields["Body"],
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "date_sent": None,
            "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000", "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": fields.get("From"), "messaging_service_sid": None,
            "num_media": str(len(fields.get("MediaUrl") or [])), "num_segments": "1", "price": None,
            "price_unit": None, "sid": sid, "status": "queued", "to": fields["To"],
            "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json"},
        }, 201)

    return app


@pytest.fixture
def twilio(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_twilio(calls)) as url:
        s = app.state.settings
        s.twilio_account_sid, s.twilio_auth_token, s.twilio_from_number = SID, TOKEN, FROM
        s.twilio_api_url, s.channel_public_url, s.notify_retry_base_s = url, PUBLIC, 0.0
        yield calls


def _sms_thread(thread_with, handle: str = CUSTOMER) -> int:  # type: ignore[no-untyped-def]
    conversation_id, _ = thread_with(channel="sms", external_id="SM" + uuid.uuid4().hex, author_handle=handle,
                                     text="Streetlight out at 5th and Main", thread_id=f"sms:{handle}")
    return conversation_id


def _callback(client, calls_request: dict, status: str, token: str = TOKEN, **extra: str):  # type: ignore[no-untyped-def]
    """POST Twilio's status callback to the URL we gave Twilio, signed as Twilio signs it."""
    url = calls_request["form"]["StatusCallback"]
    params = {"MessageSid": calls_request["sid"], "SmsSid": calls_request["sid"], "MessageStatus": status,
              "SmsStatus": status, "AccountSid": SID, "From": FROM, "To": calls_request["form"]["To"],
              "ApiVersion": "2010-04-01", **extra}
    signature = RequestValidator(token).compute_signature(url, params)
    parts = urlsplit(url)
    return client.post(f"{parts.path}?{parts.query}", data=params, headers={"X-Twilio-Signature": signature})


def test_reply_goes_out_through_twilio_and_status_callbacks_track_it(client, auth, app, twilio, thread_with):
    agent = auth(Role.agent)
    conversation_id = _sms_thread(thread_with)
    out = client.post(f"/conversations/{conversation_id}/messages", headers=agent,
                      json={"text": "A crew is on the way.", "media": ["https://gc.example.org/m/1.jpg"]})
    assert out.status_code == 201
    message_id = out.json()["id"]
    assert len(twilio.requests) == 1  # the request's background delivery ran
    sent = twilio.requests[0]
    assert sent["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sent["form"]["To"] == CUSTOMER and sent["form"]["From"] == FROM
    assert sent["form"]["Body"] == "A crew is on the way."
    assert sent["form"]["MediaUrl"] == ["https://gc.example.org/m/1.jpg"]
    assert sent["form"]["StatusCallback"] == f"{PUBLIC}/notify/twilio/status?message_id={message_id}"
    message = stored(app, message_id)
    assert message.delivery_status == "sent" and message.meta["provider_id"].startswith("SM")
    sent["sid"] = message.meta["provider_id"]

    assert _callback(client, sent, "sent").status_code == 204
    assert stored(app, message_id).delivery_status == "sent"
    assert _callback(client, sent, "delivered").status_code == 204
    assert _callback(client, sent, "sent").status_code == 204  # late and out of order: never moves back
    conv = client.get(f"/conversations/{conversation_id}", headers=agent).json()
    shown = next(m for m in conv["messages"] if m["id"] == message_id)
    assert shown["delivery_status"] == "delivered" and shown["delivery_detail"] == "Twilio reports delivered"
    assert shown["delivery_attempts"] == 1


def test_undelivered_callback_fails_the_message_with_twilios_reason(client, auth, app, twilio, thread_with,
                                                                     queue_reply):
    conversation_id = _sms_thread(thread_with)
    message_id = queue_reply(conversation_id, "Your job is scheduled for 2-3 pm.")
    assert run_pass(app) == 1
    sent = {**twilio.requests[0], "sid": stored(app, message_id).meta["provider_id"]}
    assert _callback(client, sent, "undelivered", ErrorCode="30003").status_code == 204
    message = stored(app, message_id)
    assert message.delivery_status == "failed"
    assert "undelivered" in message.meta["detail"] and "30003" in message.meta["detail"]
    customer = client.get(f"/customers/{message.customer_id}/360", headers=auth(Role.agent)).json()
    shown = next(m for m in customer["timeline"] if m["id"] == message_id)
    assert shown["delivery_status"] == "failed" and "30003" in shown["delivery_detail"]


def test_status_callback_with_a_wrong_signature_or_another_sid_changes_nothing(client, app, twilio, thread_with,
                                                                               queue_reply):
    message_id = queue_reply(_sms_thread(thread_with), "On our way.")
    run_pass(app)
    sent = {**twilio.requests[0], "sid": stored(app, message_id).meta["provider_id"]}
    forged = _callback(client, sent, "failed", token="not-the-token")
    assert forged.status_code == 401 and "X-Twilio-Signature" in forged.json()["detail"]
    other = _callback(client, {**sent, "sid": "SM" + "0" * 32}, "failed")
    assert other.status_code == 204  # authentic, but about another send of Twilio's: ignored
    assert stored(app, message_id).delivery_status == "sent"
    missing = client.post("/notify/twilio/status?message_id=999999", data={"MessageSid": "SMx",
                                                                           "MessageStatus": "sent"})
    assert missing.status_code == 401  # unsigned: refused before anything is looked up


def test_a_503_is_retried_and_the_message_goes_out_once(app, twilio, thread_with, queue_reply):
    twilio.fail_with = [503]
    message_id = queue_reply(_sms_thread(thread_with), "Crew assigned.")
    assert run_pass(app) == 1
    message = stored(app, message_id)
    assert message.delivery_status == "queued" and message.meta["attempts"] == 1
    assert "503" in message.meta["detail"] and "next try at" in message.meta["detail"]
    assert run_pass(app) == 1
    message = stored(app, message_id)
    assert message.delivery_status == "sent" and message.meta["attempts"] == 2
    assert run_pass(app) == 0  # nothing queued: never sent again
    assert len(twilio.requests) == 2 and len({r["form"]["Body"] for r in twilio.requests}) == 1


def test_retry_runs_by_itself_in_process(app, twilio, thread_with, queue_reply):
    from server.notify.service import deliver_queued

    twilio.fail_with = [503]
    app.state.settings.notify_retry_base_s = 0.2
    message_id = queue_reply(_sms_thread(thread_with), "Crew assigned.")
    deliver_queued(engine=app.state.engine, settings=app.state.settings)  # schedules the retry itself
    deadline = time.monotonic() + 60
    while stored(app, message_id).delivery_status == "queued":
        assert time.monotonic() < deadline, "the scheduled retry never ran"
        time.sleep(0.05)
    assert stored(app, message_id).delivery_status == "sent" and len(twilio.requests) == 2


def test_provider_down_keeps_the_message_then_fails_it_with_the_reason(app, twilio, thread_with, queue_reply):
    app.state.settings.twilio_api_url = closed_port_url()
    app.state.settings.notify_max_attempts = 3
    message_id = queue_reply(_sms_thread(thread_with), "We fixed the light.")
    for attempt in (1, 2):
        run_pass(app)
        message = stored(app, message_id)
        assert message.delivery_status == "queued" and message.meta["attempts"] == attempt
        assert "Twilio unreachable" in message.meta["detail"]
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "failed" and message.text == "We fixed the light."
    assert message.meta["detail"].startswith("gave up after 3 attempts: Twilio unreachable")


def test_refusal_fails_at_once_and_opted_out_recipients_get_nothing(app, twilio, thread_with, queue_reply):
    refused = queue_reply(_sms_thread(thread_with, "+14105550199"), "Update on your report.")
    run_pass(app)
    message = stored(app, refused)
    assert message.delivery_status == "failed" and message.meta["attempts"] == 1
    assert "21610" in message.meta["detail"] and "unsubscribed" in message.meta["detail"]

    stopped = queue_reply(_sms_thread(thread_with, "+14105550177"), "Update on your report.")
    with Session(app.state.engine) as session:
        consent.record_opt_out(session=session, channel="sms", handle="+14105550177", keyword="STOP")
        session.commit()
    before = len(twilio.requests)
    run_pass(app)
    message = stored(app, stopped)
    assert message.delivery_status == "failed" and message.meta["detail"] == "recipient opted out"
    assert len(twilio.requests) == before


def test_a_callback_that_beats_our_own_commit_is_kept(app, settings, thread_with, queue_reply):
    """Twilio can report `delivered` before the sending transaction has stored `sent`: the report wins and the
    message is not sent again. (SQLite only: on PostgreSQL the callback waits for the sender's row lock.)"""
    from server.notify.connectors import DeliveryResult
    from server.notify.service import deliver, record_provider_status

    if not settings.is_sqlite:
        pytest.skip("PostgreSQL serializes the two on the row lock")
    message_id = queue_reply(_sms_thread(thread_with), "On our way.")

    class FastTwilio:
        name, calls = "twilio", 0

        def deliver(self, outbound):  # type: ignore[no-untyped-def]
            self.calls += 1
            with Session(app.state.engine) as other:  # Twilio's callback, handled by another request
                record_provider_status(session=other, message_id=outbound.message_id, provider="Twilio",
                                       provider_id="SM1", provider_status="delivered")
            return DeliveryResult(ok=True, detail="accepted by Twilio (queued)", external_id="SM1")

    connector = FastTwilio()
    with Session(app.state.engine) as session:
        from server.conversations.models import Message

        message = session.get(Message, message_id)
        deliver(session=session, message=message, connector=connector)
        deliver(session=session, message=message, connector=connector)  # not queued any more: not sent again
    message = stored(app, message_id)
    assert message.delivery_status == "delivered" and message.meta["detail"] == "Twilio reports delivered"
    assert message.meta["provider_id"] == "SM1" and message.meta["attempts"] == 1 and connector.calls == 1


def test_the_providers_report_corrects_a_send_we_could_not_confirm(client, app, twilio, thread_with, queue_reply):
    """Twilio took the message but its answer never came (we failed it rather than risk a second SMS): the signed
    report for our message id is the truth. A failure Twilio itself reported stays failed."""
    from server.notify.service import record_provider_status

    message_id = queue_reply(_sms_thread(thread_with), "On our way.")
    with Session(app.state.engine) as session:
        from server.conversations.models import Message

        message = session.get(Message, message_id)
        assert message is not None
        message.delivery_status = "failed"
        message.meta = {**message.meta, "attempts": 1, "unconfirmed": True,
                        "detail": "no answer from Twilio after sending (ReadTimeout)"}
        session.add(message)
        session.commit()
        record_provider_status(session=session, message_id=message_id, provider="Twilio", provider_id="SM9",
                               provider_status="delivered")
    message = stored(app, message_id)
    assert message.delivery_status == "delivered" and "unconfirmed" not in message.meta

    refused = queue_reply(_sms_thread(thread_with, "+14105550199"), "Update.")
    run_pass(app)
    with Session(app.state.engine) as session:
        record_provider_status(session=session, message_id=refused, provider="Twilio", provider_id="SM8",
                               provider_status="delivered")
    assert stored(app, refused).delivery_status == "failed"  # we never handed it over: nothing to correct


def test_status_callback_signed_with_the_previous_token_passes_while_it_is_rotated(app, client, twilio, thread_with,
                                                                                    queue_reply):
    """README "Rotating a channel key": the new token is set, the old one named in GROUNDCREW_PREVIOUS_CHANNEL_SECRETS;
    Twilio keeps signing with the old one until the switch at Twilio. Any third token is still refused."""
    message_id = queue_reply(_sms_thread(thread_with), "On our way.")
    run_pass(app)
    sent = {**twilio.requests[0], "sid": stored(app, message_id).meta["provider_id"]}
    app.state.settings.twilio_auth_token = "twilio-auth-token-2"
    app.state.settings.previous_channel_secrets = {"TWILIO_AUTH_TOKEN": TOKEN}
    try:
        assert _callback(client, sent, "sent", token="a-third-token").status_code == 401
        assert _callback(client, sent, "sent", token=TOKEN).status_code == 204  # the old token, still signing
        assert _callback(client, sent, "delivered", token="twilio-auth-token-2").status_code == 204  # the new one
        assert stored(app, message_id).delivery_status == "delivered"
        app.state.settings.previous_channel_secrets = {}  # rotation over: the old token no longer passes
        assert _callback(client, sent, "delivered", token=TOKEN).status_code == 401
    finally:
        app.state.settings.previous_channel_secrets = {}


def _status_events(ws, message_id: int, count: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """The next ``count`` message.status events about ``message_id`` on a live event WebSocket (others skipped)."""
    found: list[dict] = []
    while len(found) < count:
        event = ws.receive_json()
        if event["type"] == "message.status" and event["data"]["message_id"] == message_id:
            found.append(event)
    return found


@pytest.mark.timeout(120)
def test_delivery_state_changes_are_live_events(app, client, auth, twilio, thread_with, queue_reply):
    """queued (attempt failed, retry due) → sent (Twilio accepted) → delivered (status callback) each reach the
    console's event stream as ``message.status`` (staff only: it carries customer data)."""
    dispatcher = auth(Role.dispatcher)
    ticket = client.post("/events/ticket", headers=dispatcher).json()["ticket"]
    message_id = queue_reply(_sms_thread(thread_with), "A crew is on the way.")
    twilio.fail_with = [503]
    with client.websocket_connect(f"/events/ws?ticket={ticket}") as ws:
        assert ws.receive_json()["type"] == "hello"
        run_pass(app)  # Twilio answers 503: still queued, a retry due
        run_pass(app)  # accepted
        sent = {**twilio.requests[-1], "sid": stored(app, message_id).meta["provider_id"]}
        assert _callback(client, sent, "sent").status_code == 204  # no change (already sent): no event
        assert _callback(client, sent, "delivered").status_code == 204
        retry, accepted, delivered = _status_events(ws, message_id, 3)
    assert retry["data"]["status"] == "queued" and retry["data"]["attempts"] == 1
    assert "503" in retry["data"]["detail"] and retry["data"]["next_attempt_at"]
    assert accepted["data"]["status"] == "sent" and accepted["data"]["attempts"] == 2
    assert delivered["data"] == {**delivered["data"], "status": "delivered", "provider_status": "delivered",
                                 "detail": "Twilio reports delivered", "channel": "sms"}
    assert set(delivered) == {"type", "id", "at", "data"}  # the audience stays on the server
