"""Slot offers answered with one tap (issue 30, item 2): X DM quick replies, Messenger quick replies and one signed link
per option in an email offer. The tap books the window it names when its signed payload belongs to this offer round;
a forged, stale or someone else's payload gets the re-ask and books nothing. Typing the number keeps working.

The providers are loopback fakes of their documented HTTP APIs (tests/server/notify/conftest.py ``serve``); inbound
payloads are the documented webhook shapes:
- X quick replies (send): https://developer.x.com/en/docs/direct-messages/quick-replies and the options reference
  https://developer.x.com/en/docs/direct-messages/quick-replies/api-reference/options (``quick_reply: {type:
  "options", options: [{label <= 36, description <= 72, metadata <= 1000}]}``, at most 20), sent with
  ``POST /1.1/direct_messages/events/new.json`` (https://developer.x.com/en/docs/direct-messages/sending-and-receiving/
  api-reference/new-event; 200 ``{"event": {"type": "message_create", "id", ...}}``), OAuth 1.0a user context.
- X quick reply answer (webhook): https://developer.x.com/content/developer-twitter/en/docs/direct-messages/
  sending-and-receiving/guides/message-create-object (``message_data.quick_reply_response: {type: "options",
  metadata}``), delivered by the Account Activity API signed with ``x-twitter-webhooks-signature``
  (https://docs.x.com/x-api/webhooks/introduction).
- Messenger quick replies (send): https://developers.facebook.com/docs/messenger-platform/reference/buttons/
  quick-replies and https://developers.facebook.com/docs/messenger-platform/send-messages/quick-replies/
  (``message.quick_replies: [{content_type: "text", title <= 20, payload <= 1000}]``, at most 13; Send API answer
  ``{"recipient_id", "message_id"}``).
- Messenger quick reply answer (webhook): https://developers.facebook.com/docs/messenger-platform/reference/
  webhook-events/messages (``message.quick_reply.payload``; ``text`` is the button's title)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from oauthlib.oauth1.rfc5849 import signature
from sqlmodel import Session

from server.appointments import service
from server.appointments.models import AppointmentStatus
from server.notify import service as notify
from tests.server.appointments.conftest import NO_WATER, NO_WATER_2, appointment_of, outbound
from tests.server.appointments.test_end_to_end import _booked, _job
from tests.server.intake.helpers import email
from tests.server.intake.test_channels_x import RESIDENT_ID, aa_dm
from tests.server.notify.conftest import Calls, serve

KEY, SECRET, TOKEN, TOKEN_SECRET = "x-consumer-key", "x-consumer-secret", "123-brand-token", "brand-token-secret"
PAGE_TOKEN, PAGE_ID, PSID = "page-token", "682498302938465", "6945290585532791"
OTHER_RESIDENT_ID = "1182180545216399999"
LABEL = re.compile(r"^[1-3]: \w{3} \d\d:\d\d–\d\d:\d\d$")


# ---------------------------------------------------------------- fake providers


def fake_x(calls: Calls) -> FastAPI:
    """X's DM endpoints: v2 text DMs (the acknowledgement of the complaint) and v1.1 DM events with quick replies,
    each checking the OAuth 1.0a signature as X does, the quick-reply shape and X's limits."""
    app = FastAPI()

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        params = signature.collect_parameters(headers={"Authorization": header}, exclude_oauth_signature=False)
        given = dict(params)
        signed = SimpleNamespace(http_method=request.method, uri=str(request.url),
                                 signature=unquote(given.get("oauth_signature", "")),
                                 params=[(k, v) for k, v in params if k != "oauth_signature"])
        return header.startswith("OAuth ") and given.get("oauth_consumer_key") == KEY and \
            given.get("oauth_token") == TOKEN and signature.verify_hmac_sha1(signed, SECRET, TOKEN_SECRET)

    @app.post("/2/dm_conversations/with/{participant_id}/messages")
    async def dm_v2(participant_id: str, request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return JSONResponse({"title": "Unauthorized", "status": 401}, 401)
        return JSONResponse({"data": {"dm_conversation_id": f"{participant_id}-1",
                                      "dm_event_id": str(uuid.uuid4().int % 10**19)}}, 201)

    @app.post("/1.1/direct_messages/events/new.json")
    async def dm_event(request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return JSONResponse({"errors": [{"code": 32, "message": "Could not authenticate you."}]}, 401)
        if calls.next_failure() == 403:  # an access level without v1.1 (response-codes-and-errors, code 453)
            return JSONResponse({"errors": [{"code": 453, "message": "You currently have access to a subset of X "
                                             "API V2 endpoints and limited v1.1 endpoints only."}]}, 403)
        event = body.get("event") or {}
        create = event.get("message_create") or {}
        data = create.get("message_data") or {}
        options = (data.get("quick_reply") or {}).get("options") or []
        described = {("description" in o) for o in options}
        if event.get("type") != "message_create" or not str((create.get("target") or {}).get("recipient_id", ""))\
                .isdigit() or not data.get("text") or len(options) > 20 or len(described) > 1 or \
                any(len(o["label"]) > 36 or len(o["metadata"]) > 1000 or len(o.get("description", "")) > 72
                    for o in options):
            return JSONResponse({"errors": [{"code": 214, "message": "event parameter is invalid."}]}, 400)
        return JSONResponse({"event": {"type": "message_create", "id": str(uuid.uuid4().int % 10**19),
                                       "created_timestamp": str(int(time.time() * 1000)),
                                       "message_create": {**create, "sender_id": "3001969357"}}}, 200)

    return app


def fake_graph(calls: Calls) -> FastAPI:
    """Meta's Send API: checks the page token, the 24-hour window's messaging_type and the quick replies' shape."""
    app = FastAPI()

    @app.post("/me/messages")
    async def send(request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body, "params": dict(request.query_params)})
        if request.query_params.get("access_token") != PAGE_TOKEN:
            return JSONResponse({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                           "code": 190}}, 400)
        replies = (body.get("message") or {}).get("quick_replies") or []
        if body.get("messaging_type") != "RESPONSE" or len(replies) > 13 or any(
                r.get("content_type") != "text" or not r.get("title") or len(r["title"]) > 20
                or len(r.get("payload", "")) > 1000 for r in replies):
            return JSONResponse({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
                                           "code": 100}}, 400)
        return JSONResponse({"recipient_id": body["recipient"]["id"], "message_id": f"m_{uuid.uuid4().hex}"})

    return app


