"""Facebook replies through a loopback fake of Meta's Graph API: Messenger Send API inside and outside the
24-hour window, and public replies to Page comments.

Docs the fake follows:
- Send API: https://developers.facebook.com/docs/messenger-platform/reference/send-api/ (POST /me/messages,
  access_token query parameter, JSON recipient.id / messaging_type / message.text; answer recipient_id,
  message_id) and the window / tags: https://developers.facebook.com/docs/messenger-platform/policy/policy-overview
  and https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/ (code 10, subcode
  2018278 outside the window).
- Comments: https://developers.facebook.com/docs/graph-api/reference/object/comments/ (POST /{object-id}/comments
  with message; answer {"id": ...}).
- appsecret_proof: https://developers.facebook.com/docs/graph-api/securing-requests/
- Errors: https://developers.facebook.com/docs/graph-api/guides/error-handling/ (error.message/type/code/
  error_subcode/is_transient/fbtrace_id).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server.conversations.models import Visibility
from server.core.timeutil import utcnow
from tests.server.notify.conftest import Calls, run_pass, serve, stored

TOKEN, APP_SECRET, PSID = "EAAG-page-token", "meta-app-secret", "6543210987654321"


def _graph_error(status: int, message: str, code: int, subcode: int | None = None,
                 transient: bool = False) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": code,
                                   "error_subcode": subcode, "is_transient": transient,
                                   "fbtrace_id": "AbCdEf"}}, status)


def fake_graph(calls: Calls) -> FastAPI:
    app = FastAPI()

    def authorized(request: Request) -> bool:
        proof = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
        return (request.query_params.get("access_token") == TOKEN
                and request.query_params.get("appsecret_proof") == proof)

    @app.post("/v21.0/me/messages")
    async def send(request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return _graph_error(400, "Invalid OAuth access token.", 190)
        failure = calls.next_failure()
        if failure:
            return _graph_error(failure, "An unexpected error has occurred. Please retry your request later.", 2,
                                transient=True)
        if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG") or \
                (body["messaging_type"] == "MESSAGE_TAG") != bool(body.get("tag")):
            return _graph_error(400, "(#100) Invalid messaging_type", 100)
        if not body.get("recipient", {}).get("id") or not body.get("message", {}).get("text"):
            return _graph_error(400, "(#100) The parameter recipient is required", 100)
        return JSONResponse({"recipient_id": body["recipient"]["id"], "message_id": "m_" + uuid.uuid4().hex})

    @app.post("/v21.0/{object_id}/comments")
    async def comment(object_id: str, request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return _graph_error(400, "Invalid OAuth access token.", 190)
        if not body.get("message"):
            return _graph_error(400, "(#100) message is required", 100)
        return JSONResponse({"id": f"{object_id.split('_')[0]}_{uuid.uuid4().int % 10**15}"})

    return app


@pytest.fixture
def graph(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_graph(calls)) as url:
        s = app.state.settings
        s.meta_page_access_token, s.facebook_app_secret, s.meta_graph_url = TOKEN, APP_SECRET, f"{url}/v21.0"
        s.notify_retry_base_s = 0.0
        yield calls


def _messenger_thread(thread_with, hours_ago: float) -> int:  # type: ignore[no-untyped-def]
    conversation_id, _ = thread_with(channel="facebook", external_id="m_" + uuid.uuid4().hex, author_handle=PSID,
                                     text="Water main burst on Elm St", visibility="private",
                                     sent_at=utcnow() - timedelta(hours=hours_ago), thread_id=f"t_{uuid.uuid4().hex}")
    return conversation_id


def test_messenger_reply_inside_the_window_is_a_response(app, graph, thread_with, queue_reply):
    message_id = queue_reply(_messenger_thread(thread_with, 2), "A crew is on the way.")
    run_pass(app)
    assert graph.requests == [{"path": "/v21.0/me/messages", "body": {
        "recipient": {"id": PSID}, "message": {"text": "A crew is on the way."}, "messaging_type": "RESPONSE"}}]
    message = stored(app, message_id)
    assert message.delivery_status == "sent" and message.meta["provider_id"].startswith("m_")


def test_outside_the_window_nothing_is_sent_unless_a_tag_is_allowed(app, graph, thread_with, queue_reply):
    late = queue_reply(_messenger_thread(thread_with, 30), "Your job is done.")
    run_pass(app)
    message = stored(app, late)
    assert message.delivery_status == "failed" and "outside Messenger's 24-hour window" in message.meta["detail"]
    assert graph.requests == []

    app.state.settings.meta_message_tag = "ACCOUNT_UPDATE"
    tagged = queue_reply(_messenger_thread(thread_with, 30), "Your job is done.")
    run_pass(app)
    assert stored(app, tagged).delivery_status == "sent"
    assert graph.requests[0]["body"]["messaging_type"] == "MESSAGE_TAG"
    assert graph.requests[0]["body"]["tag"] == "ACCOUNT_UPDATE"


def test_public_reply_goes_under_the_customers_comment(app, graph, thread_with, queue_reply):
    conversation_id, _ = thread_with(channel="facebook", external_id="111_222", author_handle=PSID,
                                     text="Pothole outside the school", visibility="public", thread_id="999_111")
    message_id = queue_reply(conversation_id, "Thanks, we've logged it.", visibility=Visibility.public)
    run_pass(app)
    assert graph.requests == [{"path": "/v21.0/111_222/comments", "body": {"message": "Thanks, we've logged it."}}]
    assert stored(app, message_id).delivery_status == "sent"


def test_transient_graph_error_is_retried_and_a_bad_token_is_not(app, graph, thread_with, queue_reply):
    graph.fail_with = [500]
    message_id = queue_reply(_messenger_thread(thread_with, 1), "Update: crew arriving 3 pm.")
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "queued" and "code 2/" in message.meta["detail"]
    run_pass(app)
    assert stored(app, message_id).delivery_status == "sent" and len(graph.requests) == 2

    app.state.settings.meta_page_access_token = "expired-token"
    refused = queue_reply(_messenger_thread(thread_with, 1), "Another update.")
    run_pass(app)
    message = stored(app, refused)
    assert message.delivery_status == "failed" and "Invalid OAuth access token" in message.meta["detail"]
    assert message.meta["attempts"] == 1


def test_messenger_delivery_receipt_marks_our_reply_delivered(app, client, graph, thread_with, queue_reply):
    """Meta's message_deliveries webhook (shape: https://developers.facebook.com/docs/messenger-platform/reference/
    webhook-events/message-deliveries) names the mids the Send API gave our messages: those become delivered, the
    notification is answered 200 and kept; a mid that is not ours changes nothing."""
    import json

    message_id = queue_reply(_messenger_thread(thread_with, 1), "A crew is on the way.")
    other = queue_reply(_messenger_thread(thread_with, 1), "Another reply.")
    run_pass(app)
    mid = stored(app, message_id).meta["provider_id"]
    body = json.dumps({"object": "page", "entry": [{"id": "682498302938465", "time": 1458668856451, "messaging": [
        {"sender": {"id": PSID}, "recipient": {"id": "682498302938465"},
         "delivery": {"mids": [mid, "m_not-one-of-ours"], "watermark": 1458668856253}}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = client.post("/channels/facebook", content=body, headers={"content-type": "application/json",
                                                                      "X-Hub-Signature-256": signature})
    assert answer.status_code == 200 and answer.json()["delivered"] == 1, answer.text
    delivered = stored(app, message_id)
    assert delivered.delivery_status == "delivered" and delivered.meta["detail"] == "Meta reports delivered"
    assert stored(app, other).delivery_status == "sent"
