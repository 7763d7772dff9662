"""One place that chooses how a message leaves, per channel, from the deployment's settings.

sms → Twilio, facebook → Meta Graph API, twitter → X API v2, email → SMTP, when that provider is configured;
any other channel (or one whose provider is not configured) → the generic webhook relay when
``outbound_webhook_url`` is set, else the recording outbox (status ``recorded``: nothing left the server)."""

from __future__ import annotations

from dataclasses import dataclass

from server.config import Settings
from server.notify.connectors import Connector, RecordingOutbox

OUTBOX = RecordingOutbox()  # one per process, so demos and tests can read what would have been sent


@dataclass(frozen=True)
class Provider:
    """A channel's outbound provider: the settings it needs, and which of them are missing."""

    channel: str
    name: str
    missing: tuple[str, ...]

    @property
    def configured(self) -> bool:
        return not self.missing


def _env(*names: str) -> str:
    return " or ".join(f"GROUNDCREW_{n.upper()}" for n in names)


def providers(settings: Settings) -> list[Provider]:
    """Every provider with what it still needs (environment variable names)."""
    s = settings
    x_oauth1 = all((s.x_consumer_key, s.twitter_consumer_secret, s.x_access_token,
                    s.x_access_token_secret))
    x_missing: tuple[str, ...] = () if x_oauth1 or s.x_bearer_token else tuple(
        [_env(n) for n, v in (("x_consumer_key", s.x_consumer_key), ("x_access_token", s.x_access_token),
                              ("x_access_token_secret", s.x_access_token_secret)) if not v]
        + ([_env("x_consumer_secret")] if not s.twitter_consumer_secret else [])
        + [f"(or {_env('x_bearer_token')})"])
    return [
        Provider("sms", "Twilio", tuple(
            [_env(n) for n, v in (("twilio_account_sid", s.twilio_account_sid),
                                  ("twilio_auth_token", s.twilio_auth_token)) if not v]
            + ([_env("twilio_from_number", "twilio_messaging_service_sid")]
               if not (s.twilio_from_number or s.twilio_messaging_service_sid) else []))),
        Provider("facebook", "Meta Graph API", () if s.meta_page_access_token else (_env("meta_page_access_token"),)),
        Provider("twitter", "X API v2", x_missing),
        Provider("email", "SMTP", tuple(_env(n) for n, v in (("smtp_host", s.smtp_host), ("email_from", s.email_from))
                                        if not v)),
    ]


def connector_for_channel(settings: Settings, channel: str) -> Connector:
    """The connector that delivers ``channel``'s messages in this deployment."""
    s = settings
    configured = {p.channel for p in providers(settings) if p.configured}
    if channel in configured:
        if channel == "sms":
            from server.notify.providers.twilio_sms import TwilioSMS

            return TwilioSMS(account_sid=s.twilio_account_sid or "", auth_token=s.twilio_auth_token or "",
                             from_number=s.twilio_from_number, messaging_service_sid=s.twilio_messaging_service_sid,
                             public_url=s.channel_public_url, api_url=s.twilio_api_url, timeout_s=s.notify_timeout_s)
        if channel == "facebook":
            from server.notify.providers.meta import MetaPage

            return MetaPage(page_access_token=s.meta_page_access_token or "", app_secret=s.facebook_app_secret,
                            graph_url=s.meta_graph_url, message_tag=s.meta_message_tag, timeout_s=s.notify_timeout_s)
        if channel == "twitter":
            from server.notify.providers.x import XApi

            return XApi(consumer_key=s.x_consumer_key, consumer_secret=s.twitter_consumer_secret,
                        access_token=s.x_access_token, access_token_secret=s.x_access_token_secret,
                        bearer_token=s.x_bearer_token, api_url=s.x_api_url, timeout_s=s.notify_timeout_s)
        if channel == "email":
            from server.notify.providers.smtp import SMTPMail

            return SMTPMail(host=s.smtp_host or "", sender=s.email_from or "", port=s.smtp_port,
                            username=s.smtp_username, password=s.smtp_password, security=s.smtp_security,
                            timeout_s=s.notify_timeout_s, data_dir=s.data_dir)
    if s.outbound_webhook_url:
        from server.notify.providers.webhook import WebhookConnector

        sender = {k: v for k, v in (("email", s.email_from), ("sms", s.twilio_from_number),
                                    ("social_handles", s.social_handles)) if v}
        return WebhookConnector(s.outbound_webhook_url, secret=s.outbound_webhook_secret, sender=sender,
                                timeout_s=s.notify_timeout_s)
    return OUTBOX