@pytest.fixture
def x_api(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_x(calls)) as url:
        s = app.state.settings
        s.x_consumer_key, s.twitter_consumer_secret, s.x_access_token, s.x_access_token_secret = KEY, SECRET, \
            TOKEN, TOKEN_SECRET
        s.x_api_url = url
        yield calls
    notify.cancel_retries()


@pytest.fixture
def graph(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_graph(calls)) as url:
        s = app.state.settings
        s.meta_page_access_token, s.meta_graph_url = PAGE_TOKEN, url
        yield calls
    notify.cancel_retries()


def deliver(app) -> None:  # type: ignore[no-untyped-def]
    """A delivery pass as the server runs it (waits for one a background task may have started)."""
    notify.deliver_queued(engine=app.state.engine, settings=app.state.settings, schedule_retries=False)


# ---------------------------------------------------------------- inbound payloads


def x_post(client, delivery: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """POST an Account Activity delivery signed as X signs it; the first filed event's answer."""
    raw = json.dumps(delivery).encode()
    sig = "sha256=" + base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    answer = client.post("/channels/twitter", content=raw, headers={"content-type": "application/json",
                                                                     "x-twitter-webhooks-signature": sig})
    assert answer.status_code in (200, 201), answer.text
    body = answer.json()
    return body["events"][0] if "events" in body else body


def x_dm(event_id: str, text: str, sender: str = RESIDENT_ID) -> dict[str, Any]:
    """A DM from ``sender`` (another resident than aa_dm's gets their own screen name, not ours)."""
    delivery = aa_dm(event_id, text, sender=sender)
    if sender != RESIDENT_ID:
        delivery["users"][sender].update(screen_name=f"resident_{sender[-4:]}", name="Other Resident")
    return delivery


def x_tap(event_id: str, label: str, metadata: str, sender: str = RESIDENT_ID) -> dict[str, Any]:
    """The DM X delivers when the customer taps a quick reply option: its label as text, our metadata back."""
    delivery = x_dm(event_id, label, sender=sender)
    delivery["direct_message_events"][0]["message_create"]["message_data"]["quick_reply_response"] = {
        "type": "options", "metadata": metadata}
    return delivery


def messenger(mid: str, text: str, payload: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if payload is not None:
        message["quick_reply"] = {"payload": payload}
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000), "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": PAGE_ID}, "timestamp": int(time.time() * 1000),
         "message": message}]}]}


