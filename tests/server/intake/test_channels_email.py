"""Email in: Mailgun, SendGrid and Postmark inbound formats; sender authentication (a trusted
Authentication-Results, the provider's SPF/DKIM verdict, or DKIM verified here) — a spoofed From is an unverified
identity that never merges and never raises a case's priority; and IMAP polling of a real Dovecot mailbox.

Formats from the providers' documentation:
- Mailgun routes forward(): https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/
  receive-http (sender, from, subject, body-plain, stripped-text, message-headers, timestamp/token/signature)
- SendGrid Inbound Parse: https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/
  setting-up-the-inbound-parse-webhook (headers, from, text, envelope, SPF, dkim, multipart/form-data)
- Postmark inbound: https://postmarkapp.com/developer/webhooks/inbound-webhook (FromFull, TextBody, Headers,
  MessageID; SpamAssassin X-Spam-Tests, Received-SPF)
- Authentication-Results: RFC 8601; DMARC alignment: RFC 7489 section 3.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from server.cases.models import Case
from server.conversations.models import Message
from server.customers.models import Identity
from server.identity.models import CustomerMerge
from server.intake.models import IntakeEvent
from tests.server.intake import dovecot
from tests.server.intake.helpers import email

GAS = "I smell gas, there is a gas leak in the street outside 1200 Fait Ave"


def _db(app) -> Session:  # type: ignore[no-untyped-def]
    return Session(app.state.engine)


def _identity(app, handle: str) -> Identity:  # type: ignore[no-untyped-def]
    with _db(app) as session:
        return session.exec(select(Identity).where(Identity.handle == handle)).one()


def mailgun_form(key: str, message_id: str, text: str, *, spf: str = "Pass", sender: str = "bounce@example.org",
                 from_: str = "Ann Lee <ann@example.org>", in_reply_to: str | None = None) -> dict[str, str]:
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dce95d7c0d6f1b3e6c2f1e8f9a0b1c2d3e4f"
    headers = [["X-Mailgun-Incoming", "Yes"], ["X-Mailgun-Spf", spf], ["X-Mailgun-Dkim-Check-Result", "Fail"],
               ["From", from_], ["Subject", "Streetlight"], ["Message-Id", f"<{message_id}>"],
               ["Date", "Sat, 05 Dec 2026 09:58:07 +0000"]]
    form = {"recipient": "help@groundcrew.example", "sender": sender, "from": from_, "subject": "Streetlight",
            "body-plain": text + "\n\nOn Fri, Ann wrote:\n> old", "stripped-text": text,
            "message-headers": json.dumps(headers), "Message-Id": f"<{message_id}>",
            "timestamp": timestamp, "token": token,
            "signature": hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()}
    if in_reply_to:
        form["In-Reply-To"] = f"<{in_reply_to}>"
    return form


def test_mailgun_route_post_is_filed_threaded_and_authenticated(app, client):
    app.state.settings.mailgun_signing_key = "key-mailgun-signing"
    try:
        first = client.post("/channels/email/mailgun", files={"attachment-1": ("pothole.jpg", b"\xff\xd8", "image/"
                                                                                "jpeg")},
                            data=mailgun_form("key-mailgun-signing", "m1@mail.example.org",
                                              "The streetlight at 1200 Fait Ave is out"))
        # Mailgun counts only 200 as delivered (anything else but 406 is retried for 8 hours)
        assert first.status_code == 200 and first.json()["created"] is True, first.text
        reply = client.post("/channels/email/mailgun", data=mailgun_form(
            "key-mailgun-signing", "m2@mail.example.org", "Still out tonight", in_reply_to="m1@mail.example.org"))
    finally:
        app.state.settings.mailgun_signing_key = None
    assert reply.json()["conversation_id"] == first.json()["conversation_id"]
    with _db(app) as session:
        message = session.get(Message, first.json()["message_id"])
        assert message.text == "The streetlight at 1200 Fait Ave is out"  # stripped-text, no quote
        assert message.media == ["attachment:pothole.jpg"]
        assert message.meta["sender_authenticated"] is True and message.meta["sender_auth_method"] == "provider-spf"
    assert _identity(app, "ann@example.org").verified is True


def test_sendgrid_inbound_parse_multipart(app, client):
    headers = ("Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 20:53:06 +0000\n"
               "From: Bo Park <bo@example.net>\nTo: help@parse.groundcrew.example\nSubject: Trash\n"
               "Message-ID: <sg-1@example.net>\nDate: Sat, 05 Dec 2026 09:58:07 +0000\n"
               "DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=s1; h=from:to; bh=x; b=y\n")
    data = {"headers": headers, "dkim": "{@example.net : pass}", "to": "help@parse.groundcrew.example",
            "from": "Bo Park <bo@example.net>", "text": "Trash was not collected on Fait Ave this week\n",
            "sender_ip": "209.85.223.172", "envelope": json.dumps({"to": ["help@parse.groundcrew.example"],
                                                                   "from": "bo@example.net"}),
            "attachments": "0", "subject": "Trash", "charsets": json.dumps({"to": "UTF-8", "text": "UTF-8"}),
            "SPF": "pass"}
    answer = client.post("/channels/email/sendgrid", data=data, files={"unused": ("", b"", "text/plain")})
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert message.external_id == "sg-1@example.net" and message.meta["sender_auth_method"] == "provider-dkim"
    assert _identity(app, "bo@example.net").verified is True


POSTMARK = {
    "FromName": "Postmarkapp Support", "MessageStream": "inbound", "From": "support@postmarkapp.com",
    "FromFull": {"Email": "support@postmarkapp.com", "Name": "Postmarkapp Support", "MailboxHash": ""},
    "To": "\"Firstname Lastname\" <yourhash+SampleHash@inbound.postmarkapp.com>",
    "ToFull": [{"Email": "yourhash+SampleHash@inbound.postmarkapp.com", "Name": "Firstname Lastname",
                "MailboxHash": "SampleHash"}],
    "Cc": "", "CcFull": [], "Bcc": "", "BccFull": [],
    "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
    "Subject": "Test subject", "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
    "ReplyTo": "replyto@postmarkapp.com", "MailboxHash": "SampleHash", "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
    "TextBody": "Water is pouring from a hydrant at 1200 Fait Ave", "HtmlBody": "<p>Water is pouring</p>",
    "StrippedTextReply": "", "Tag": "TestTag",
    "Headers": [{"Name": "X-Header-Test", "Value": ""},
                {"Name": "X-Spam-Status", "Value": "No"}, {"Name": "X-Spam-Score", "Value": "-0.1"},
                {"Name": "X-Spam-Tests", "Value": "DKIM_SIGNED,DKIM_VALID,DKIM_VALID_AU,SPF_PASS"},
                {"Name": "Received-SPF", "Value": "Pass (sender SPF authorized) identity=mailfrom; "
                 "client-ip=209.85.160.180; helo=mail-gy0-f180.google.com; envelope-from=support@postmarkapp.com;"
                 " receiver=r1@inbound.postmarkapp.com"},
                {"Name": "Message-ID", "Value": "<CAE1pm-1@mail.gmail.com>"}],
    "Attachments": [{"Name": "test.txt", "Content": "VGhpcyBpcyBhdHRhY2htZW50IGNvbnRlbnRzLCBiYXNlLTY0IGVuY29kZWQu",
                     "ContentType": "text/plain", "ContentLength": 45}],
}


def test_postmark_inbound_json(app, client):
    answer = client.post("/channels/email/postmark", json=POSTMARK)
    assert answer.status_code == 200 and answer.json()["created"] is True, answer.text  # Postmark retries non-200
    with _db(app) as session:
        message = session.get(Message, answer.json()["message_id"])
        assert message.external_id == "CAE1pm-1@mail.gmail.com"  # the sender's Message-ID, for threading
        assert message.media == ["attachment:test.txt"] and message.author_name == "Postmarkapp Support"
        assert message.meta["sender_authenticated"] is True
    unauth = {**POSTMARK, "Headers": [{"Name": "Message-ID", "Value": "<pm-2@x>"}], "TextBody": "hello again"}
    assert client.post("/channels/email/postmark", json=unauth).json()["created"] is True
    broken = client.post("/channels/email/postmark", json={"FromFull": {"Email": ""}, "TextBody": "x"})
    assert broken.status_code == 200 and "From: required" in broken.json()["detail"]  # stored, not retried


def test_spoofed_sender_is_unverified_never_merged_and_never_urgent(app, client):
    """A verified customer exists (authenticated mail); a forged mail in their name — even with a forged
    Authentication-Results from a server we do not trust — files a case, but capped in priority, and the
    identity the forger used keeps the verified customer's record out of reach of a merge."""
    app.state.settings.email_trusted_authserv_ids = "mx.groundcrew.test"
    h = {"content-type": "message/rfc822"}
    real = b"Authentication-Results: mx.groundcrew.test; dkim=pass header.d=city.example header.s=s1\r\n"
    genuine = client.post("/channels/email", headers=h, content=real + email("g1@city.example", GAS,
                                                                             sender="Mayor <mayor@city.example>"))
    assert genuine.status_code == 201 and genuine.json()["priority"] == 10
    forged_ar = b"Authentication-Results: mx.attacker.example; dmarc=pass header.from=utility.example\r\n"
    spoof = client.post("/channels/email", headers=h, content=forged_ar + email(
        "s1@attacker.example", GAS, sender="Utility CEO <ceo@utility.example>"))
    assert spoof.status_code == 201, spoof.text
    assert spoof.json()["priority"] <= app.state.settings.unauthenticated_max_priority
    with _db(app) as session:
        case = session.get(Case, spoof.json()["case_id"])
        assert case.triage["priority_capped_from"] == 10 and case.triage["sender_authenticated"] is False
        assert session.exec(select(CustomerMerge)).all() == []
    assert _identity(app, "ceo@utility.example").verified is False
    assert _identity(app, "mayor@city.example").verified is True


