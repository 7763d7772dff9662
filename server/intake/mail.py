"""Inbound email in every shape we accept — a raw RFC 5322 message (our relay, IMAP polling) and the inbound-parse
webhooks of Mailgun, SendGrid and Postmark — normalized the same way, each with a verdict on whether its ``From``
is authenticated (``server/intake/mailauth.py``). An unauthenticated sender is an unverified identity."""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.conversations.models import Visibility
from server.core.errors import Invalid
from server.customers.models import Channel
from server.intake import mailauth
from server.intake.adapters import Normalized, Skipped, build
from server.intake.mailauth import UNAUTHENTICATED, SenderCheck

_TAGS = re.compile(r"<[^>]+>")
_QUOTED = re.compile(r"(?ms)^On .{0,200}wrote:\s*$.*|^>.*$")


@dataclass(frozen=True)
class MailPolicy:
    """How sender authentication is decided: the authserv-ids whose Authentication-Results we trust, whether to
    verify DKIM here when there is no trusted verdict, and the DNS lookup dkimpy uses (None: real DNS)."""

    trusted_authserv_ids: frozenset[str] = frozenset()
    verify_dkim_locally: bool = True
    dnsfunc: Callable[..., bytes | None] | None = None


def clean_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets (the first one when several are given)."""
    if not value:
        return None
    value = value.strip()
    ids = re.findall(r"<([^<>]+)>", value)
    return (ids[0] if ids else value.strip("<> "))[:200] or None


def _strip_quoted(text: str) -> str:
    return _QUOTED.sub("", text).strip()


def _html_text(value: str) -> str:
    return html.unescape(_TAGS.sub(" ", value))


def _date(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        sent_at = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        raise Invalid(f"{field}: '{str(value)[:60]}' is not an RFC 5322 date") from None
    return sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)


_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk"}
_DAEMONS = {"mailer-daemon", "postmaster"}


def automatic(header: Callable[[str], str | None], from_address: str) -> str | None:
    """Why this mail was written by a machine, not a person (None: a person): an auto-reply (RFC 3834
    ``Auto-Submitted``, ``X-Autoreply``, ``Precedence: auto_reply``), bulk mail, or a delivery report
    (``multipart/report``, MAILER-DAEMON). Such mail is kept, never filed as a complaint (issue 27)."""
    submitted = (header("Auto-Submitted") or "").strip().lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted[:40]}"
    if header("X-Autoreply") or header("X-Autorespond"):
        return "auto-reply header"
    precedence = (header("Precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if "multipart/report" in (header("Content-Type") or "").lower():
        return "delivery report (multipart/report)"
    if from_address.partition("@")[0].lower() in _DAEMONS:
        return f"delivery report from {from_address[:80]}"
    return None


def _normalized(*, from_header: str, message_id: str | None, text: str, subject: str, in_reply_to: str | None,
                references: str | None, sent_at: datetime | None, attachments: list[str], check: SenderCheck,
                fallback_id: bytes, provider: str, header: Callable[[str], str | None] = lambda _name: None
                ) -> Normalized | Skipped:
    name, address = email.utils.parseaddr(from_header or "")
    if not address or "@" not in address:
        raise Invalid("From: required (a sender address)")
    message_id = message_id or "sha256-" + hashlib.sha256(fallback_id).hexdigest()[:40]
    machine = automatic(header, address)
    if machine is not None:
        return Skipped("automatic", "automatic", f"not a complaint: {machine}", message_id)
    text = _strip_quoted(text or "")
    subject = (subject or "").strip()
    if not text:
        text = subject
    if not text and attachments:
        text = f"({len(attachments)} attachment{'s' if len(attachments) > 1 else ''} without text)"
    if not text:
        raise Invalid("body: the email has no text (no text/plain or text/html part and no Subject)")
    refs = re.findall(r"<([^<>]+)>", references or "")
    thread = refs[0] if refs else in_reply_to or message_id
    return Normalized(build(
        channel=Channel.email, external_id=message_id, author_handle=address, author_name=name,
        author_verified=check.authenticated, text=text, sent_at=sent_at, visibility=Visibility.private,
        media=attachments[:10], reply_to_external_id=in_reply_to, thread_id=thread[:200], subject=subject[:300],
    ), meta={**check.as_meta(), "email_provider": provider}, sender_authenticated=check.authenticated)


def _verdict_from_headers(ar_values: Iterable[str], from_header: str, policy: MailPolicy) -> SenderCheck | None:
    from_domain = mailauth.domain_of(email.utils.parseaddr(from_header or "")[1])
    return mailauth.from_authentication_results(ar_values, from_domain=from_domain,
                                                trusted=policy.trusted_authserv_ids)


# ------------------------------------------------------------------------------------------- raw RFC 5322
def parse_email(raw: bytes, *, policy: MailPolicy = MailPolicy(), provider: str = "raw") -> Normalized | Skipped:
    """A raw RFC 5322 message: From is the author, Message-ID the external id; threads by References/In-Reply-To.
    Authenticated by a trusted ``Authentication-Results``, else by its DKIM signature verified here."""
    if not raw.strip():
        raise Invalid("body: empty; send the raw RFC 822 message")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not msg.keys():
        raise Invalid("body: not an RFC 822 message (no headers)")
    from_header = str(msg.get("From") or "")
    body_part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body_part is not None:
        try:
            text = body_part.get_content()
        except (LookupError, UnicodeError):
            text = body_part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
        if body_part.get_content_type() == "text/html":
            text = _html_text(text)
    attachments = [f"attachment:{part.get_filename()}" for part in msg.iter_attachments() if part.get_filename()]
    check = _verdict_from_headers([str(v) for v in msg.get_all("Authentication-Results") or []], from_header, policy)
    if (check is None or not check.authenticated) and policy.verify_dkim_locally:
        from_domain = mailauth.domain_of(email.utils.parseaddr(from_header)[1])
        local = mailauth.verify_dkim_locally(raw, from_domain=from_domain, dnsfunc=policy.dnsfunc)
        if local is not None and (local.authenticated or check is None):
            check = local
    return _normalized(
        from_header=from_header, message_id=clean_id(msg.get("Message-ID")), text=text,
        subject=str(msg.get("Subject") or ""), in_reply_to=clean_id(msg.get("In-Reply-To")),
        references=str(msg.get("References") or ""), sent_at=_date(msg.get("Date"), "Date"),
        attachments=attachments, check=check or UNAUTHENTICATED, fallback_id=raw, provider=provider,
        header=lambda name: str(msg.get(name)) if msg.get(name) is not None else None)


def _header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(str(name).lower(), []).append(str(value))
    return out


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name.lower())
    return values[0] if values else None


# ------------------------------------------------------------------------------------------- Mailgun
def mailgun(form: Mapping[str, str], files: list[str], *, policy: MailPolicy = MailPolicy()
            ) -> Normalized | Skipped:
    """A Mailgun route ``forward()`` POST (https://documentation.mailgun.com/docs/mailgun/user-manual/
    receive-forward-store/receive-http): ``sender``, ``from``, ``subject``, ``body-plain``/``stripped-text``,
    ``message-headers`` (JSON list of [name, value]), ``Message-Id``, ``In-Reply-To``, ``References``; or a raw
    ``body-mime``. Mailgun's verdict: ``X-Mailgun-Spf`` and ``X-Mailgun-Dkim-Check-Result``."""
    if form.get("body-mime"):
        return parse_email(form["body-mime"].encode(), policy=policy, provider="mailgun")
    try:
        pairs = json.loads(form.get("message-headers") or "[]")
        headers = _header_map((str(p[0]), str(p[1])) for p in pairs if isinstance(p, list) and len(p) == 2)
    except (ValueError, TypeError):
        raise Invalid("message-headers: not a JSON list of [name, value] pairs") from None
    from_header = form.get("from") or _first(headers, "From") or form.get("sender") or ""
    from_domain = mailauth.domain_of(email.utils.parseaddr(from_header)[1])
    check = _verdict_from_headers(headers.get("authentication-results", []), from_header, policy)
    if check is None or not check.authenticated:
        dkim_ok = (_first(headers, "X-Mailgun-Dkim-Check-Result") or "").strip().lower() == "pass"
        check = mailauth.provider_verdict(
            spf=_first(headers, "X-Mailgun-Spf"), envelope_from=form.get("sender"),
            dkim_pass_domains=mailauth.dkim_signers(headers.get("dkim-signature", [])) if dkim_ok else [],
            from_domain=from_domain, provider="mailgun")
    text = form.get("stripped-text") or form.get("body-plain") or _html_text(form.get("stripped-html")
                                                                             or form.get("body-html") or "")
    return _normalized(
        from_header=from_header, message_id=clean_id(form.get("Message-Id") or _first(headers, "Message-Id")),
        text=text, subject=form.get("subject") or _first(headers, "Subject") or "",
        in_reply_to=clean_id(form.get("In-Reply-To") or _first(headers, "In-Reply-To")),
        references=form.get("References") or _first(headers, "References"),
        sent_at=_date(form.get("Date") or _first(headers, "Date"), "Date"),
        attachments=[f"attachment:{f}" for f in files], check=check,
        fallback_id=(form.get("token") or json.dumps(dict(form), sort_keys=True)).encode(), provider="mailgun",
        header=lambda name: _first(headers, name))