def _x_offer(x_api: Calls) -> list[dict[str, Any]]:
    """The quick reply options of the last DM sent with them (asserting the documented request shape)."""
    sent = [r for r in x_api.requests if r["path"] == "/1.1/direct_messages/events/new.json"]
    assert sent, x_api.requests
    event = sent[-1]["body"]["event"]
    assert event["type"] == "message_create"
    create = event["message_create"]
    assert create["target"] == {"recipient_id": RESIDENT_ID} or create["target"]["recipient_id"].isdigit()
    data = create["message_data"]
    assert "Reply 1 for" in data["text"] or "reply with just the number" in data["text"]  # typing works too
    assert data["quick_reply"]["type"] == "options"
    options = data["quick_reply"]["options"]
    assert 2 <= len(options) <= 3
    for o in options:
        assert set(o) == {"label", "metadata"} and LABEL.match(o["label"]), o
        assert o["metadata"].startswith("gcappt.") and len(o["metadata"]) <= 1000
    return options


# ---------------------------------------------------------------- X DMs


def test_x_dm_offer_carries_quick_replies_and_a_tap_books_it(app, client, day, sweep, x_api):
    answer = x_post(client, aa_dm("1867233999999991001", NO_WATER_2))
    assert answer["job_id"], answer
    assert sweep()["offered"] == 1
    deliver(app)
    options = _x_offer(x_api)
    appt = appointment_of(app, answer["job_id"])
    assert [o["label"].split(":")[0] for o in options] == [str(o["n"]) for o in appt.options]
    offer = outbound(app, answer["conversation_id"], "appointment_offer")
    assert len(offer) == 1 and offer[0].delivery_status == "sent"  # X accepted the DM event
    assert [q["payload"] for q in offer[0].meta["quick_replies"]] == [o["metadata"] for o in options]

    reply = x_post(client, x_tap("1867233999999991002", options[1]["label"], options[1]["metadata"]))
    _booked(app, client, answer, reply, 2)


def test_forged_stale_and_other_customers_x_payloads_get_the_reask_and_book_nothing(app, client, day, sweep, x_api,
                                                                                    auth):
    mine = x_post(client, aa_dm("1867233999999992001", NO_WATER_2))
    theirs = x_post(client, x_dm("1867233999999992002", NO_WATER, sender=OTHER_RESIDENT_ID))
    assert mine["job_id"] and theirs["job_id"] and mine["job_id"] != theirs["job_id"]
    assert sweep()["offered"] == 2
    deliver(app)
    _x_offer(x_api)  # the documented shape (both offers went as DM events with quick replies)
    my_appt = appointment_of(app, mine["job_id"])
    their_appt = appointment_of(app, theirs["job_id"])
    assert my_appt.id != their_appt.id
    stored = outbound(app, mine["conversation_id"], "appointment_offer")[0]
    mine_first = [{"label": q["label"], "metadata": q["payload"]} for q in stored.meta["quick_replies"]]
    assert {service.check_choice(app.state.settings, o["metadata"]).appointment_id for o in mine_first} == \
        {my_appt.id}

    def asks(conversation_id: int) -> int:
        return len(outbound(app, conversation_id, "appointment_reask"))

    # Forged: a well-formed payload for my offer and round, signed with another key.
    other_key = SimpleNamespace(resolved_secret_key="z" * 40, appointment_link_hours=72.0)
    forged = service.choice_token(other_key, my_appt.id, my_appt.offer_round, 1)  # type: ignore[arg-type]
    x_post(client, x_tap("1867233999999992003", mine_first[0]["label"], forged))
    # Mangled: my own payload with its option number changed (the signature no longer matches).
    parts = mine_first[0]["metadata"].split(".")
    parts[3] = "2"
    x_post(client, x_tap("1867233999999992004", mine_first[0]["label"], ".".join(parts)))
    assert asks(mine["conversation_id"]) == 2
    assert appointment_of(app, mine["job_id"]).status == AppointmentStatus.offered

    # Stale: the dispatcher sends new windows (round 2); a button of round 1 no longer books.
    resent = client.post(f"/appointments/jobs/{mine['job_id']}/offers", headers=day["dispatcher"],
                         json={"send": True})
    assert resent.status_code == 200, resent.text
    assert appointment_of(app, mine["job_id"]).offer_round == 2
    x_post(client, x_tap("1867233999999992005", mine_first[0]["label"], mine_first[0]["metadata"]))
    assert asks(mine["conversation_id"]) == 3
    deliver(app)
    reask = [r for r in x_api.requests if r["path"] == "/1.1/direct_messages/events/new.json"][-1]["body"]
    assert reask["event"]["message_create"]["message_data"]["text"].startswith(
        "Sorry, we did not understand")  # the re-ask carries the buttons of the open round again
    second_round = _x_offer(x_api)
    assert all(service.check_choice(app.state.settings, o["metadata"]).offer_round == 2 for o in second_round)

    # Someone else's valid, current payload: the other customer re-asked, neither offer booked.
    x_post(client, x_tap("1867233999999992006", second_round[0]["label"], second_round[0]["metadata"],
                         sender=OTHER_RESIDENT_ID))
    assert asks(theirs["conversation_id"]) == 1
    for job_id in (mine["job_id"], theirs["job_id"]):
        assert appointment_of(app, job_id).status == AppointmentStatus.offered
        assert _job(app, job_id).time_windows == []
    assert appointment_of(app, theirs["job_id"]).invalid_replies == 1
    assert [h["event"] for h in appointment_of(app, mine["job_id"]).history].count("invalid quick reply") == 3

    # My own current button books; tapping it again later changes nothing and is no new complaint.
    reply = x_post(client, x_tap("1867233999999992007", second_round[1]["label"], second_round[1]["metadata"]))
    _booked(app, client, mine, reply, 2)
    again = x_post(client, x_tap("1867233999999992008", second_round[0]["label"], second_round[0]["metadata"]))
    assert again["case_id"] == mine["case_id"]
    booked = appointment_of(app, mine["job_id"])
    assert booked.status == AppointmentStatus.booked
    assert (booked.window_start, booked.window_end) == (datetime.fromisoformat(booked.options[1]["start"]),
                                                        datetime.fromisoformat(booked.options[1]["end"]))


