"""Email replies over SMTP (``smtplib``), threaded into the customer's own mail thread.

From: the deployment's ``email_from``. Subject: ``Re: <the thread's subject>``. ``In-Reply-To``: the Message-ID of
the customer's latest mail (stored as that message's external id); ``References``: the thread's root then that
id (RFC 5322 §3.6.4). ``Message-ID``: our own, derived from our message id, so a retry re-sends the same id and a
mail client shows a duplicate as one."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from server.notify.connectors import DeliveryResult, Outbound, failure


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())  # no header folding or injection from a stored subject
    if not subject:
        return "Re: your report"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _ids(*values: str | None) -> list[str]:
    out: list[str] = []
    for value in values:
        clean = (value or "").strip().strip("<>")
        if clean and not any(c in clean for c in "<> \r\n") and clean not in out:
            out.append(clean)
    return out


def build_message(outbound: Outbound, sender: str) -> EmailMessage:
    """The reply as an RFC 5322 message (plain text; media as links)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "groundcrew.invalid"
    token = hashlib.sha256(f"{sender}|{outbound.idempotency_key}".encode()).hexdigest()[:16]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = outbound.to_handle or ""
    msg["Subject"] = reply_subject(outbound.subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<groundcrew.{outbound.message_id}.{token}@{domain}>"
    parent = _ids(outbound.reply_to_external_id)
    if parent:
        msg["In-Reply-To"] = f"<{parent[0]}>"
    references = _ids(outbound.thread_id, outbound.reply_to_external_id)
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    msg.set_content("\n".join([outbound.text, *outbound.media]) if outbound.media else outbound.text)
    return msg


@dataclass
class SMTPMail:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | ssl | none
    timeout_s: float = 15.0
    name: str = "smtp"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        if not outbound.to_handle or "@" not in outbound.to_handle:
            return failure("no email address is known for this customer", retryable=False)
        msg = build_message(outbound, self.sender)
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (550, b""))
            return failure(f"the mail server refused {outbound.to_handle}: {code} {_text(reason)}",
                           retryable=400 <= code < 500)
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500 or exc.smtp_code in (530, 535)  # auth: fixable configuration
            return failure(f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}", retryable=transient)
        except (smtplib.SMTPException, OSError) as exc:
            return failure(f"mail server unreachable: {type(exc).__name__}: {exc}")
        return DeliveryResult(ok=True, detail=f"accepted by {self.host}", external_id=msg["Message-ID"].strip("<>"))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
