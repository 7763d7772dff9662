"""Twilio Messaging in: a photo-only MMS keeps its media, Twilio's own (signed) requests get TwiML, and the opt-out
keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, YES, UNSTOP; HELP, INFO) are honoured through
``server/consent`` and never filed as complaints.

Shapes and rules from Twilio's documentation:
- webhook request parameters: https://www.twilio.com/docs/messaging/guides/webhook-request
- TwiML for Messaging: https://www.twilio.com/docs/messaging/twiml (``<Response>``, ``<Message>``)
- request signature: https://www.twilio.com/docs/usage/security#validating-requests
- default opt-out keywords: https://help.twilio.com/articles/223134027"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET

import pytest
from sqlmodel import Session, select

from server.consent import service as consent
from server.conversations.models import Message
from server.intake.models import IntakeEvent
from tests.server.intake.helpers import counts

TOKEN = "12345abcdef-twilio-auth-token"
SENDER = "+14105550149"


def _db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(app.state.engine)


def twilio_form(sid: str, body: str, **extra: str) -> dict[str, str]:
    """Every parameter Twilio sends with an incoming message."""
    return {"ToCountry": "US", "ToState": "MD", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "BALTIMORE",
            "FromZip": "21201", "SmsSid": sid, "FromState": "MD", "SmsStatus": "received", "FromCity": "BALTIMORE",
            "Body": body, "FromCountry": "US", "To": "+14105559999", "ToZip": "21202", "NumSegments": "1",
            "MessageSid": sid, "AccountSid": "AC0123456789abcdef0123456789abcdef", "From": SENDER,
            "ApiVersion": "2010-04-01", **extra}


def signature(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    """Twilio's algorithm: the full URL, then each POST parameter name and value sorted by name, HMAC-SHA1."""
    signed = url + "".join(k + form[k] for k in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def twilio(app, client):  # type: ignore[no-untyped-def]
    """Signed posts as Twilio makes them (X-Twilio-Signature over the URL it called)."""
    app.state.settings.twilio_auth_token = TOKEN

    def post(form: dict[str, str], path: str = "/channels/sms"):  # type: ignore[no-untyped-def]
        return client.post(path, data=form, headers={"X-Twilio-Signature": signature("http://testserver" + path,
                                                                                      form)})
    yield post
    app.state.settings.twilio_auth_token = None


def test_photo_only_mms_is_filed_with_its_media(app, client):
    form = twilio_form("MM3f1a0d6c1f5b4f3e9f6c2a1b0c9d8e7f", "", NumMedia="2",
                       MediaContentType0="image/jpeg",
                       MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages/MM3f/Media/ME1",
                       MediaContentType1="image/png",
                       MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages/MM3f/Media/ME2")
    answer = client.post("/channels/sms", data=form)
    assert answer.status_code == 201, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert message.media == [form["MediaUrl0"], form["MediaUrl1"]]
        assert message.text == "(2 photos without text)"


def test_twilio_requests_get_twiml(twilio):
    answer = twilio(twilio_form("SM1f1a0d6c1f5b4f3e9f6c2a1b0c9d8e01", "Water is leaking from the street"))
    # "200 OK, Content-Type: text/xml, valid TwiML, or 204 No Content" (https://www.twilio.com/docs/api/errors/15003)
    assert answer.status_code == 200 and answer.headers["X-Groundcrew-Created"] == "true", answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(answer.content)
    assert root.tag == "Response" and list(root) == []
    assert answer.headers["X-Groundcrew-Message-Id"].isdigit()
    again = twilio(twilio_form("SM1f1a0d6c1f5b4f3e9f6c2a1b0c9d8e01", "Water is leaking from the street"))
    assert again.status_code == 200 and ET.fromstring(again.content).tag == "Response"
    assert again.headers["X-Groundcrew-Created"] == "false"
    assert again.headers["X-Groundcrew-Message-Id"] == answer.headers["X-Groundcrew-Message-Id"]


@pytest.mark.parametrize("word", ["STOP", "stop", " Unsubscribe ", "CANCEL", "end", "QUIT.", "STOPALL"])
def test_opt_out_keywords_are_recorded_and_never_filed(app, twilio, word):
    with _db(app) as session:
        before = counts(session)
    answer = twilio(twilio_form("SMstop0000000000000000000000000001", word))
    assert answer.status_code == 200, answer.text
    assert list(ET.fromstring(answer.content)) == []  # Twilio's Advanced Opt-Out sends the confirmation
    with _db(app) as session:
        assert counts(session) == before  # no message, customer, case or job
        assert consent.is_opted_out(session=session, channel="sms", handle=SENDER)
        event = session.exec(select(IntakeEvent)).one()
        assert event.outcome == "opt_out" and event.external_id == "SMstop0000000000000000000000000001"


def test_start_lifts_an_opt_out_and_help_answers_with_the_help_text(app, twilio):
    twilio(twilio_form("SMa", "STOP"))
    started = twilio(twilio_form("SMb", "unstop"))
    assert started.status_code == 200
    with _db(app) as session:
        assert not consent.is_opted_out(session=session, channel="sms", handle=SENDER)
    helped = twilio(twilio_form("SMc", "HELP"))
    message = ET.fromstring(helped.content).find("Message")
    assert message is not None and message.text == app.state.settings.sms_help_text
    with _db(app) as session:
        assert session.exec(select(Message)).all() == []
        assert [e.outcome for e in session.exec(select(IntakeEvent).order_by(IntakeEvent.id)).all()] == [
            "opt_out", "opt_in", "help"]


def test_help_text_is_escaped_never_markup(app, twilio):
    app.state.settings.sms_help_text = "Reply <b>STOP</b> & we stop"
    answer = twilio(twilio_form("SMd", "info"))
    assert b"&lt;b&gt;STOP&lt;/b&gt; &amp; we stop" in answer.content
    assert ET.fromstring(answer.content).find("Message").text == "Reply <b>STOP</b> & we stop"


def test_a_sentence_with_stop_in_it_is_a_complaint(app, client):
    answer = client.post("/channels/sms", data=twilio_form("SMe", "Stop sign knocked down at Fait Ave"))
    assert answer.status_code == 201 and answer.json()["case_id"] is not None