def test_x_dm_with_a_bearer_token_only_sends_the_text_and_typing_still_books(app, client, day, sweep, x_api):
    """v1.1 DM events take OAuth 1.0a only: with an OAuth 2.0 user token the offer goes as v2 text (which says how to
    answer), and the typed number books as before."""
    s = app.state.settings
    s.x_consumer_key, s.x_bearer_token = None, "oauth2-user-token"
    answer = x_post(client, aa_dm("1867233999999993001", NO_WATER_2))
    assert sweep()["offered"] == 1
    deliver(app)
    assert not [r for r in x_api.requests if r["path"].startswith("/1.1/")]
    texts = [r["body"]["text"] for r in x_api.requests if r["path"].startswith("/2/dm_conversations/")]
    assert any("Reply 1 for" in t for t in texts), texts
    reply = x_post(client, aa_dm("1867233999999993002", "2"))
    _booked(app, client, answer, reply, 2)


def test_x_dm_where_the_app_may_not_use_v1_falls_back_to_v2_text(app, client, day, sweep, x_api):
    """X answers 403 (error 453, https://docs.x.com/x-api/fundamentals/response-codes-and-errors) when the app's
    access level has no v1.1 DM events: the offer goes out once as v2 text, and the typed number books."""
    answer = x_post(client, aa_dm("1867233999999995001", NO_WATER_2))
    x_api.fail_with.append(403)
    assert sweep()["offered"] == 1
    deliver(app)
    tried = [r for r in x_api.requests if r["path"].startswith("/1.1/")]
    texts = [r["body"]["text"] for r in x_api.requests if r["path"].startswith("/2/dm_conversations/")]
    assert len(tried) == 1 and sum("Reply 1 for" in t for t in texts) == 1, x_api.requests
    assert outbound(app, answer["conversation_id"], "appointment_offer")[0].delivery_status == "sent"
    _booked(app, client, answer, x_post(client, aa_dm("1867233999999995002", "1")), 1)


def test_a_tap_that_arrives_as_its_label_only_books_that_option(app, client, day, sweep, x_api):
    """X's legacy DM formats deliver a tapped option's label text without its metadata: the exact label of an open
    option is as good as its number; any other text is not."""
    answer = x_post(client, aa_dm("1867233999999994001", NO_WATER_2))
    assert sweep()["offered"] == 1
    labels = [q["label"] for q in outbound(app, answer["conversation_id"], "appointment_offer")[0]
              .meta["quick_replies"]]
    x_post(client, aa_dm("1867233999999994002", labels[1].replace(":", "")))  # not a label of ours
    assert len(outbound(app, answer["conversation_id"], "appointment_reask")) == 1
    reply = x_post(client, aa_dm("1867233999999994003", labels[1]))
    _booked(app, client, answer, reply, 2)