def _dkim_key(tmp_path: Path) -> tuple[bytes, bytes]:
    """An RSA key pair made by openssl: the PEM private key and the DNS TXT record publishing it."""
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key.read_bytes(), b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a DKIM key")
def test_dkim_verified_here_authenticates_and_a_tampered_body_does_not(app, client, tmp_path):
    import dkim

    private, record = _dkim_key(tmp_path)
    app.state.dkim_dnsfunc = lambda name, timeout=5: record if name == b"sel1._domainkey.dkim.example." else None
    raw = email("d1@dkim.example", "The streetlight at 1200 Fait Ave is out", sender="Dee <dee@dkim.example>")
    signed = dkim.sign(raw, b"sel1", b"dkim.example", private, include_headers=[b"from", b"subject",
                                                                               b"message-id", b"date"])
    h = {"content-type": "message/rfc822"}
    good = client.post("/channels/email", headers=h, content=signed + raw)
    assert good.status_code == 201, good.text
    with _db(app) as session:
        assert session.get(Message, good.json()["message_id"]).meta["sender_auth_method"] == "dkim-local"
    tampered = (signed + raw).replace(b"streetlight at 1200", b"gas leak at 1300")
    tampered = tampered.replace(b"d1@dkim.example", b"d2@dkim.example")
    bad = client.post("/channels/email", headers=h, content=tampered.replace(b"Dee <dee@", b"Dee <dee@"))
    with _db(app) as session:
        meta = session.get(Message, bad.json()["message_id"]).meta
        assert meta["sender_authenticated"] is False and "dkim=fail" in meta["sender_auth_detail"]