# ------------------------------------------------------------------------------------------- SendGrid
_SG_DKIM = re.compile(r"@([^\s:{},]+)\s*:\s*(\w+)")


def sendgrid(form: Mapping[str, str], files: list[str], *, policy: MailPolicy = MailPolicy()
             ) -> Normalized | Skipped:
    """A SendGrid Inbound Parse POST (https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/
    setting-up-the-inbound-parse-webhook): ``headers`` (raw header block), ``from``, ``subject``, ``text``,
    ``html``, ``envelope`` (JSON ``{"to": [...], "from": ...}``), ``SPF``, ``dkim`` (``{@domain : pass}``);
    or the raw message in ``email`` ("POST the raw, full MIME message")."""
    if form.get("email"):
        return parse_email(form["email"].encode(), policy=policy, provider="sendgrid")
    raw_headers = form.get("headers") or ""
    parsed = email.message_from_string(raw_headers.strip() + "\n\n", policy=email.policy.default)
    from_header = form.get("from") or str(parsed.get("From") or "")
    from_domain = mailauth.domain_of(email.utils.parseaddr(from_header)[1])
    try:
        envelope = json.loads(form.get("envelope") or "{}")
    except ValueError:
        raise Invalid("envelope: not JSON") from None
    check = _verdict_from_headers([str(v) for v in parsed.get_all("Authentication-Results") or []], from_header,
                                  policy)
    if check is None or not check.authenticated:
        passing = [d for d, verdict in _SG_DKIM.findall(form.get("dkim") or "") if verdict.lower() == "pass"]
        check = mailauth.provider_verdict(
            spf=form.get("SPF"), envelope_from=str(envelope.get("from") or "") if isinstance(envelope, dict) else "",
            dkim_pass_domains=passing, from_domain=from_domain, provider="sendgrid")
    return _normalized(
        from_header=from_header, message_id=clean_id(parsed.get("Message-ID")),
        text=form.get("text") or _html_text(form.get("html") or ""),
        subject=form.get("subject") or str(parsed.get("Subject") or ""),
        in_reply_to=clean_id(parsed.get("In-Reply-To")), references=str(parsed.get("References") or ""),
        sent_at=_date(parsed.get("Date"), "headers.Date"), attachments=[f"attachment:{f}" for f in files],
        check=check, fallback_id=(raw_headers + (form.get("text") or "")).encode(), provider="sendgrid",
        header=lambda name: str(parsed.get(name)) if parsed.get(name) is not None else None)


