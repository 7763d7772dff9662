"""X (Twitter) in: the CRC check, Account Activity deliveries (mentions, DMs, kinds we do not use), the X Activity
API envelope, and the brand's own posts and DMs acknowledged but never filed.

Payload shapes follow X's documentation:
- CRC: https://docs.x.com/x-api/webhooks/quickstart ("The CRC check") and
  https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/securing-webhooks
- Account Activity: https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/
  account-activity-data-objects (``for_user_id``, ``tweet_create_events``, ``direct_message_events``, ``users``)
- DM event: https://developer.x.com/content/developer-twitter/en/docs/direct-messages/sending-and-receiving/guides/
  message-create-object
- X Activity API envelope: https://docs.x.com/x-api/activity/event-payloads (``data.event_uuid``, ``filter``,
  ``event_type``, ``payload``, ``includes``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlmodel import Session, select

from server.cases.models import Case
from server.conversations.models import Message
from server.intake.models import IntakeEvent
from tests.server.intake.helpers import counts, tweet

BRAND_ID = "3001969357"  # our account (the subscription's for_user_id)
RESIDENT_ID = "1182180545216315393"


def _db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(app.state.engine)


def aa_tweet(tweet_id: str, text: str, *, user_id: str = RESIDENT_ID, screen_name: str = "baltimore_res",
             mention_us: bool = True, reply_to: str | None = None) -> dict[str, Any]:
    """A v1.1 tweet object as ``tweet_create_events`` carries it."""
    mentions = [{"screen_name": "groundcrew", "name": "Groundcrew", "id": int(BRAND_ID), "id_str": BRAND_ID,
                 "indices": [0, 11]}] if mention_us else []
    return {
        "created_at": "Sat Dec 05 09:58:07 +0000 2026", "id": int(tweet_id), "id_str": tweet_id, "text": text,
        "source": "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>", "truncated": False,
        "in_reply_to_status_id": int(reply_to) if reply_to else None, "in_reply_to_status_id_str": reply_to,
        "in_reply_to_user_id": None, "in_reply_to_user_id_str": None, "in_reply_to_screen_name": None,
        "user": {"id": int(user_id), "id_str": user_id, "name": "Res Ident", "screen_name": screen_name,
                 "location": "Baltimore", "followers_count": 312, "friends_count": 80, "verified": False},
        "geo": None, "coordinates": {"type": "Point", "coordinates": [-76.5701, 39.2851]}, "place": None,
        "is_quote_status": False, "quote_count": 0, "reply_count": 0, "retweet_count": 0, "favorite_count": 0,
        "entities": {"hashtags": [], "urls": [], "user_mentions": mentions, "symbols": []},
        "favorited": False, "retweeted": False, "filter_level": "low", "lang": "en", "timestamp_ms": "1796464687000",
    }


def aa_delivery(**events: Any) -> dict[str, Any]:
    return {"for_user_id": BRAND_ID, **events}


def aa_dm(event_id: str, text: str, *, sender: str = RESIDENT_ID, recipient: str = BRAND_ID) -> dict[str, Any]:
    """A ``direct_message_events`` delivery with its ``users`` map."""
    return {
        "for_user_id": BRAND_ID,
        "direct_message_events": [{
            "type": "message_create", "id": event_id, "created_timestamp": "1796464687000",
            "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                               "source_app_id": "268278",
                               "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [],
                                                                           "user_mentions": [], "urls": []}}}}],
        "users": {
            sender: {"id": sender, "created_timestamp": "1570739209000", "name": "Res Ident",
                     "screen_name": "baltimore_res" if sender == RESIDENT_ID else "groundcrew", "protected": False,
                     "verified": False, "followers_count": 312, "friends_count": 80, "statuses_count": 55},
            recipient: {"id": recipient, "created_timestamp": "1422568413000", "name": "Groundcrew",
                        "screen_name": "groundcrew" if recipient == BRAND_ID else "baltimore_res",
                        "protected": False, "verified": False},
        },
    }


def test_crc_answers_the_documented_response_token(app, client):
    """The documentation's worked example: consumer secret and crc_token from X's sample code."""
    secret, token = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu", "9b4507b3-9040-4669-9ca3-6b94edb50553"
    app.state.settings.twitter_consumer_secret = secret
    try:
        answer = client.get("/channels/twitter", params={"crc_token": token})
    finally:
        app.state.settings.twitter_consumer_secret = None
    assert answer.status_code == 200, answer.text
    expected = "sha256=" + base64.b64encode(hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()).decode()
    assert answer.json() == {"response_token": expected}


def test_crc_without_the_consumer_secret_says_what_to_set(client):
    answer = client.get("/channels/twitter", params={"crc_token": "abc"})
    assert answer.status_code == 503 and "GROUNDCREW_X_CONSUMER_SECRET" in answer.json()["detail"]


def test_account_activity_mention_is_filed_with_the_author_numeric_id(app, client):
    tweet_id = "1867233081217171456"
    answer = client.post("/channels/twitter", json=aa_delivery(tweet_create_events=[
        aa_tweet(tweet_id, "@groundcrew the streetlight on my block is out")]))
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    body = answer.json()
    assert body["case_id"] is not None and body["listening"] is False
    with _db(app) as session:
        message = session.get(Message, body["message_id"])
        assert message.external_id == tweet_id and str(message.visibility) == "public"
        assert message.meta["x_user_id"] == RESIDENT_ID
        assert (message.lat, message.lon) == (39.2851, -76.5701)
    again = client.post("/channels/twitter", json=aa_delivery(tweet_create_events=[
        aa_tweet(tweet_id, "@groundcrew the streetlight on my block is out")]))
    assert again.status_code == 200 and again.json()["message_id"] == body["message_id"]


def test_account_activity_dm_is_filed_private_with_sender_id(app, client):
    answer = client.post("/channels/twitter", json=aa_dm("1867233999999999999", "There is a pothole outside 12 "
                                                         "Main St, please fix"))
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert str(message.visibility) == "private" and message.author_name == "Res Ident"
        assert message.meta["x_user_id"] == RESIDENT_ID and message.meta.get("x_dm") is True


def test_brand_own_tweet_and_dm_are_acknowledged_not_filed(app, client):
    with _db(app) as session:
        before = counts(session)
    own_tweet = aa_tweet("1867233081217170001", "@baltimore_res thanks, a crew is on the way to the pothole",
                         user_id=BRAND_ID, screen_name="groundcrew", mention_us=False)
    answer = client.post("/channels/twitter", json=aa_delivery(tweet_create_events=[own_tweet]))
    assert answer.status_code == 200 and answer.json()["acknowledged"] is True
    own_dm = client.post("/channels/twitter", json=aa_dm("1867233000000000002", "We fixed the pothole",
                                                         sender=BRAND_ID, recipient=RESIDENT_ID))
    assert own_dm.status_code == 200 and own_dm.json()["events"][0]["outcome"] == "own"
    # X API v2 shape (a search/lookup relay): the brand's handle from social_handles is ours too (issue 27).
    v2 = client.post("/channels/twitter", json=tweet("1867233000000000003", "@resident1 pothole crew dispatched",
                                                     user_id="999", username="groundcrew"))
    assert v2.status_code == 200 and v2.json()["events"][0]["outcome"] == "own"
    with _db(app) as session:
        assert counts(session) == before
        outcomes = [e.outcome for e in session.exec(select(IntakeEvent)).all()]
        assert outcomes == ["own", "own", "own"]


def test_configured_brand_id_is_never_a_customer(app, client):
    """A second brand account (x_brand_user_ids) replying in a thread is ours, not a customer's complaint."""
    app.state.settings.x_brand_user_ids = "4242, 777"
    try:
        answer = client.post("/channels/twitter", json=aa_delivery(tweet_create_events=[
            aa_tweet("1867233081217170009", "@groundcrew our crew fixed the pothole", user_id="777",
                     screen_name="groundcrew_ops")]))
    finally:
        app.state.settings.x_brand_user_ids = ""
    assert answer.status_code == 200 and answer.json()["events"][0]["outcome"] == "own"
    with _db(app) as session:
        assert session.exec(select(Case)).all() == []