# ------------------------------------------------------------------------------------------- IMAP (real Dovecot)
def _raw(message_id: str, text: str, *, in_reply_to: str | None = None) -> bytes:
    return email(message_id, text, sender="Cy Imap <cy@example.com>", subject="Pothole",
                 in_reply_to=in_reply_to, references=f"<{in_reply_to}>" if in_reply_to else None)


def test_imap_polling_against_a_real_dovecot(app, settings, tmp_path):
    """Mail delivered to a real mailbox is polled, filed once, threaded, marked seen; unreadable mail is kept as an
    event and does not block the mailbox; a message seen again (flag lost) files nothing twice."""
    why = dovecot.available()
    if why:
        pytest.skip(why)
    from imapclient import IMAPClient

    from server.intake import imap

    with dovecot.running(tmp_path) as box:
        with IMAPClient(box.host, port=box.port, ssl=False) as c:
            c.login(box.user, box.password)
            c.append("INBOX", _raw("i1@example.com", "Big pothole in front of 1200 Fait Ave"))
            c.append("INBOX", _raw("i2@example.com", "It is getting deeper", in_reply_to="i1@example.com"))
            c.append("INBOX", b"Subject: no sender here\r\n\r\n")
            c.append("INBOX", b"Auto-Submitted: auto-replied\r\n" + _raw("i3@example.com", "I am out of office"))
        polled = settings.model_copy(update={"imap_host": box.host, "imap_port": box.port, "imap_ssl": False,
                                             "imap_user": box.user, "imap_password": box.password})
        first = imap.poll(engine=app.state.engine, settings=polled)
        assert (first.unseen, first.filed, first.invalid, first.automatic, first.failed) == (4, 2, 1, 1, 0)
        assert imap.poll(engine=app.state.engine, settings=polled).unseen == 0  # all marked seen
        with IMAPClient(box.host, port=box.port, ssl=False) as c:
            c.login(box.user, box.password)
            c.select_folder("INBOX")
            c.remove_flags(c.search(["ALL"]), [b"\\Seen"])
        again = imap.poll(engine=app.state.engine, settings=polled)
        assert (again.unseen, again.filed, again.already, again.invalid) == (4, 0, 2, 1)
    with _db(app) as session:
        messages = session.exec(select(Message).where(Message.direction == "inbound")).all()
        assert sorted(m.external_id for m in messages) == ["i1@example.com", "i2@example.com"]
        assert len({m.conversation_id for m in messages}) == 1
        assert all(m.meta["email_provider"] == "imap" for m in messages)
        events = session.exec(select(IntakeEvent)).all()
        assert sorted(e.outcome for e in events) == ["automatic", "automatic", "invalid", "invalid"]
        assert any("From: required" in e.detail for e in events)


