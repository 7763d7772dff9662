"""Meta (Facebook Page + Messenger) in: every notification is answered 200 (Meta's "Required 200 OK Response";
Meta disables webhooks that keep failing); Messenger messages (text and attachments) are filed, our page's echoes
and the kinds we do not use are
stored raw and ignored, a caption-less photo post keeps its photo.

Payload shapes from Meta's documentation:
- messages: https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
- message_echoes: https://developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/
  webhook-events/message-echoes
- reactions, reads, deliveries, edits: https://developers.facebook.com/docs/messenger-platform/reference/
  webhook-events (message_reactions, message_reads, message_deliveries, message_edits)
- Page feed: https://developers.facebook.com/docs/graph-api/webhooks/reference/page/#feed"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sqlmodel import Session, select

from server.conversations.models import Message
from server.intake.models import IntakeEvent
from tests.server.intake.helpers import counts

PAGE_ID = "682498302938465"
PSID = "6945290585532791"


def _db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(app.state.engine)


def messaging(*events: dict[str, Any]) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": 1518479195594, "messaging": list(events)}]}


def text_message(mid: str, text: str) -> dict[str, Any]:
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1796464687000,
            "message": {"mid": mid, "text": text}}


def test_messenger_text_message_is_filed(app, client):
    answer = client.post("/channels/facebook", json=messaging(text_message(
        "m_1457764197618:41d102a3e1ae206a38", "The streetlight outside 1200 Fait Ave is out")))
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert str(message.visibility) == "private" and message.external_id == "m_1457764197618:41d102a3e1ae206a38"
        assert message.meta["facebook_psid"] == PSID and message.meta["facebook_page_id"] == PAGE_ID
    second = client.post("/channels/facebook", json=messaging(text_message("m_2", "it is still dark")))
    assert second.json()["conversation_id"] == answer.json()["conversation_id"]  # one Messenger thread per person


def test_messenger_attachment_only_message_keeps_the_media(app, client):
    event = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1518479195308,
             "message": {"mid": "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c", "attachments": [
                 {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/pothole.jpg"}}]}}
    answer = client.post("/channels/facebook", json=messaging(event))
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert message.media == ["https://scontent.xx.fbcdn.net/v/t1.15752-9/pothole.jpg"]
        assert message.text == "(image without text)"


def test_echo_reaction_read_delivery_edit_are_acknowledged_and_stored(app, client):
    echo = {"sender": {"id": PAGE_ID}, "recipient": {"id": PSID}, "timestamp": 1457764197627,
            "message": {"is_echo": True, "app_id": 1517776481860111, "metadata": "ask-location:1",
                        "mid": "mid.1457764197618:41d102a3e1ae206a38", "text": "Where is it?"}}
    reaction = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1458668856463,
                "reaction": {"reaction": "love", "emoji": "\u2764\ufe0f", "action": "react", "mid": "m_abc"}}
    read = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1458668856463,
            "read": {"watermark": 1458668856253}}
    delivery = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID},
                "delivery": {"mids": ["mid.1458668856218:ed81099e15d3f4f233"], "watermark": 1458668856253}}
    edit = {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1458668856463,
            "message_edit": {"mid": "m_abc", "text": "edited text", "num_edit": 1}}
    with _db(app) as session:
        before = counts(session)
    for event in (echo, reaction, read, delivery, edit):
        answer = client.post("/channels/facebook", json=messaging(event))
        assert answer.status_code == 200, answer.text
    standby_echo = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1570053170926, "standby": [echo]}]}
    assert client.post("/channels/facebook", json=standby_echo).status_code == 200
    with _db(app) as session:
        assert counts(session) == before
        kinds = [(e.kind, e.outcome) for e in session.exec(select(IntakeEvent).order_by(IntakeEvent.id)).all()]
    assert kinds == [("messaging.message_echo", "own"), ("messaging.reaction", "ignored"),
                     ("messaging.read", "ignored"), ("messaging.delivery", "ignored"),
                     ("messaging.message_edit", "ignored"), ("messaging.message_echo", "own")]


def test_caption_less_photo_post_is_filed_with_its_photo(app, client):
    change = {"field": "feed", "value": {
        "item": "photo", "verb": "add", "post_id": f"{PAGE_ID}_10158", "photo_id": "10158",
        "link": "https://scontent.xx.fbcdn.net/v/t39.30808-6/trash.jpg", "published": 1,
        "created_time": 1796464687, "from": {"id": "2411567265", "name": "Fay Book"}}}
    answer = client.post("/channels/facebook", json={"object": "page", "entry": [
        {"id": PAGE_ID, "time": 1796464687, "changes": [change]}]})
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert message.media == ["https://scontent.xx.fbcdn.net/v/t39.30808-6/trash.jpg"]


def test_feed_reactions_and_edits_are_kept_not_filed(app, client):
    reaction = {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "like",
                                           "post_id": f"{PAGE_ID}_1", "from": {"id": "2411567265", "name": "F"},
                                           "created_time": 1796464687}}
    edited = {"field": "feed", "value": {"item": "comment", "verb": "edited", "comment_id": "1_2",
                                         "post_id": f"{PAGE_ID}_1", "message": "new words",
                                         "from": {"id": "2411567265", "name": "F"}, "created_time": 1796464687}}
    answer = client.post("/channels/facebook", json={"object": "page", "entry": [
        {"id": PAGE_ID, "time": 1796464687, "changes": [reaction, edited]}]})
    assert answer.status_code == 200, answer.text
    assert [e["kind"] for e in answer.json()["events"]] == ["feed.reaction.add", "feed.comment.edited"]


def test_signed_messenger_delivery_with_an_unknown_kind_is_200(app, client):
    """Signed like Meta signs it (X-Hub-Signature-256 over the raw body); an unknown kind still gets 200."""
    app.state.settings.facebook_app_secret = "fb-app-secret"
    try:
        body = json.dumps(messaging({"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": 1,
                                     "brand_new_kind": {"x": 1}})).encode()
        signature = "sha256=" + hmac.new(b"fb-app-secret", body, hashlib.sha256).hexdigest()
        answer = client.post("/channels/facebook", content=body, headers={
            "content-type": "application/json", "X-Hub-Signature-256": signature})
    finally:
        app.state.settings.facebook_app_secret = None
    assert answer.status_code == 200 and answer.json()["events"][0]["kind"] == "messaging.brand_new_kind"


def test_a_delivery_of_an_unforeseen_shape_is_acknowledged_not_a_500(app, client):
    """A number where Meta puts a list: still 200 and stored (a 5xx would make Meta retry, then disable us)."""
    answer = client.post("/channels/facebook", json={"object": "page", "entry": [{"id": PAGE_ID, "messaging": 1}]})
    assert answer.status_code == 200 and "unexpected shape" in answer.json()["detail"]
    with _db(app) as session:
        assert session.exec(select(IntakeEvent)).one().outcome == "invalid"