def test_unknown_and_unused_kinds_are_stored_and_acknowledged(app, client):
    favorite = aa_delivery(favorite_events=[{
        "id": "a7ba59eab0bfcba386f7acedac279542", "created_at": "Mon Mar 26 16:33:26 +0000 2018",
        "timestamp_ms": 1522082006140, "favorited_status": aa_tweet("1867233081217170010", "hello"),
        "user": {"id": 2244994945, "id_str": "2244994945", "screen_name": "TwitterDev"}}])
    for payload in (favorite, aa_delivery(tweet_delete_events=[{"status": {"id": "1", "user_id": "2"},
                                                                "timestamp_ms": "1"}]),
                    {"for_user_id": BRAND_ID, "tweet_create_events": [{"id_str": "5"}]}):
        answer = client.post("/channels/twitter", json=payload)
        assert answer.status_code == 200, answer.text
    with _db(app) as session:
        events = session.exec(select(IntakeEvent).order_by(IntakeEvent.id)).all()
        assert [(e.kind, e.outcome) for e in events] == [
            ("favorite_events", "ignored"), ("tweet_delete_events", "ignored"), ("invalid", "invalid")]
        assert "tweet_create_events[0].user.id_str: required" in events[2].detail
        assert '"favorited_status"' in events[0].payload  # the raw delivery, for audit
        assert session.exec(select(Message)).all() == []


