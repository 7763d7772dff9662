"""X replies and DMs through a loopback fake of X API v2 that checks the OAuth 1.0a signature as X does.

Docs the fake follows:
- Create Post: https://docs.x.com/x-api/posts/create-post (POST /2/tweets, JSON text and
  reply.in_reply_to_tweet_id; 201 {"data": {"id", "text"}}).
- Send a DM by participant: https://docs.x.com/x-api/direct-messages/create-dm-message-by-participant-id
  (POST /2/dm_conversations/with/{participant_id}/messages, participant_id numeric; 201 {"data":
  {"dm_conversation_id", "dm_event_id"}}).
- OAuth 1.0a user context: https://docs.x.com/resources/fundamentals/authentication/oauth-1-0a/authorizing-a-request
  and RFC 5849 §3.4 (HMAC-SHA1 over method, URL and oauth_* parameters; a JSON body is not signed).
- Errors: https://docs.x.com/x-api/fundamentals/response-codes-and-errors (problem JSON title/detail/type/status).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from oauthlib.oauth1.rfc5849 import signature

from tests.server.notify.conftest import Calls, run_pass, serve, stored

KEY, SECRET, TOKEN, TOKEN_SECRET = "x-consumer-key", "x-consumer-secret", "123-brand-token", "brand-token-secret"
BEARER = "oauth2-user-token"


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"title": title, "detail": detail, "type": "about:blank", "status": status}, status)


def fake_x(calls: Calls) -> FastAPI:
    app = FastAPI()

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header == f"Bearer {BEARER}":
            return True
        if not header.startswith("OAuth "):
            return False
        params = signature.collect_parameters(headers={"Authorization": header}, exclude_oauth_signature=False)
        given = dict(params)
        signed = SimpleNamespace(
            http_method=request.method, uri=str(request.url), signature=unquote(given.get("oauth_signature", "")),
            params=[(k, v) for k, v in params if k != "oauth_signature"])
        return (given.get("oauth_consumer_key") == KEY and given.get("oauth_token") == TOKEN
                and given.get("oauth_signature_method") == "HMAC-SHA1"
                and signature.verify_hmac_sha1(signed, SECRET, TOKEN_SECRET))

    @app.post("/2/tweets")
    async def tweet(request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return _problem(401, "Unauthorized", "Unauthorized")
        failure = calls.next_failure()
        if failure:
            return _problem(failure, "Service Unavailable", "Service Unavailable")
        if len(body.get("text", "")) > 280:
            return _problem(403, "Forbidden", "Your Tweet text is too long.")
        return JSONResponse({"data": {"id": str(uuid.uuid4().int % 10**19), "text": body["text"],
                                      "edit_history_tweet_ids": []}}, 201)

    @app.post("/2/dm_conversations/with/{participant_id}/messages")
    async def dm(participant_id: str, request: Request) -> JSONResponse:
        body = await request.json()
        calls.requests.append({"path": request.url.path, "body": body})
        if not authorized(request):
            return _problem(401, "Unauthorized", "Unauthorized")
        if body.get("text") == "slow":  # answers after our timeout: it may or may not have gone out
            await asyncio.sleep(2)
        if not participant_id.isdigit():
            return _problem(400, "Invalid Request", f"The `participant_id` query parameter value "
                                                    f"[{participant_id}] is not valid")
        return JSONResponse({"data": {"dm_conversation_id": f"{participant_id}-123",
                                      "dm_event_id": str(uuid.uuid4().int % 10**19)}}, 201)

    return app


@pytest.fixture
def x_api(app) -> Iterator[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    with serve(fake_x(calls)) as url:
        s = app.state.settings
        s.x_consumer_key, s.twitter_consumer_secret, s.x_access_token, s.x_access_token_secret = KEY, SECRET, TOKEN, \
            TOKEN_SECRET
        s.x_api_url, s.notify_retry_base_s = url, 0.0
        yield calls


def test_public_reply_threads_under_the_customers_latest_tweet(app, x_api, thread_with, queue_reply):
    from server.conversations.models import Visibility

    conversation_id, _ = thread_with(channel="twitter", external_id="1850000000000000001", author_handle="bo",
                                     text="@groundcrew streetlight out on Fleet St", visibility="public",
                                     thread_id="1850000000000000001", meta={"x_user_id": "2244994945"})
    thread_with(channel="twitter", external_id="1850000000000000002", author_handle="bo", text="still out",
                visibility="public", thread_id="1850000000000000001", reply_to_external_id="1850000000000000001")
    message_id = queue_reply(conversation_id, "Thanks Bo, a crew is on the way.", visibility=Visibility.public)
    run_pass(app)
    assert x_api.requests == [{"path": "/2/tweets", "body": {
        "text": "Thanks Bo, a crew is on the way.", "reply": {"in_reply_to_tweet_id": "1850000000000000002"}}}]
    message = stored(app, message_id)
    assert message.delivery_status == "sent" and message.meta["provider_id"].isdigit()


def test_dm_goes_to_the_numeric_id_never_the_username(app, x_api, thread_with, queue_reply):
    conversation_id, _ = thread_with(channel="twitter", external_id="dm-" + uuid.uuid4().hex, author_handle="bo",
                                     text="my street has no water", visibility="private",
                                     meta={"x_user_id": "2244994945"})
    message_id = queue_reply(conversation_id, "Sorry Bo, crews are fixing the main.")
    run_pass(app)
    assert x_api.requests[-1] == {"path": "/2/dm_conversations/with/2244994945/messages",
                                  "body": {"text": "Sorry Bo, crews are fixing the main."}}
    assert stored(app, message_id).delivery_status == "sent"

    unknown, _ = thread_with(channel="twitter", external_id="dm-" + uuid.uuid4().hex, author_handle="cy",
                             text="gas smell", visibility="private")
    failed = queue_reply(unknown, "We are on it.")
    before = len(x_api.requests)
    run_pass(app)
    message = stored(app, failed)
    assert message.delivery_status == "failed" and "numeric X user id is unknown" in message.meta["detail"]
    assert len(x_api.requests) == before


def test_bearer_user_token_and_bad_credentials(app, x_api, thread_with, queue_reply):
    s = app.state.settings
    s.x_consumer_key = None
    s.x_bearer_token = BEARER
    conversation_id, _ = thread_with(channel="twitter", external_id="dm-" + uuid.uuid4().hex, author_handle="bo",
                                     text="hello", visibility="private", meta={"x_user_id": "42"})
    assert stored(app, queue_reply(conversation_id, "Hi")).id and run_pass(app) == 1
    assert x_api.requests[-1]["path"] == "/2/dm_conversations/with/42/messages"

    s.x_bearer_token = "revoked"
    message_id = queue_reply(conversation_id, "Hi again")
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "failed" and "HTTP 401" in message.meta["detail"]


def test_forged_oauth_signature_is_refused_by_the_fake(app, x_api, thread_with, queue_reply):
    """The fake really checks the signature: a wrong consumer secret is refused (so the passes above mean our
    signing is right)."""
    app.state.settings.twitter_consumer_secret = "wrong-secret"
    conversation_id, _ = thread_with(channel="twitter", external_id="dm-" + uuid.uuid4().hex, author_handle="bo",
                                     text="hello", visibility="private", meta={"x_user_id": "42"})
    message_id = queue_reply(conversation_id, "Hi")
    run_pass(app)
    assert stored(app, message_id).delivery_status == "failed"


def test_no_answer_after_sending_is_not_retried_so_it_never_goes_out_twice(app, x_api, thread_with, queue_reply):
    app.state.settings.notify_timeout_s = 0.3
    conversation_id, _ = thread_with(channel="twitter", external_id="dm-" + uuid.uuid4().hex, author_handle="bo",
                                     text="hello", visibility="private", meta={"x_user_id": "42"})
    message_id = queue_reply(conversation_id, "slow")
    run_pass(app)
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "failed" and "not retried, as it may have gone out" in message.meta["detail"]
    assert message.meta["unconfirmed"] is True
    assert len(x_api.requests) == 1
