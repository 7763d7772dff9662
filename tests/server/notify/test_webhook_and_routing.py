"""The generic webhook relay (signed, with the fields a relay needs), the recording outbox's honest `recorded`,
how a channel's connector is chosen, and ``groundcrew channels check``."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

from server.auth.models import Role
from server.notify.providers import OUTBOX, connector_for_channel
from tests.server.notify.conftest import Calls, run_pass, serve, stored

SECRET = "relay-secret"


def fake_relay(calls: Calls) -> FastAPI:
    """A relay as our docs define it (the Idempotency-Key and signature headers in providers/webhook.py)."""
    app = FastAPI()
    seen: dict[str, str] = {}

    @app.post("/relay")
    async def relay(request: Request) -> JSONResponse:
        raw = await request.body()
        timestamp = request.headers.get("x-groundcrew-timestamp", "")
        expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        calls.requests.append({"body": json.loads(raw), "key": request.headers.get("idempotency-key")})
        if not hmac.compare_digest(request.headers.get("x-groundcrew-signature", ""), expected):
            return JSONResponse({"error": "bad signature"}, 401)
        failure = calls.next_failure()
        if failure:
            return JSONResponse({"error": "busy"}, failure)
        key = request.headers["idempotency-key"]
        seen.setdefault(key, uuid.uuid4().hex)
        return JSONResponse({"id": seen[key]}, 202)

    return app


@pytest.fixture
def relay(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_relay(calls)) as url:
        s = app.state.settings
        s.outbound_webhook_url, s.outbound_webhook_secret = f"{url}/relay", SECRET
        s.email_from, s.notify_retry_base_s = "City <help@city.example>", 0.0
        yield calls


def test_relay_gets_a_signed_message_with_subject_sender_media_and_numeric_id(app, relay, thread_with,
                                                                               queue_reply):
    conversation_id, _ = thread_with(channel="twitter", external_id="dm-1", author_handle="bo", text="no water",
                                     subject="", meta={"x_user_id": "2244994945"})
    relay.fail_with = [503]
    message_id = queue_reply(conversation_id, "Crew on the way.")
    run_pass(app)
    assert stored(app, message_id).delivery_status == "queued"
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "sent" and message.meta["attempts"] == 2
    assert relay.requests[0]["key"] == relay.requests[1]["key"] == f"groundcrew-message-{message_id}"
    body = relay.requests[1]["body"]
    assert body["to"] == {"handle": "bo", "id": "2244994945"} and body["channel"] == "twitter"
    assert body["from"]["email"] == "City <help@city.example>" and body["text"] == "Crew on the way."
    assert body["in_reply_to"] == "dm-1" and body["media"] == [] and "subject" in body

    app.state.settings.outbound_webhook_secret = "rotated-on-our-side-only"
    refused = queue_reply(conversation_id, "Another.")
    run_pass(app)
    message = stored(app, refused)
    assert message.delivery_status == "failed" and "HTTP 401" in message.meta["detail"]


def test_without_a_provider_messages_are_recorded_not_sent(client, auth, app, thread_with):
    agent = auth(Role.agent)
    conversation_id, inbound = thread_with(channel="sms", external_id="SM-rec-1", author_handle="+14105550111",
                                           text="tree down")
    out = client.post(f"/conversations/{conversation_id}/messages", headers=agent, json={"text": "Noted."})
    assert out.status_code == 201
    message = stored(app, out.json()["id"])
    assert message.delivery_status == "recorded" and "no provider is configured for sms" in message.meta["detail"]
    assert any(o.message_id == message.id for o in OUTBOX.sent)
    view = client.get(f"/customers/{inbound.customer_id}/360", headers=agent).json()
    shown = next(m for m in view["timeline"] if m["id"] == message.id)
    assert shown["delivery_status"] == "recorded" and shown["delivery_detail"].startswith("recorded only")
    assert next(m for m in view["timeline"] if m["id"] == inbound.id)["delivery_detail"] == ""


def test_the_connector_is_chosen_per_channel(settings):
    settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number = "AC1", "t", "+1410"
    settings.smtp_host, settings.email_from = "mail.example", "help@city.example"
    assert connector_for_channel(settings, "sms").name == "twilio"
    assert connector_for_channel(settings, "email").name == "smtp"
    assert connector_for_channel(settings, "facebook") is OUTBOX
    settings.outbound_webhook_url = "https://relay.example/hook"
    assert connector_for_channel(settings, "facebook").name == "webhook"
    assert connector_for_channel(settings, "webform").name == "webhook"
    settings.x_bearer_token = "user-token"
    assert connector_for_channel(settings, "twitter").name == "x"


def test_channels_check_lists_configuration_urls_and_what_is_missing(monkeypatch, tmp_path):
    from server.cli import app as cli

    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "META_PAGE_ACCESS_TOKEN",
                 "FACEBOOK_APP_SECRET", "OUTBOUND_WEBHOOK_URL", "SMTP_HOST", "EMAIL_FROM"):
        monkeypatch.delenv(f"GROUNDCREW_{name}", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    env = {"GROUNDCREW_TWILIO_ACCOUNT_SID": "AC1", "GROUNDCREW_TWILIO_AUTH_TOKEN": "tok",
           "GROUNDCREW_TWILIO_FROM_NUMBER": "+14105550100", "GROUNDCREW_CHANNEL_PUBLIC_URL": "https://gc.example.org/",
           "GROUNDCREW_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["channels", "check", "--json"], env=env)
    assert result.exit_code == 0, result.output
    channels = {c["channel"]: c for c in json.loads(result.output)["channels"]}
    assert channels["sms"]["inbound"] and channels["sms"]["outbound_configured"]
    assert channels["sms"]["missing"] == []
    assert "https://gc.example.org/channels/sms" in " ".join(channels["sms"]["register"])
    assert not channels["facebook"]["outbound_configured"]
    assert channels["facebook"]["outbound"] == "recorded only (nothing is sent)"
    assert "outbound (Meta Graph API): GROUNDCREW_META_PAGE_ACCESS_TOKEN" in channels["facebook"]["missing"]
    assert "inbound: GROUNDCREW_FACEBOOK_APP_SECRET" in channels["facebook"]["missing"]
    text = CliRunner().invoke(cli, ["channels", "check"], env=env).output
    assert "sms\n  inbound:  configured\n  outbound: Twilio" in text and "missing:  outbound (SMTP)" in text


def test_with_a_broker_the_retry_is_a_delayed_celery_task(app, relay, thread_with, queue_reply, monkeypatch):
    from server.notify.service import deliver_queued
    from server.workers.celery_app import app as celery

    delays: list[float] = []

    def send_task(name, args=(), countdown=None):  # type: ignore[no-untyped-def]
        assert name == "groundcrew.deliver" and not args
        delays.append(countdown)

    monkeypatch.setattr(celery, "send_task", send_task)
    app.state.settings.broker_url = "redis://127.0.0.1:1/0"  # never contacted: apply_async is recorded
    app.state.settings.notify_retry_base_s = 120.0
    relay.fail_with = [503]
    conversation_id, _ = thread_with(channel="webform", external_id="wf-1", author_handle="ann@example.net",
                                     text="broken bench")
    message_id = queue_reply(conversation_id, "Thanks.")
    deliver_queued(engine=app.state.engine, settings=app.state.settings)
    assert stored(app, message_id).delivery_status == "queued"
    assert len(delays) == 1 and 100 < delays[0] <= 120  # the first retry is due 120 s after the failure
    assert deliver_queued(engine=app.state.engine, settings=app.state.settings) == 0  # not due: not sent again
    assert len(relay.requests) == 1
