"""The public intake surface (issue 25): each provider channel × no secret (503) / wrong signature (401) / right
signature (stored) / replay (nothing twice); the insecure demo switch and its warning; per-IP rate limits (429 with
Retry-After); a form's "account_verified" proves nothing; hostile JSON nesting is a 4xx; NUL and XML-illegal
control characters are stripped on both databases; Open311 access notes stay out of the public feed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.config import Settings
from server.conversations.models import Message
from tests.server.intake.helpers import counts, email, fb_comment, sms, tweet

SECRETS = {"twitter_consumer_secret": "x-consumer-secret", "facebook_app_secret": "fb-app-secret",
           "twilio_auth_token": "twilio-token", "email_webhook_secret": "mail-relay-secret"}
PUBLIC_URL = "https://crew.example.org"


@contextmanager
def _make(database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[tuple[TestClient, Any]]:
    """A test client and its app with these settings on a fresh database."""
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="wh-secret-" + "z" * 32,
                        load_city=False, dispatch_background=False, dispatch_morning_at=None,
                        channel_public_url=PUBLIC_URL, **overrides)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app
    app.state.engine.dispose()


@pytest.fixture
def bare(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    """The default configuration: no channel secret, insecure_channels off."""
    with _make(database_url, tmp_path) as pair:
        yield pair


@pytest.fixture
def signed(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    """Every channel secret set (rate limits off: the matrix posts many times from one address)."""
    with _make(database_url, tmp_path, webhook_rate_limit="", webform_rate_limit="", **SECRETS) as pair:
        yield pair


# ------------------------------------------------------------------------------------------- signing
def _twitter(body: bytes, secret: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"content-type": "application/json", "x-twitter-webhooks-signature": "sha256=" + digest}


def _facebook(body: bytes, secret: str) -> dict[str, str]:
    return {"content-type": "application/json",
            "x-hub-signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def _email(body: bytes, secret: str) -> dict[str, str]:
    return {"content-type": "message/rfc822",
            "x-groundcrew-signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def _sms(body: bytes, secret: str) -> dict[str, str]:
    form = sorted((k, v) for k, v in (p.split("=", 1) for p in body.decode().split("&")))
    from urllib.parse import unquote_plus

    signed = PUBLIC_URL + "/channels/sms" + "".join(unquote_plus(k) + unquote_plus(v) for k, v in form)
    digest = base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    # JSON summary asked for explicitly: the matrix compares results (Twilio's own Accept */* gets TwiML, see
    # tests/server/intake/test_channels_twilio.py).
    return {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": digest,
            "accept": "application/json"}


Channel = tuple[str, str, Callable[[str], bytes], Callable[[bytes, str], dict[str, str]], str]
CHANNELS: list[Channel] = [
    ("twitter", "twitter_consumer_secret",
     lambda i: json.dumps(tweet(f"90{i}", f"@groundcrew streetlight out, report {i}")).encode(), _twitter,
     "GROUNDCREW_TWITTER_CONSUMER_SECRET"),
    ("facebook", "facebook_app_secret",
     lambda i: json.dumps(fb_comment(f"c-9{i}", f"Pothole on our street, report {i}")).encode(), _facebook,
     "GROUNDCREW_FACEBOOK_APP_SECRET"),
    ("sms", "twilio_auth_token", lambda i: urlencode(sms(f"SM9{i}", f"Water leaking, report {i}")).encode(), _sms,
     "GROUNDCREW_TWILIO_AUTH_TOKEN"),
    ("email", "email_webhook_secret", lambda i: email(f"m9{i}@example.org", f"Trash missed, report {i}"), _email,
     "GROUNDCREW_EMAIL_WEBHOOK_SECRET"),
]
IDS = [c[0] for c in CHANNELS]
# A new message's status per channel: X and Meta count only 200 as delivered; our own email relay answers 201, and
# so does /channels/sms to the JSON summary asked for here (Twilio's own requests get TwiML with 200).
FILED = {"twitter": 200, "facebook": 200, "sms": 201, "email": 201}


def _inbound(app: Any) -> int:
    with Session(app.state.engine) as session:
        return len(session.exec(select(Message).where(Message.direction == "inbound")).all())


def _counts(app: Any) -> dict[str, int]:
    with Session(app.state.engine) as session:
        return counts(session)


@pytest.mark.parametrize("channel", CHANNELS, ids=IDS)
def test_channel_without_secret_refuses_deliveries(bare, channel: Channel) -> None:
    client, app = bare
    name, _, payload, sign, env = channel
    body = payload(1)
    response = client.post(f"/channels/{name}", content=body, headers=sign(body, "anything"))
    assert response.status_code == 503
    assert response.json()["detail"].startswith(f"channel not configured: set {env}")
    assert _counts(app)["message"] == 0


@pytest.mark.parametrize("channel", CHANNELS, ids=IDS)
def test_wrong_or_missing_signature_is_refused(signed, channel: Channel) -> None:
    client, app = signed
    name, _, payload, sign, _ = channel
    body = payload(2)
    wrong = client.post(f"/channels/{name}", content=body, headers=sign(body, "not-the-secret"))
    assert wrong.status_code == 401, wrong.text
    headers = {k: v for k, v in sign(body, "x").items() if k == "content-type"}
    missing = client.post(f"/channels/{name}", content=body, headers=headers)
    assert missing.status_code == 401, missing.text
    assert _counts(app)["message"] == 0


@pytest.mark.parametrize("channel", CHANNELS, ids=IDS)
def test_right_signature_is_stored_once_and_a_replay_acts_nowhere(signed, channel: Channel) -> None:
    client, app = signed
    name, setting, payload, sign, _ = channel
    body = payload(3)
    first = client.post(f"/channels/{name}", content=body, headers=sign(body, SECRETS[setting]))
    assert first.status_code == FILED[name], first.text
    before = _counts(app)
    with Session(app.state.engine) as session:
        outbound_before = len(session.exec(select(Message).where(Message.direction == "outbound")).all())
    replay = client.post(f"/channels/{name}", content=body, headers=sign(body, SECRETS[setting]))
    assert replay.status_code == 200, replay.text
    assert replay.json()["case_id"] == first.json()["case_id"] and replay.json()["created"] is False
    assert _counts(app) == before  # no second message, case or job
    with Session(app.state.engine) as session:  # and no second reply to the customer
        assert len(session.exec(select(Message).where(Message.direction == "outbound")).all()) == outbound_before


@pytest.mark.parametrize("channel", CHANNELS, ids=IDS)
def test_a_rotated_key_and_the_one_it_replaces_both_pass_until_the_old_is_removed(
        database_url: str, tmp_path: Path, channel: Channel) -> None:
    """Rotating a channel key used to refuse every delivery the provider signed with the old one between the two
    switches (one secret per channel). Now the replaced key is named in ``previous_channel_secrets``; any other key
    is still refused."""
    name, setting, payload, sign, env = channel
    env_name = env.removeprefix("GROUNDCREW_")
    rotating = {**SECRETS, setting: "the-new-key", "previous_channel_secrets": {env_name: SECRETS[setting]}}
    with _make(database_url, tmp_path, webhook_rate_limit="", **rotating) as (client, app):
        for i, key in enumerate(("the-new-key", SECRETS[setting]), start=40):
            body = payload(i)
            answer = client.post(f"/channels/{name}", content=body, headers=sign(body, key))
            assert answer.status_code == FILED[name], (key, answer.text)
        body = payload(42)
        assert client.post(f"/channels/{name}", content=body, headers=sign(body, "a-third-key")).status_code == 401
        app.state.settings.previous_channel_secrets = {}  # rotation finished: the old key no longer passes
        body = payload(43)
        assert client.post(f"/channels/{name}", content=body, headers=sign(body, SECRETS[setting])).status_code == 401
        assert _inbound(app) == 2


def test_email_relay_may_use_a_bearer_token(signed) -> None:
    client, _ = signed
    body = email("bearer@example.org", "Streetlight out on my corner")
    headers = {"content-type": "message/rfc822"}
    assert client.post("/channels/email", content=body, headers={
        **headers, "authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/channels/email", content=body, headers={
        **headers, "authorization": f"Bearer {SECRETS['email_webhook_secret']}"}).status_code == 201


def test_insecure_switch_accepts_unsigned_only_where_no_secret_is_set(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path, insecure_channels=True,
                              twilio_auth_token=SECRETS["twilio_auth_token"]) as (client, _app):
        body = json.dumps(tweet("7001", "@groundcrew streetlight out")).encode()
        assert client.post("/channels/twitter", content=body,
                           headers={"content-type": "application/json"}).json()["created"] is True
        unsigned_sms = client.post("/channels/sms", data=sms("SM7001", "Water leaking"))
        assert unsigned_sms.status_code == 401  # a channel whose secret is set is always checked
        warnings = app_warnings(client)
        assert any("INSECURE_CHANNELS" in w and "twitter" in w and "sms" not in w.split("accepted on")[1]
                   for w in warnings)


def app_warnings(client: TestClient) -> list[str]:
    """The operator warnings: /health's ``warnings`` list when the app serves it, else the settings' own."""
    health = client.get("/health").json()
    if "warnings" in health:
        return list(health["warnings"])
    return list(client.app.state.settings.warnings)  # type: ignore[attr-defined]


def test_the_default_configuration_warns_of_nothing(bare) -> None:
    assert app_warnings(bare[0]) == []


def test_webform_needs_no_secret(bare) -> None:
    client, _ = bare
    response = client.post("/channels/webform", json={"submission_id": "pub-1", "email": "pub@example.org",
                                                       "text": "Graffiti on the wall"})
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------------------------------- rate limits
def test_webform_rate_limit_is_per_client_ip(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path, webform_rate_limit="3/minute") as (_client, app):
        def post(i: int, ip: str, app: Any = app) -> Any:
            other = TestClient(app, client=(ip, 50000))
            return other.post("/channels/webform", json={"submission_id": f"rl-{ip}-{i}",
                                                         "email": f"r{i}@example.org", "text": "Pothole here"})
        for i in range(3):
            assert post(i, "203.0.113.5").status_code == 201
        refused = post(3, "203.0.113.5")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "rate limit" in refused.json()["detail"]
        assert post(4, "198.51.100.7").status_code == 201  # another address has its own allowance
        assert _inbound(app) == 4


def test_webhooks_and_open311_post_are_rate_limited(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path, insecure_channels=True, webhook_rate_limit="2/minute",
                              open311_rate_limit="1/minute") as (client, _app):
        codes = [client.post("/channels/twitter", json=tweet(f"80{i}", "@groundcrew streetlight out")).status_code
                 for i in range(3)]
        assert codes == [200, 200, 429]
        first = client.post("/open311/v2/requests.json", data={"service_code": "x"})
        assert first.status_code != 429
        second = client.post("/open311/v2/requests.json", data={"service_code": "x"})
        assert second.status_code == 429 and "retry-after" in second.headers


# ------------------------------------------------------------------------------------------- identity claims
def test_account_verified_in_a_form_merges_nobody(signed) -> None:
    client, app = signed
    mail = email("claim-a@x", "Water leak", sender="ann@example.org")
    a = client.post("/channels/email", content=mail, headers=_email(mail, SECRETS["email_webhook_secret"])).json()
    text = urlencode(sms("SMclaim", "Water leak", sender="+14105550188")).encode()
    b = client.post("/channels/sms", content=text, headers=_sms(text, SECRETS["twilio_auth_token"])).json()
    client.post("/channels/webform", json={"submission_id": "claim", "email": "ann@example.org",
                                           "phone": "+1 410 555 0188", "account_verified": True,
                                           "text": "merge us"})
    from server.identity.models import CustomerMerge, MergeSuggestion

    with Session(app.state.engine) as session:
        assert session.exec(select(CustomerMerge)).all() == []
        suggested = {frozenset((s.customer_a_id, s.customer_b_id)) for s in session.exec(select(MergeSuggestion))}
    assert any(a["customer_id"] in pair for pair in suggested) and any(b["customer_id"] in pair for pair in suggested)


# ------------------------------------------------------------------------------------------- hostile bodies
@pytest.mark.parametrize("path", ["/channels/webform", "/channels/twitter"])
def test_deeply_nested_json_is_a_4xx(database_url: str, tmp_path: Path, path: str) -> None:
    with _make(database_url, tmp_path, insecure_channels=True) as (client, _app):
        body = b"[" * 100_000 + b"]" * 100_000
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, response.status_code
        assert response.json()["detail"].startswith("body:")


CONTROL = "Streetlight\x00 out\x01 on\x0b my\x1f block"


def test_nul_and_control_characters_are_stripped_on_every_channel(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path, insecure_channels=True) as (client, app):
        posted = [
            client.post("/channels/twitter", json=tweet("6001", "@groundcrew " + CONTROL, name="Res\x00 Ident")),
            client.post("/channels/webform", json={"submission_id": "nul\x00-1", "name": "N\x00ul",
                                                   "email": "nul@example.org", "text": CONTROL,
                                                   "address": "12\x00 Main St"}),
            client.post("/channels/sms", data=sms("SMnul", CONTROL)),
            client.post("/channels/email", content=email("nul@x", CONTROL), headers={
                "content-type": "message/rfc822"}),
            client.post("/channels/facebook", json=fb_comment("c-nul", CONTROL)),
        ]
        assert [r.status_code for r in posted] == [200, 201, 201, 201, 200], [r.text for r in posted]
        assert all(r.json()["created"] for r in posted)
        with Session(app.state.engine) as session:
            stored = session.exec(select(Message).where(Message.direction == "inbound")).all()
        assert len(stored) == 5
        for message in stored:
            for value in (message.text, message.author_name, message.external_id, message.place_name or ""):
                assert not any(ch in value for ch in "\x00\x01\x0b\x1f"), repr(value)
            assert "Streetlight out on my block" in message.text


# ------------------------------------------------------------------------------------------- Open311
def _open311_key(client: TestClient, app: Any) -> str:
    from server.open311 import service

    with Session(app.state.engine) as session:
        _, key = service.issue_key(session=session, name="city", user_id=None)
        session.commit()
    return key


def _service_code(client: TestClient) -> str:
    return str(client.get("/open311/v2/services.json").json()[0]["service_code"])


def _post_open311(client: TestClient, app: Any, **params: str) -> Any:
    return client.post("/open311/v2/requests.json", data={
        "api_key": _open311_key(client, app), "service_code": _service_code(client), "lat": "39.29",
        "long": "-76.61", "email": "o311@example.org", **params})


def test_open311_control_characters_never_break_the_xml_feed(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path) as (client, app):
        posted = _post_open311(client, app, description="Broken\x01 streetlight\x0b near\x00 the gate")
        assert posted.status_code == 201, posted.text
        with Session(app.state.engine) as session:
            message = session.exec(select(Message).where(Message.channel == "open311")).one()
        assert not any(ch in message.text for ch in "\x00\x01\x0b")
        feed = client.get("/open311/v2/requests.xml")
        assert feed.status_code == 200
        root = ET.fromstring(feed.content)  # well-formed for every client
        assert "Broken streetlight near the gate" in (root.findtext("request/description") or "")


def test_open311_access_notes_stay_out_of_the_public_feed(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path) as (client, app):
        posted = _post_open311(client, app, description="Broken streetlight behind the gate",
                               **{"attribute[access_notes]": "gate code 4711, key under the mat"})
        assert posted.status_code == 201, posted.text
        request_id = posted.json()[0]["service_request_id"]
        with Session(app.state.engine) as session:
            message = session.exec(select(Message).where(Message.channel == "open311")).one()
        assert "gate code 4711" in message.text  # the crew and agents still read it
        one = client.get(f"/open311/v2/requests/{request_id}.json").json()[0]
        assert one["description"].startswith("Broken streetlight behind the gate")
        for text in (client.get("/open311/v2/requests.xml").text, client.get("/open311/v2/requests.json").text,
                     json.dumps(one)):
            assert "4711" not in text and "key under the mat" not in text


# ------------------------------------------------------------------------------------------- issue 26: real channels
def test_twilio_signs_the_query_string_of_the_public_url(signed) -> None:
    """Twilio signs the full URL it called, query string included
    (https://www.twilio.com/docs/usage/security#validating-requests)."""
    client, _app = signed
    form = sms("SMquery1", "Water leaking at 1200 Fait Ave")
    text = urlencode(form).encode()
    pairs = "".join(k + form[k] for k in sorted(form))

    def sig(url: str) -> str:
        return base64.b64encode(hmac.new(b"twilio-token", (url + pairs).encode(), hashlib.sha1).digest()).decode()

    headers = {"content-type": "application/x-www-form-urlencoded"}
    path = "/channels/sms?site=east&lang=en"
    without_query = client.post(path, content=text, headers={**headers, "x-twilio-signature": sig(
        PUBLIC_URL + "/channels/sms")})
    assert without_query.status_code == 401
    ok = client.post(path, content=text, headers={**headers, "x-twilio-signature": sig(PUBLIC_URL + path)})
    assert ok.status_code == 200 and ok.headers["X-Groundcrew-Created"] == "true", ok.text
    assert ok.headers["content-type"].startswith("application/xml")  # Twilio gets TwiML


def _aa_body() -> bytes:
    """An Account Activity delivery (https://developer.x.com/en/docs/x-api/enterprise/account-activity-api/guides/
    account-activity-data-objects)."""
    return json.dumps({"for_user_id": "3001969357", "tweet_create_events": [{
        "id_str": "1867233081217179999", "text": "@groundcrew streetlight out at 1200 Fait Ave",
        "created_at": "Sat Dec 05 09:58:07 +0000 2026", "user": {"id_str": "118", "screen_name": "res", "name": "R"},
        "entities": {"user_mentions": [{"screen_name": "groundcrew", "id_str": "3001969357"}]}}]}).encode()


def test_x_account_activity_delivery_is_signature_checked(signed) -> None:
    """x-twitter-webhooks-signature: sha256=base64(HMAC-SHA256(consumer secret, raw body))
    (https://docs.x.com/x-api/webhooks/quickstart, "Signature verification"); the CRC uses the same secret."""
    client, _app = signed
    body = _aa_body()
    assert client.post("/channels/twitter", content=body, headers={"content-type": "application/json"}
                       ).status_code == 401
    assert client.post("/channels/twitter", content=body, headers=_twitter(body, "wrong")).status_code == 401
    ok = client.post("/channels/twitter", content=body, headers=_twitter(body, SECRETS["twitter_consumer_secret"]))
    assert ok.status_code == 200 and ok.json()["created"] is True, ok.text
    crc = client.get("/channels/twitter", params={"crc_token": "token-1"}).json()["response_token"]
    assert crc == "sha256=" + base64.b64encode(hmac.new(b"x-consumer-secret", b"token-1", hashlib.sha256).digest()
                                               ).decode()


def _mailgun_fields(key: str, *, timestamp: int | None = None, token: str = "t" * 50) -> dict[str, str]:
    """A Mailgun route POST signed as documented: hex HMAC-SHA256(signing key, timestamp + token)
    (https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks)."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return {"sender": "ann@example.org", "from": "Ann <ann@example.org>", "subject": "Streetlight",
            "body-plain": "The streetlight at 1200 Fait Ave is out", "Message-Id": f"<mg-{stamp}@example.org>",
            "message-headers": "[]", "timestamp": stamp, "token": token,
            "signature": hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()}


def test_mailgun_signature_right_wrong_stale_and_unset(database_url: str, tmp_path: Path) -> None:
    with _make(database_url, tmp_path, mailgun_signing_key="mg-signing-key", webhook_rate_limit="") as (client, app):
        assert client.post("/channels/email/mailgun", data=_mailgun_fields("mg-signing-key")).status_code == 200
        wrong = client.post("/channels/email/mailgun", data=_mailgun_fields("other-key"))
        assert wrong.status_code == 401 and "signature" in wrong.json()["detail"]
        stale = client.post("/channels/email/mailgun", data=_mailgun_fields("mg-signing-key",
                                                                            timestamp=int(time.time()) - 3600))
        assert stale.status_code == 401 and "timestamp" in stale.json()["detail"]
        assert _inbound(app) == 1
    with _make(database_url, tmp_path / "bare") as (client, _app):
        assert client.post("/channels/email/mailgun", data=_mailgun_fields("k")).status_code == 503


@pytest.mark.parametrize("provider", ["sendgrid", "postmark"])
def test_sendgrid_and_postmark_need_the_webhook_credentials(signed, provider: str) -> None:
    """Neither signs its inbound POST: the URL registered with them carries the secret as HTTP Basic credentials
    (https://postmarkapp.com/developer/webhooks/inbound-webhook, "Basic HTTP authentication")."""
    client, app = signed

    def post(auth: str | None) -> Any:
        headers = {"authorization": auth} if auth else {}
        if provider == "postmark":
            return client.post("/channels/email/postmark", headers=headers, json={
                "FromFull": {"Email": "bo@example.net", "Name": "Bo"}, "Subject": "Trash", "MessageID": "pm-sec-1",
                "TextBody": "Trash was not collected", "Headers": []})
        return client.post("/channels/email/sendgrid", headers=headers, files={"x": ("", b"", "text/plain")}, data={
            "headers": "From: bo@example.net\nMessage-ID: <sg-sec-1@example.net>\n", "from": "bo@example.net",
            "text": "Trash was not collected", "envelope": "{}", "SPF": "none"})

    basic = "Basic " + base64.b64encode(b"groundcrew:" + SECRETS["email_webhook_secret"].encode()).decode()
    wrong = "Basic " + base64.b64encode(b"groundcrew:guess").decode()
    assert post(None).status_code == 401
    assert post(wrong).status_code == 401
    assert _counts(app)["message"] == 0
    ok = post(basic)
    assert ok.status_code == 200 and ok.json()["created"] is True