# ---------------------------------------------------------------- Messenger


def test_messenger_offer_carries_quick_replies_and_a_tap_books_it(app, client, day, sweep, graph):
    answer = client.post("/channels/facebook", json=messenger("m_qr_1", NO_WATER)).json()
    assert answer["job_id"] and answer["category"] == "no_water", answer
    assert sweep()["offered"] == 1
    deliver(app)
    offers = [r for r in graph.requests if "quick_replies" in r["body"].get("message", {})]
    assert len(offers) == 1, graph.requests
    body = offers[0]["body"]
    assert body["recipient"] == {"id": PSID} and body["messaging_type"] == "RESPONSE"
    assert "Reply 1 for" in body["message"]["text"]
    replies = body["message"]["quick_replies"]
    assert 2 <= len(replies) <= 3
    for r in replies:
        assert set(r) == {"content_type", "title", "payload"} and r["content_type"] == "text"
        assert LABEL.match(r["title"]) and len(r["title"]) <= 20 and r["payload"].startswith("gcappt.")
    offer = outbound(app, answer["conversation_id"], "appointment_offer")
    assert offer[0].delivery_status == "sent"

    # A forged payload (right shape, wrong signature) is re-asked; the real button books.
    forged = replies[0]["payload"][:-4] + ("AAAA" if not replies[0]["payload"].endswith("AAAA") else "BBBB")
    client.post("/channels/facebook", json=messenger("m_qr_2", replies[0]["title"], forged))
    assert len(outbound(app, answer["conversation_id"], "appointment_reask")) == 1
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.offered
    reply = client.post("/channels/facebook", json=messenger("m_qr_3", replies[0]["title"],
                                                              replies[0]["payload"])).json()
    _booked(app, client, answer, reply, 1)


# ---------------------------------------------------------------- email links


def _links(text: str) -> list[tuple[str, str]]:
    """("Tue 10:00–12:00", "/appointments/choose/<token>") per "Book ...: <link>" line of an email offer."""
    return re.findall(r"^Book (\w{3} \d\d:\d\d–\d\d:\d\d): https://groundcrew\.example(/appointments/choose/\S+)$",
                      text, re.MULTILINE)


def test_email_offer_links_show_a_page_on_get_and_book_on_post(app, client, day, sweep):
    headers = {"content-type": "message/rfc822"}
    answer = client.post("/channels/email", headers=headers, content=email("q1@example.org", NO_WATER,
                                                                           subject="No water")).json()
    assert answer["job_id"], answer
    assert sweep()["offered"] == 1
    offer = outbound(app, answer["conversation_id"], "appointment_offer")
    assert len(offer) == 1 and "Reply 1 for" in offer[0].text  # a typed reply still works
    assert "quick_replies" not in offer[0].meta  # email gets links, not buttons
    appt = appointment_of(app, answer["job_id"])
    links = _links(offer[0].text)
    assert len(links) == len(appt.options), offer[0].text

    # GET (a mail scanner, or the customer opening it): a confirmation page, nothing booked, however often.
    for _ in range(2):
        page = client.get(links[1][1])
        assert page.status_code == 200 and "Book this arrival window?" in page.text
        assert f'<form method="post" action="{links[1][1]}">' in page.text
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.offered
    assert _job(app, answer["job_id"]).time_windows == []

    # POST from the page books that option and lands on the customer's own page.
    booked = client.post(links[1][1], follow_redirects=False)
    assert booked.status_code == 303 and booked.headers["location"].startswith("/appointments/self/")
    _booked(app, client, answer, answer, 2)
    page = client.get(booked.headers["location"])
    assert page.status_code == 200 and links[1][0].split()[1].split("–")[0] in page.text

    # The offer is answered: every link of it (this one again, another option) is no longer open.
    for path in (links[1][1], links[0][1]):
        assert client.get(path).status_code == 409
        again = client.post(path, follow_redirects=False)
        assert again.status_code == 409 and "no longer open" in again.text
    assert [h["event"] for h in appointment_of(app, answer["job_id"]).history].count("booked") == 1