def test_an_identity_first_seen_unauthenticated_is_verified_by_authenticated_mail(app, client):
    """Unverified until mail from it passes: then the verified-key rules (no merge with a conflicting customer)
    protect it (server/identity: ``_vouch``)."""
    app.state.settings.email_trusted_authserv_ids = "mx.groundcrew.test"
    h = {"content-type": "message/rfc822"}
    first = client.post("/channels/email", headers=h, content=email("v1@x.example", "Trash missed",
                                                                    sender="Vi <vi@x.example>"))
    assert first.status_code == 201 and _identity(app, "vi@x.example").verified is False
    passed = b"Authentication-Results: mx.groundcrew.test; spf=pass smtp.mailfrom=bounces.x.example\r\n"
    second = client.post("/channels/email", headers=h, content=passed + email("v2@x.example", "Still missed",
                                                                              sender="Vi <vi@x.example>"))
    assert second.json()["customer_id"] == first.json()["customer_id"]
    assert _identity(app, "vi@x.example").verified is True


def test_groundcrew_import_imap_command(tmp_path, monkeypatch):
    """The operator's command: ``groundcrew import imap`` polls once and prints the counts as JSON."""
    why = dovecot.available()
    if why:
        pytest.skip(why)
    from imapclient import IMAPClient
    from typer.testing import CliRunner

    from server.cli import UserError
    from server.cli import app as cli

    monkeypatch.chdir(tmp_path)  # no .env
    with dovecot.running(tmp_path) as box:
        with IMAPClient(box.host, port=box.port, ssl=False) as c:
            c.login(box.user, box.password)
            c.append("INBOX", _raw("cli1@example.com", "Streetlight out at 1200 Fait Ave"))
        env = {"GROUNDCREW_DATA_DIR": str(tmp_path / "var"), "GROUNDCREW_DATABASE_URL": f"sqlite:///{tmp_path}/c.db",
               "GROUNDCREW_LOAD_CITY": "false", "GROUNDCREW_SECRET_KEY": "cli-secret-" + "k" * 32,
               "GROUNDCREW_IMAP_HOST": box.host, "GROUNDCREW_IMAP_PORT": str(box.port),
               "GROUNDCREW_IMAP_SSL": "false", "GROUNDCREW_IMAP_USER": box.user,
               "GROUNDCREW_IMAP_PASSWORD": box.password}
        first = CliRunner().invoke(cli, ["import", "imap", "--no-city"], env=env)
        assert first.exit_code == 0, first.output
        assert json.loads(first.output.strip().splitlines()[-1])["filed"] == 1
        second = CliRunner().invoke(cli, ["import", "imap", "--no-city"], env=env)
        assert json.loads(second.output.strip().splitlines()[-1])["unseen"] == 0
        wrong = CliRunner().invoke(cli, ["import", "imap"], env={**env, "GROUNDCREW_IMAP_HOST": ""})
        assert isinstance(wrong.exception, UserError) and "GROUNDCREW_IMAP_HOST" in str(wrong.exception)


def test_auto_replies_and_delivery_reports_are_kept_not_filed(app, client):
    """Our own traffic coming back (issue 27): an out-of-office answer (RFC 3834 Auto-Submitted) and a bounce
    (RFC 3464 multipart/report from MAILER-DAEMON) are acknowledged and stored, never a complaint."""
    h = {"content-type": "message/rfc822"}
    ooo = b"Auto-Submitted: auto-replied\r\n" + email("ooo1@example.org", "I am out of the office until Monday")
    answer = client.post("/channels/email", headers=h, content=ooo)
    assert answer.status_code == 200 and answer.json()["events"][0]["outcome"] == "automatic"
    bounce = dict(POSTMARK, FromFull={"Email": "MAILER-DAEMON@mx.example.net", "Name": "Mail Delivery System"},
                  Subject="Undelivered Mail Returned to Sender", TextBody="This is the mail system at host "
                  "mx.example.net. I'm sorry to have to inform you that your message could not be delivered",
                  Headers=[{"Name": "Message-ID", "Value": "<bounce-1@mx.example.net>"},
                           {"Name": "Content-Type", "Value": "multipart/report; report-type=delivery-status"}])
    kept = client.post("/channels/email/postmark", json=bounce)
    assert kept.status_code == 200 and kept.json()["events"][0]["outcome"] == "automatic"
    with _db(app) as session:
        assert session.exec(select(Message)).all() == [] and session.exec(select(Case)).all() == []
        assert len(session.exec(select(IntakeEvent)).all()) == 2