def test_activity_api_envelope(app, client):
    """Shapes from https://docs.x.com/x-api/activity/event-payloads: post.create for our filtered user is our own
    post; post.mention.create by someone else is filed; dm.received (direct_message_events plus a users map whose
    entries are wrapped in "data") is filed, dm.sent by us is not; other event types are kept."""
    own_post = {"data": {"event_uuid": "2080761390344937796", "filter": {"user_id": BRAND_ID},
                         "event_type": "post.create", "tag": "posts",
                         "payload": {"id": "2080761390344937796", "text": "Crews are out on potholes today",
                                     "author_id": BRAND_ID, "created_at": "2026-12-05T09:05:48.000Z",
                                     "conversation_id": "2080761390344937796", "lang": "en",
                                     "edit_history_tweet_ids": ["2080761390344937796"]},
                         "includes": {}}}
    answer = client.post("/channels/twitter", json=own_post)
    assert answer.status_code == 200 and answer.json()["events"][0]["outcome"] == "own"
    mention = {"data": {"event_uuid": "2080765813578191303", "filter": {"user_id": BRAND_ID},
                        "event_type": "post.mention.create", "tag": "mentions",
                        "payload": {"created_at": "2026-12-05T09:23:23.000Z", "conversation_id": "2080765813578191303",
                                    "text": "hey @ExampleCity the streetlight at 1200 Fait Ave is out",
                                    "entities": {"mentions": [{"start": 4, "end": 16, "username": "ExampleCity",
                                                               "id": BRAND_ID}]},
                                    "author_id": RESIDENT_ID, "id": "2080765813578191303", "lang": "en",
                                    "edit_history_tweet_ids": ["2080765813578191303"]},
                        "includes": {"users": [{"username": "OtherUser", "name": "Other User", "id": RESIDENT_ID,
                                                "public_metrics": {"followers_count": 97}}]}}}
    filed_post = client.post("/channels/twitter", json=mention)
    assert filed_post.status_code == 200 and filed_post.json()["created"] is True, filed_post.text
    assert filed_post.json()["listening"] is False  # addressed to us although "ExampleCity" is no social handle

    def dm(event_id: str, sender: str, recipient: str, kind: str) -> dict:
        return {"data": {"event_uuid": "-6850472171600526495", "filter": {"user_id": BRAND_ID}, "event_type": kind,
                         "tag": "dm-inbound", "payload": {
                             "direct_message_events": [{
                                 "type": "message_create", "id": event_id, "created_timestamp": "1796464687000",
                                 "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                                                    "message_data": {"text": "Water main leaking on Fait Ave",
                                                                     "entities": {"hashtags": [], "symbols": [],
                                                                                  "user_mentions": [], "urls": []}}}}],
                             "users": {RESIDENT_ID: {"data": {"id": RESIDENT_ID, "username": "OtherUser",
                                                              "name": "Other User", "protected": False}},
                                       BRAND_ID: {"data": {"id": BRAND_ID, "username": "ExampleCity",
                                                           "name": "Example City"}}}}}}

    filed = client.post("/channels/twitter", json=dm("2080765901528535096", RESIDENT_ID, BRAND_ID, "dm.received"))
    assert filed.status_code == 200 and filed.json()["created"] is True, filed.text
    sent = client.post("/channels/twitter", json=dm("2080765901528535097", BRAND_ID, RESIDENT_ID, "dm.sent"))
    assert sent.status_code == 200 and sent.json()["events"][0]["outcome"] == "own"
    for kind in ("follow.follow", "dm.read", "dm.indicate_typing"):
        kept = client.post("/channels/twitter", json={"data": {"event_uuid": "2080761390344930002", "filter": {
            "user_id": BRAND_ID}, "event_type": kind, "payload": {}}})
        assert kept.status_code == 200 and kept.json()["events"][0]["kind"] == kind
    with _db(app) as session:
        message = session.get(Message, filed.json()["message_id"])
        assert message.meta["x_user_id"] == RESIDENT_ID and str(message.visibility) == "private"
        assert message.author_name == "Other User"
        post = session.get(Message, filed_post.json()["message_id"])
        assert post.meta["x_user_id"] == RESIDENT_ID and str(post.visibility) == "public"