def test_email_links_forged_or_stale_book_nothing(app, client, day, sweep):
    headers = {"content-type": "message/rfc822"}
    answer = client.post("/channels/email", headers=headers, content=email("q2@example.org", NO_WATER,
                                                                           subject="No water")).json()
    assert sweep()["offered"] == 1
    first = _links(outbound(app, answer["conversation_id"], "appointment_offer")[0].text)
    token = first[0][1].rsplit("/", 1)[1]
    parts = token.split(".")
    mangled = ".".join([*parts[:3], "2", *parts[4:]])  # option number changed: the signature no longer matches
    for bad in (f"/appointments/choose/{mangled}", "/appointments/choose/gcappt.1.1.1.9999999999.forged",
                "/appointments/choose/<script>alert(1)</script>"):
        assert client.get(bad).status_code == 404
        posted = client.post(bad, follow_redirects=False)
        assert posted.status_code == 404 and "<script>" not in posted.text
    expired = service.choice_token(app.state.settings, appointment_of(app, answer["job_id"]).id, 1, 1,
                                   now=datetime(2020, 1, 1, tzinfo=UTC))
    assert client.post(f"/appointments/choose/{expired}", follow_redirects=False).status_code == 410
    # A new round (the dispatcher re-sent the windows): round 1's links are stale.
    assert client.post(f"/appointments/jobs/{answer['job_id']}/offers", headers=day["dispatcher"],
                       json={"send": True}).status_code == 200
    stale = client.post(first[0][1], follow_redirects=False)
    assert stale.status_code == 409 and "/appointments/self/" in stale.text
    appt = appointment_of(app, answer["job_id"])
    assert appt.status == AppointmentStatus.offered and appt.offer_round == 2
    assert _job(app, answer["job_id"]).time_windows == []
    fresh = _links(outbound(app, answer["conversation_id"], "appointment_offer")[-1].text)
    assert client.post(fresh[0][1], follow_redirects=False).status_code == 303
    assert appointment_of(app, answer["job_id"]).status == AppointmentStatus.booked


def test_choice_links_are_rate_limited(app, client, settings):
    from fastapi.testclient import TestClient

    from server.app import create_app

    limited = create_app(settings.model_copy(update={"appointment_page_rate_limit": "3/minute"}))
    with TestClient(limited) as browser:
        answers = [browser.get("/appointments/choose/gcappt.1.1.1.9999999999.forged") for _ in range(3)]
        answers.append(browser.post("/appointments/choose/gcappt.1.1.1.9999999999.forged"))
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    limited.state.engine.dispose()


def test_a_choice_token_names_one_option_of_one_round(settings):
    token = service.choice_token(settings, 41, 3, 2)
    assert service.check_choice(settings, token) == service.Choice(41, 3, 2)
    assert len(token) < 80  # well inside X's 1,000-character metadata and Meta's 1,000-character payload
    for bad in (token.replace(".3.", ".4."), token[:-1], "gcappt.41.3.2", token.replace("gcappt", "other")):
        with pytest.raises(service.DomainError):
            service.check_choice(settings, bad)
    assert service.link_token(settings, 41).count(".") == 2  # a self-service link is no choice, and back
    with pytest.raises(service.DomainError):
        service.check_choice(settings, service.link_token(settings, 41))
    with pytest.raises(service.DomainError):
        service.check_token(settings, token)


def test_the_webhook_relay_receives_the_answer_buttons(app):
    """A channel with no provider of ours goes through the deployment's relay: the buttons travel in its JSON
    (``quick_replies``: label, payload, description), for a relay whose channel can show them."""
    from server.conversations import service as conversations
    from server.conversations.models import InboundMessage

    calls = Calls()
    relay = FastAPI()

    @relay.post("/relay")
    async def receive(request: Request) -> JSONResponse:
        calls.requests.append(await request.json())
        return JSONResponse({"id": "relay-1"})

    with serve(relay) as url:
        app.state.settings.outbound_webhook_url = f"{url}/relay"
        with Session(app.state.engine) as session:
            thread = conversations.ingest(session=session, inbound=InboundMessage(
                channel="webform", external_id="form-qr-1", author_handle="eve@example.org", text="no water"))
            buttons = [{"label": "1: Tue 10:00–12:00", "payload": "gcappt.1.1.1.9.x"}]
            notify.send_to_customer(session=session, conversation_id=thread.message.conversation_id,
                                    text="Reply 1 for Tue 10:00–12:00", kind="appointment_offer",
                                    quick_replies=buttons)
            session.commit()
        deliver(app)
    assert calls.requests and calls.requests[-1]["quick_replies"] == [
        {"label": "1: Tue 10:00–12:00", "payload": "gcappt.1.1.1.9.x", "description": ""}]
    assert calls.requests[-1]["text"] == "Reply 1 for Tue 10:00–12:00"
