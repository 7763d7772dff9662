"""Round trips through the real inbound webhooks (server/intake) and out through the provider fakes: the reply
reaches the number that texted / the numeric X id that sent the DM, and a texted STOP stops replies."""

from __future__ import annotations

import uuid

from sqlmodel import Session
from twilio.request_validator import RequestValidator

from server.auth.models import Role
from server.conversations.models import Message
from tests.server.notify.conftest import run_pass, stored
from tests.server.notify.test_twilio import PUBLIC, TOKEN, twilio  # noqa: F401 (fixture)
from tests.server.notify.test_x import BEARER, x_api  # noqa: F401 (fixture)

SENDER = "+14105550149"


def _text_in(client, body: str):  # type: ignore[no-untyped-def]
    """An incoming SMS as Twilio posts it (https://www.twilio.com/docs/messaging/guides/webhook-request), signed."""
    sid = "SM" + uuid.uuid4().hex
    form = {"SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received", "Body": body,
            "To": "+14105550100", "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "a" * 32,
            "From": SENDER, "ApiVersion": "2010-04-01"}
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/channels/sms", form)
    answer = client.post("/channels/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code in (200, 201), answer.text
    return answer


def _conversation_of(app, message_id: int) -> int:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.conversation_id


def test_sms_in_reply_out_then_stop(client, auth, app, twilio):  # noqa: F811
    agent = auth(Role.agent)
    answer = _text_in(client, "Streetlight out at 5th and Main, dark all night")
    conversation_id = _conversation_of(app, int(answer.headers["X-Groundcrew-Message-Id"]))
    reply = client.post(f"/conversations/{conversation_id}/messages", headers=agent, json={"text": "Crew tonight."})
    run_pass(app)
    mine = [r for r in twilio.requests if r["form"]["Body"] == "Crew tonight."]
    assert len(mine) == 1 and mine[0]["form"]["To"] == SENDER
    assert stored(app, reply.json()["id"]).delivery_status == "sent"

    _text_in(client, "STOP")
    before = len(twilio.requests)
    after_stop = client.post(f"/conversations/{conversation_id}/messages", headers=agent, json={"text": "Fixed."})
    run_pass(app)
    message = stored(app, after_stop.json()["id"])
    assert message.delivery_status == "failed" and message.meta["detail"] == "recipient opted out"
    assert len(twilio.requests) == before


def test_x_dm_in_reply_goes_to_the_senders_numeric_id(client, auth, app, x_api):  # noqa: F811
    s = app.state.settings
    s.x_consumer_key, s.twitter_consumer_secret, s.x_bearer_token = None, None, BEARER  # inbound unsigned (demo)
    resident = "1182180545216315393"
    delivery = {  # Account Activity DM, https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/
        "for_user_id": "3001969357",  # guides/account-activity-data-objects
        "direct_message_events": [{
            "type": "message_create", "id": "1796464687000123", "created_timestamp": "1796464687000",
            "message_create": {"target": {"recipient_id": "3001969357"}, "sender_id": resident,
                               "message_data": {"text": "No water on Fait Ave since 8am", "entities": {}}}}],
        "users": {resident: {"id": resident, "name": "Res Ident", "screen_name": "baltimore_res"},
                  "3001969357": {"id": "3001969357", "name": "Groundcrew", "screen_name": "groundcrew"}},
    }
    assert client.post("/channels/twitter", json=delivery).status_code in (200, 201)
    with Session(app.state.engine) as session:
        from sqlmodel import select

        inbound = session.exec(select(Message).where(Message.external_id == "1796464687000123")).one()
    agent = auth(Role.agent)
    reply = client.post(f"/conversations/{inbound.conversation_id}/messages", headers=agent,
                        json={"text": "Crews are on Fait Ave."})
    run_pass(app)
    mine = [r for r in x_api.requests if r["body"].get("text") == "Crews are on Fait Ave."]
    assert [r["path"] for r in mine] == [f"/2/dm_conversations/with/{resident}/messages"]
    assert stored(app, reply.json()["id"]).delivery_status == "sent"
