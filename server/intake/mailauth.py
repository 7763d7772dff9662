"""Is an email's ``From:`` really its sender? A verdict from the receiving side, never from the sender's say-so.

An email is *authenticated* when one of these holds, each aligned (relaxed, RFC 7489 §3.1) with the ``From:``
domain:
- DMARC ``pass``, or DKIM ``pass`` for a ``header.d`` aligned with From, or SPF ``pass`` for an aligned
  ``smtp.mailfrom``, in an ``Authentication-Results`` header (RFC 8601) whose authserv-id is one the deployment
  trusts (its own MX / IMAP server; ``email_trusted_authserv_ids``). Headers with any other authserv-id are
  ignored: anyone can write one into a message.
- the inbound provider's own verdict (SendGrid ``SPF``/``dkim`` fields, Mailgun's ``X-Mailgun-Spf`` /
  ``X-Mailgun-Dkim-Check-Result``, Postmark's ``Received-SPF`` / SpamAssassin ``DKIM_VALID_AU``);
- a DKIM signature verified here (``dkimpy``; DNS for the key) whose ``d=`` is aligned with From.
Anything else is *unauthenticated*: the sender is an unverified identity (never merged, never trusted to raise a
case's priority)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import authres

log = logging.getLogger("groundcrew.intake")


@dataclass(frozen=True)
class SenderCheck:
    """The verdict on one message's From; ``method`` says which evidence decided it."""

    authenticated: bool
    method: str = ""  # dmarc | dkim | spf | dkim-local | provider-spf | provider-dkim | "" (nothing passed)
    detail: str = ""

    def as_meta(self) -> dict[str, object]:
        return {"sender_authenticated": self.authenticated, "sender_auth_method": self.method,
                "sender_auth_detail": self.detail[:300]}


UNAUTHENTICATED = SenderCheck(False, "", "no SPF/DKIM/DMARC verdict aligned with the From domain")


def domain_of(address: str) -> str:
    """The lower-case domain of an address (or of a bare domain), without a trailing dot."""
    return address.rpartition("@")[2].strip().strip("<>").rstrip(".").lower()


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other (a stand-in for the organizational
    domain without the public suffix list: ``mail.example.org`` aligns with ``example.org``, never with ``org``)."""
    domain, from_domain = domain_of(domain), domain_of(from_domain)
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    short, long_ = sorted((domain, from_domain), key=len)
    return short.count(".") >= 1 and long_.endswith("." + short)


def from_authentication_results(values: Iterable[str], *, from_domain: str,
                                trusted: frozenset[str]) -> SenderCheck | None:
    """The verdict of the first ``Authentication-Results`` written by a trusted server; None when there is none."""
    for value in values:
        try:
            header = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value)
        except Exception:  # a malformed header (possibly forged) is no evidence
            continue
        if str(header.authserv_id).lower() not in trusted:
            continue
        for result in header.results:
            method, verdict = str(result.method).lower(), str(result.result).lower()
            props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
            if verdict != "pass":
                continue
            if method == "dmarc" and aligned(props.get("header.from", from_domain), from_domain):
                return SenderCheck(True, "dmarc", f"{header.authserv_id}: dmarc=pass")
            if method == "dkim":
                signer = props.get("header.d") or domain_of(props.get("header.i", ""))
                if signer and aligned(signer, from_domain):
                    return SenderCheck(True, "dkim", f"{header.authserv_id}: dkim=pass header.d={signer}")
            if method == "spf":
                mailfrom = props.get("smtp.mailfrom", "")
                if mailfrom and aligned(domain_of(mailfrom), from_domain):
                    return SenderCheck(True, "spf", f"{header.authserv_id}: spf=pass smtp.mailfrom={mailfrom}")
        return SenderCheck(False, "", f"{header.authserv_id}: no pass aligned with {from_domain}")
    return None


_DKIM_D = re.compile(r"(?:^|;)\s*d\s*=\s*([^;\s]+)")


def dkim_signers(signature_headers: Iterable[str]) -> list[str]:
    """The ``d=`` domains of ``DKIM-Signature`` header values."""
    return [m.group(1).lower() for v in signature_headers if (m := _DKIM_D.search(str(v)))]


def verify_dkim_locally(raw: bytes, *, from_domain: str,
                        dnsfunc: Callable[..., bytes | None] | None = None) -> SenderCheck | None:
    """Verify the top DKIM signature here (``dnsfunc``: dkimpy's key lookup; default real DNS). None when the
    message carries no signature."""
    if b"dkim-signature" not in raw[:65536].lower():
        return None
    import dkim

    try:
        verifier = dkim.DKIM(raw, minkey=1024)
        ok = verifier.verify(dnsfunc=dnsfunc) if dnsfunc is not None else verifier.verify()
    except dkim.ValidationError as exc:  # a signature that does not match the message
        return SenderCheck(False, "", f"dkim=fail ({exc})")
    except Exception as exc:  # DNS down: no evidence
        log.info("DKIM verification failed: %s", exc)
        return SenderCheck(False, "", f"dkim: could not verify ({type(exc).__name__})")
    signer = (verifier.domain or b"").decode("ascii", "replace").lower()
    if ok and aligned(signer, from_domain):
        return SenderCheck(True, "dkim-local", f"dkim=pass d={signer} (verified here)")
    return SenderCheck(False, "", f"dkim={'pass' if ok else 'fail'} d={signer} (verified here)")


def provider_verdict(*, spf: str | None, envelope_from: str | None, dkim_pass_domains: Iterable[str],
                     from_domain: str, provider: str) -> SenderCheck:
    """An inbound provider's own SPF/DKIM results, aligned with From."""
    for domain in dkim_pass_domains:
        if aligned(domain, from_domain):
            return SenderCheck(True, "provider-dkim", f"{provider}: dkim pass for {domain}")
    if spf and spf.strip().lower().startswith("pass") and envelope_from and aligned(domain_of(envelope_from),
                                                                                     from_domain):
        return SenderCheck(True, "provider-spf", f"{provider}: spf pass for {domain_of(envelope_from)}")
    return SenderCheck(False, "", f"{provider}: no SPF/DKIM pass aligned with {from_domain}")
