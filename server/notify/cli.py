"""``groundcrew channels check``: which channels can receive and answer, the URLs to register, what is missing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated

import typer

from server.config import Settings
from server.notify.providers import providers

app = typer.Typer(help="Customer channels: inbound webhooks and outbound providers.", no_args_is_help=True)


@dataclass
class ChannelReport:
    channel: str
    inbound: bool
    outbound: str  # the provider's name, "webhook relay" or "recorded only"
    outbound_configured: bool
    register: list[str]  # what to paste into the provider's console
    missing: list[str]


def _env(name: str) -> str:
    return f"GROUNDCREW_{name.upper()}"


def report(settings: Settings) -> list[ChannelReport]:
    """Each channel's state under ``settings`` (no network, no database)."""
    s = settings
    base = (s.channel_public_url or "").rstrip("/")
    url = (lambda path: f"{base}{path}") if base else (lambda path: f"<{_env('channel_public_url')}>{path}")
    x_secret = s.twitter_consumer_secret  # GROUNDCREW_X_CONSUMER_SECRET or GROUNDCREW_TWITTER_CONSUMER_SECRET
    imap = s.imap_host and s.imap_user  # inbound IMAP polling (`groundcrew import imap`)
    inbound = {
        "twitter": ([] if x_secret else [_env("x_consumer_secret")],
                    [f"X webhook URL (Account Activity / Activity API): {url('/channels/twitter')}"]),
        "facebook": ([_env(n) for n, v in (("facebook_app_secret", s.facebook_app_secret),
                                           ("facebook_verify_token", s.facebook_verify_token)) if not v],
                     [f"Meta webhook callback URL (Page: feed, messages): {url('/channels/facebook')}"
                      + (" with the verify token you set" if s.facebook_verify_token else "")]),
        "sms": ([] if s.twilio_auth_token else [_env("twilio_auth_token")],
                [f"Twilio number, 'A message comes in' (POST): {url('/channels/sms')}",
                 f"delivery reports arrive at {url('/notify/twilio/status')} (set on each message; nothing to do)"]),
        "email": ([] if s.email_webhook_secret or imap else [
            f"{_env('email_webhook_secret')} (inbound mail webhooks) or {_env('imap_host')} + {_env('imap_user')} + "
            f"{_env('imap_password')} (polling with `groundcrew import imap`)"],
                  [f"raw RFC 5322 relay POST: {url('/channels/email')}",
                   f"Mailgun inbound route: {url('/channels/email/mailgun')} (needs {_env('mailgun_signing_key')}"
                   f"{', set' if s.mailgun_signing_key else ', NOT set'})",
                   f"SendGrid / Postmark inbound parse: {url('/channels/email/sendgrid')}, "
                   f"{url('/channels/email/postmark')}"]),
    }
    out = []
    for provider in providers(settings):
        missing_in, register = inbound[provider.channel]
        if provider.configured:
            outbound = provider.name
        elif s.outbound_webhook_url:
            outbound = f"webhook relay {s.outbound_webhook_url}"
        else:
            outbound = "recorded only (nothing is sent)"
        missing = [f"inbound: {m}" for m in missing_in] + [f"outbound ({provider.name}): {m}"
                                                            for m in provider.missing]
        if not base:
            missing.append(f"{_env('channel_public_url')} (the public https base URL providers call)")
        out.append(ChannelReport(provider.channel, not missing_in, outbound, provider.configured, register, missing))
    return out


@app.command()
def check(as_json: Annotated[bool, typer.Option("--json", help="One JSON document instead of text.")] = False) -> None:
    """Print each channel: inbound (webhook secret) and outbound (provider credentials) configured or not, the
    webhook URLs to register, and what is missing."""
    settings = Settings()
    rows = report(settings)
    if as_json:
        typer.echo(json.dumps({"channels": [asdict(r) for r in rows],
                               "relay": {"url": settings.outbound_webhook_url,
                                         "signed": bool(settings.outbound_webhook_secret)}}))
        return
    for r in rows:
        typer.echo(f"{r.channel}")
        typer.echo(f"  inbound:  {'configured' if r.inbound else 'NOT configured'}")
        typer.echo(f"  outbound: {r.outbound}")
        for line in r.register:
            typer.echo(f"  register: {line}")
        for line in r.missing:
            typer.echo(f"  missing:  {line}")
    relay = settings.outbound_webhook_url
    typer.echo(f"relay (other channels): {relay or 'not set: messages on channels without a provider are recorded'}"
               + (" (unsigned: set GROUNDCREW_OUTBOUND_WEBHOOK_SECRET)" if relay and not
                  settings.outbound_webhook_secret else ""))


def register(apps: dict[str, typer.Typer]) -> None:
    apps["root"].add_typer(app, name="channels")