# ------------------------------------------------------------------------------------------- Postmark
def postmark(body: Any, *, policy: MailPolicy = MailPolicy()) -> Normalized | Skipped:
    """A Postmark inbound webhook (https://postmarkapp.com/developer/webhooks/inbound-webhook): ``FromFull``,
    ``Subject``, ``TextBody``/``StrippedTextReply``/``HtmlBody``, ``Headers`` ([{Name, Value}]), ``MessageID``
    (Postmark's own id; the sender's Message-ID is in Headers), ``Attachments``. Postmark's verdict:
    ``Received-SPF`` and SpamAssassin's ``DKIM_VALID_AU`` in ``X-Spam-Tests``."""
    if not isinstance(body, Mapping):
        raise Invalid("body: expected a JSON object")
    full = body.get("FromFull") if isinstance(body.get("FromFull"), Mapping) else {}
    address = str(full.get("Email") or body.get("From") or "")
    from_header = email.utils.formataddr((str(full.get("Name") or body.get("FromName") or ""), address))
    headers = _header_map((str(h.get("Name")), str(h.get("Value"))) for h in body.get("Headers") or []
                          if isinstance(h, Mapping))
    from_domain = mailauth.domain_of(address)
    check = _verdict_from_headers(headers.get("authentication-results", []), from_header, policy)
    if check is None or not check.authenticated:
        spf = _first(headers, "Received-SPF") or ""
        envelope = re.search(r"envelope-from=<?([^;>\s]+)", spf)
        tests = (_first(headers, "X-Spam-Tests") or "").upper().replace(" ", "").split(",")
        signers = mailauth.dkim_signers(headers.get("dkim-signature", [])) if "DKIM_VALID_AU" in tests else []
        check = mailauth.provider_verdict(spf=spf, envelope_from=envelope.group(1) if envelope else None,
                                          dkim_pass_domains=signers or ([from_domain] if "DKIM_VALID_AU" in tests
                                                                        else []),
                                          from_domain=from_domain, provider="postmark")
    attachments = [f"attachment:{a.get('Name')}" for a in body.get("Attachments") or []
                   if isinstance(a, Mapping) and a.get("Name")]
    text = body.get("StrippedTextReply") or body.get("TextBody") or _html_text(str(body.get("HtmlBody") or ""))
    return _normalized(
        from_header=from_header, message_id=clean_id(_first(headers, "Message-ID")) or (
            str(body.get("MessageID")) if body.get("MessageID") else None),
        text=str(text or ""), subject=str(body.get("Subject") or ""),
        in_reply_to=clean_id(_first(headers, "In-Reply-To")), references=_first(headers, "References"),
        sent_at=_date(body.get("Date"), "Date"), attachments=attachments, check=check,
        fallback_id=json.dumps(body, sort_keys=True, default=str).encode(), provider="postmark",
        header=lambda name: _first(headers, name))