def test_a_forged_from_of_a_known_customer_is_kept_apart_from_their_history(app, client):
    """A verified customer (their mail passed DMARC at our MX); then a message in their name that our MX marks
    spf=fail dkim=none dmarc=fail, replying into their thread: it is stored (nothing lost) under a customer record
    of its own, in its own conversation, unanswered, and its case says why. The raw message is in the shape a
    Postfix MX with OpenDKIM/OpenDMARC hands over (RFC 8601 Authentication-Results, RFC 5321 Received)."""
    app.state.settings.email_trusted_authserv_ids = "mx.groundcrew.test"
    h = {"content-type": "message/rfc822"}
    passed = (b"Authentication-Results: mx.groundcrew.test; dkim=pass (2048-bit key) header.d=city.example "
              b"header.s=s1; spf=pass smtp.mailfrom=city.example; dmarc=pass (p=reject) header.from=city.example\r\n")
    genuine = client.post("/channels/email", headers=h, content=passed + email(
        "g7@city.example", "Streetlight out at 1200 Fait Ave", sender="Mo Reyes <mo@city.example>"))
    assert genuine.status_code == 201 and _identity(app, "mo@city.example").verified is True
    known = genuine.json()["customer_id"]

    forged = (b"Received: from mail.attacker.example (mail.attacker.example [203.0.113.66])\r\n"
              b"\tby mx.groundcrew.test (Postfix) with ESMTPS id 4Qx1Zk0Tq2z9sWb\r\n"
              b"\tfor <help@groundcrew.example>; Sat, 05 Dec 2026 10:02:11 +0000 (UTC)\r\n"
              b"Authentication-Results: mx.groundcrew.test; dkim=none; spf=fail (mx.groundcrew.test: domain of "
              b"mo@city.example does not designate 203.0.113.66 as permitted sender) smtp.mailfrom=mo@city.example;"
              b" dmarc=fail (p=none dis=none) header.from=city.example\r\n"
              + email("f1@attacker.example", GAS, sender="Mo Reyes <mo@city.example>",
                      in_reply_to="g7@city.example", references="<g7@city.example>"))
    spoof = client.post("/channels/email", headers=h, content=forged)
    assert spoof.status_code == 201, spoof.text
    body = spoof.json()
    assert body["customer_id"] != known and body["conversation_id"] != genuine.json()["conversation_id"]
    with _db(app) as session:
        message = session.get(Message, body["message_id"])
        assert message.text == GAS and message.meta["sender_authenticated"] is False  # kept whole
        assert message.meta["sender_quarantine"]["verified_customer_id"] == known
        case = session.get(Case, body["case_id"])
        note = case.triage["sender_quarantine"]["note"]
        assert f"customer {known}" in note and "mo@city.example" in note and "failed sender authentication" in note
        assert case.priority <= app.state.settings.unauthenticated_max_priority
        # their history holds only their own message; the forged one is not answered (no "where is it?")
        theirs = session.exec(select(Message).where(Message.customer_id == known)).all()
        assert [m.external_id for m in theirs if m.direction == "inbound"] == ["g7@city.example"]
        assert session.exec(select(Message).where(Message.conversation_id == body["conversation_id"],
                                                  Message.direction == "outbound")).all() == []
        owners = session.exec(select(Identity).where(Identity.handle == "mo@city.example")).all()
        assert [(i.customer_id, i.verified) for i in owners] == [(known, True)]
        assert session.exec(select(CustomerMerge)).all() == []
    # the real customer's next authenticated mail still joins their own thread
    again = client.post("/channels/email", headers=h, content=passed + email(
        "g8@city.example", "Still dark tonight", sender="Mo Reyes <mo@city.example>", in_reply_to="g7@city.example",
        references="<g7@city.example>"))
    assert (again.json()["customer_id"], again.json()["conversation_id"]) == (known, genuine.json()["conversation_id"])
