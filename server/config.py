"""One ``Settings`` object for the whole server, read from the environment (prefix ``GROUNDCREW_``)
or an optional ``.env`` file. It is created once at start-up and injected; nothing reads the
environment at import time."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_DATA_DIR = Path(__file__).resolve().parent / "demo" / "data"
DEMO_OSM_FILE = DEMO_DATA_DIR / "baltimore_central.osm.bz2"


class Settings(BaseSettings):
    """Deployment configuration. Every field has a default that works with zero configuration."""

    model_config = SettingsConfigDict(
        env_prefix="GROUNDCREW_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(Path("var"), description="Where the SQLite file, caches and secrets live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db"
    )
    osm_source: Path = Field(DEMO_OSM_FILE, description="OSM extract (.osm, .osm.bz2, .osm.pbf) of the city.")
    secret_key: str | None = Field(None, description="Signs tokens; default: generated once into data_dir.")
    broker_url: str | None = Field(None, description="Redis URL for Celery and event fan-out (scale-out).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_token_minutes: int = Field(60, ge=1, le=24 * 60)
    refresh_token_days: int = Field(14, ge=1, le=90)
    timezone: str = Field("America/New_York", description="Local time zone of the service area.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_request_bytes: int = Field(1_000_000, ge=1024)
    metrics_cache_s: float = Field(5.0, ge=0, le=300, description="Ops metrics are recomputed at most this often per "
                                   "API process (dashboards poll them; 0: on every request).")
    load_city: bool = Field(True, description="Load the street network at start-up (off in some tests).")
    cache_dir_override: Path | None = Field(
        None, alias="GROUNDCREW_CACHE_DIR", description="Built street network cache (default: data_dir/cache)."
    )
    outbound_webhook_url: str | None = Field(
        None, description="POST outbound customer messages here (default: record them in the outbox only)."
    )
    taxonomy_path: Path | None = Field(
        None, description="Triage taxonomy TOML (categories, keywords, skills, SLAs, Open311 codes); "
        "default: the shipped server/triage/taxonomy.toml."
    )
    # -- dispatch (server/dispatch) -----------------------------------------------------------------
    dispatch_solve_time_s: float = Field(8.0, gt=0, le=600, description="Optimizer time per plan solve.")
    dispatch_replan_time_s: float = Field(3.0, gt=0, le=600, description="Optimizer time per triggered re-plan.")
    dispatch_coalesce_s: float = Field(0.5, ge=0, le=60, description="Bursts of triggers within this are one solve.")
    dispatch_aging_days: float = Field(7.0, ge=0, le=365, description="An overdue job rises one priority step per "
                                       "this many days past its SLA deadline, up to 10 (0: no aging).")
    dispatch_max_open_solves: int = Field(4, ge=1, le=100, description="Solves queued or running at once; a request "
                                          "beyond this is refused (429) until one finishes.")
    dispatch_urgent_priority: int = Field(8, ge=1, le=10, description="Jobs at this priority are inserted at once.")
    dispatch_eta_window_min: int = Field(20, ge=5, le=120, description="Width of the arrival window told to customers.")
    dispatch_eta_margin_min: int = Field(10, ge=1, le=240, description="Tell customers again when the ETA moves more.")
    inbox_first_response_min: int = Field(60, ge=1, le=7 * 24 * 60, description="Inbox: minutes an agent has to "
                                          "answer a customer's unanswered message before its SLA timer is breached.")
    dispatch_watch_interval_s: float = Field(0.25, gt=0, le=60, description="How often new jobs are looked for.")
    dispatch_background: bool = Field(True, description="Run the dispatch watcher in API processes.")
    dispatch_auto_replan: bool = Field(True, description="Re-plan by itself after overrides, status changes and new "
                                       "jobs (off: the plan changes only by a dispatcher's action or Re-plan; urgent "
                                       "jobs are still inserted at once).")
    dispatch_morning_at: str | None = Field("06:30", description="Local time of the automatic morning plan "
                                            "(HH:MM; empty: only on request).")
    # -- planning horizon (server/horizon): the working days after today, planned tentatively ----------------------
    horizon_days: int = Field(5, ge=0, le=30, description="Working days after today the horizon plan covers (0: off).")
    horizon_weekdays: str = Field("1-5", description="Working ISO weekdays, 1 = Monday: '1-5', '1-6' or '1,2,3,4,5'.")
    horizon_holidays_country: str | None = Field(None, description="Public holidays of this country (ISO code, e.g. "
                                                 "'US', 'FI'; the `holidays` package) are not working days.")
    horizon_holidays_subdivision: str | None = Field(None, description="Region of that country (e.g. 'MD').")
    horizon_closed_dates: str = Field("", description="More non-working dates, comma-separated YYYY-MM-DD.")
    horizon_solve_time_s: float = Field(10.0, gt=0, le=600, description="Optimizer time per horizon plan.")
    horizon_roll_at: str | None = Field("07:00", description="Local time of the daily roll-over: the API process "
                                        "plans the horizon once a day from then on, after today's morning plan, or "
                                        "sends it to a Celery worker when a broker is set "
                                        "(HH:MM; empty: only on request or by `groundcrew horizon plan`).")
    # --- appointments (issue 30, server/appointments): visits the customer must be present for ---------------------
    appointment_window_min: int = Field(120, ge=30, le=480, description="Length of an offered arrival window.")
    appointment_offer_count: int = Field(3, ge=1, le=5, description="Arrival windows offered at once (2-3 is usual).")
    appointment_days: int = Field(3, ge=1, le=14, description="Working days offered, today included.")
    appointment_working_days: str = Field("1,2,3,4,5", description="ISO weekdays with visits (1 = Monday).")
    appointment_lead_min: int = Field(60, ge=0, le=24 * 60, description="An offered window starts at least this "
                                      "many minutes from now (time for the customer to answer and the crew to go).")
    appointment_link_hours: float = Field(72.0, gt=0, le=24 * 14, description="Lifetime of the customer's signed "
                                          "self-service link.")
    appointment_page_rate_limit: str = Field("30/minute;300/hour", description="Per client IP on the customer's "
                                             "self-service pages ('limits' notation; empty: no limit).")
    appointment_sweep: bool = Field(True, description="Offer windows, re-offer and remind from this API process "
                                    "(off: only `groundcrew appointments sweep`, e.g. from cron or one worker).")
    appointment_watch_interval_s: float = Field(5.0, gt=0, le=3600, description="How often new jobs that need the "
                                                "customer get offers, broken windows re-offers and reminders go out.")
    dispatch_region_max_jobs: int = Field(250, ge=10, description="Above this, the area is solved as regions.")
    dispatch_regions: int = Field(0, ge=0, le=64, description="Dispatch regions (0: automatic from job count).")
    session_concurrency: int = Field(
        2, ge=1, le=32, description="Requests per API process that hold a database session at once (read when the "
        "process starts; raise it when the database is far away and requests mostly wait for it)."
    )
    jobs_cache: bool = Field(
        True, description="PostgreSQL: answer the job board and single jobs from memory while no job changed "
        "(told by LISTEN/NOTIFY on a connection of each API process's own, which must reach PostgreSQL directly: "
        "not through a transaction-pooling PgBouncer, which does not pass notifications on)."
    )
    celery_visibility_timeout_s: int = Field(
        120, ge=2, description="Redis broker: an unacknowledged task is redelivered after this (killed worker)."
    )
    # --- intake (issue 5): geotag, incidents, hand-off, channels -----------------------------------
    geotag_min_confidence: float = Field(
        0.6, ge=0, le=1, description="Below this geotag confidence a case is not dispatched; we ask for the place."
    )
    incident_radius_m: float = Field(150.0, gt=0, le=5000, description="A complaint this close to an open job "
                                     "of the same category (and similar text) joins it.")
    incident_window_hours: float = Field(72.0, gt=0, le=24 * 60, description="... within this many hours.")
    incident_min_similarity: float = Field(45.0, ge=0, le=100, description="Text similarity (0..100) to join.")
    proactive_radius_m: float = Field(300.0, gt=0, le=10000, description="Customers living this close to a "
                                      "confirmed incident are offered a proactive notice.")
    auto_handoff: bool = Field(True, description="Turn field-work cases with a confident place into jobs.")
    social_handles: str = Field("groundcrew", description="Our social handles (comma-separated): posts that "
                                "mention them or reply to us are addressed to us; others go to the listening feed.")
    facebook_app_secret: str | None = Field(None, description="Verify X-Hub-Signature-256 on /channels/facebook "
                                            "(unset: the channel refuses deliveries unless insecure_channels).")
    facebook_verify_token: str | None = Field(None, description="Answer Meta's webhook subscription handshake.")
    previous_channel_secrets: dict[str, str] = Field(
        default_factory=dict, description="While rotating a channel key: the key it replaces, by the key's setting "
        'name, e.g. {"TWILIO_AUTH_TOKEN": "<old token>"} (JSON). Deliveries signed with either are accepted; remove '
        "it once the provider signs with the new key.")
    twilio_auth_token: str | None = Field(None, description="Verify X-Twilio-Signature on /channels/sms "
                                          "(unset: the channel refuses deliveries unless insecure_channels).")
    channel_public_url: str | None = Field(None, description="Public base URL Twilio signs (default: request URL).")
    # --- public surface (issue 25): channel secrets, the insecure demo switch, per-IP rate limits --------------
    twitter_consumer_secret: str | None = Field(
        None, validation_alias=AliasChoices("GROUNDCREW_X_CONSUMER_SECRET", "GROUNDCREW_TWITTER_CONSUMER_SECRET",
                                            "twitter_consumer_secret"),
        description="X app consumer secret (API secret key; env GROUNDCREW_X_CONSUMER_SECRET or "
        "GROUNDCREW_TWITTER_CONSUMER_SECRET): answers X's CRC check (GET /channels/twitter?crc_token=...) and "
        "verifies x-twitter-webhooks-signature "
        "(sha256=<base64 HMAC-SHA256 of the raw body>) on /channels/twitter. Unset: the channel refuses deliveries "
        "(503) unless insecure_channels is on.")
    email_webhook_secret: str | None = Field(
        None, description="Shared secret of the inbound-mail relay on /channels/email: each delivery carries "
        "X-Groundcrew-Signature: sha256=<hex HMAC-SHA256 of the raw message with this secret> or "
        "Authorization: Bearer <this secret>. Unset: the channel refuses deliveries (503) unless insecure_channels "
        "is on.")
    # --- real channels in (issue 26): X brand, SMS keywords, inbound email providers, sender authentication, IMAP
    x_brand_user_ids: str = Field(
        "", description="Numeric ids of our own X accounts (comma-separated). Posts and DMs from them (and from the "
        "Account Activity for_user_id, and from social_handles) are acknowledged, never filed as complaints.")
    sms_help_text: str = Field(
        "Groundcrew service requests: reply with the problem and its address. Reply STOP to opt out.",
        max_length=320, description="The TwiML answer to HELP / INFO on /channels/sms.")
    mailgun_signing_key: str | None = Field(
        None, description="Mailgun HTTP webhook signing key: verifies timestamp/token/signature on "
        "/channels/email/mailgun (unset: refused unless insecure_channels).")
    email_trusted_authserv_ids: str = Field(
        "", description="Comma-separated authserv-ids (the receiving MTA's name in Authentication-Results) whose "
        "SPF/DKIM/DMARC verdicts are trusted; any other Authentication-Results header is ignored.")
    email_verify_dkim: bool = Field(
        True, description="Verify an email's DKIM signature here (DNS lookup of the key) when no trusted verdict "
        "says it passed.")
    unauthenticated_max_priority: int = Field(
        5, ge=1, le=10, description="Email whose From is not authenticated (no aligned SPF/DKIM/DMARC pass) never "
        "gets a higher case priority than this (the triage priority is kept in the case's triage record).")
    imap_host: str | None = Field(None, description="IMAP server polled for complaints by `groundcrew import imap`.")
    imap_port: int = Field(993, ge=1, le=65535)
    imap_ssl: bool = Field(True, description="IMAP over TLS (port 993); false: plain IMAP with STARTTLS if offered.")
    imap_user: str | None = None
    imap_password: str | None = None
    imap_folder: str = "INBOX"
    imap_poll_s: float = Field(60.0, gt=0, le=3600, description="Seconds between polls with `import imap --watch`.")
    insecure_channels: bool = Field(
        False, description="DEMO ONLY: accept webhook deliveries on channels that have no secret configured, "
        "unsigned (anyone can then write complaints in any customer's name). Set by `make run`; /health lists it "
        "under warnings. A channel whose secret is set is always checked.")
    webform_rate_limit: str = Field(
        "10/minute;100/hour", description="Per client IP on POST /channels/webform ('limits' notation, e.g. "
        "'10/minute;100/hour'; empty: no limit).")
    webhook_rate_limit: str = Field(
        "600/minute", description="Per client IP on each provider webhook (/channels/twitter, facebook, sms, email; "
        "providers deliver from few addresses, so this is high; empty: no limit).")
    open311_rate_limit: str = Field(
        "60/minute", description="Per client IP on Open311 POST requests (empty: no limit).")
    # --- outbound delivery (issue 26, server/notify): one block per provider. A channel whose provider is not
    # configured goes to the generic webhook relay when outbound_webhook_url is set, else it is only recorded
    # (delivery status `recorded`: nothing left the server). Public URLs are built from channel_public_url. -------
    twilio_account_sid: str | None = Field(None, description="Twilio Account SID (AC...): SMS replies are sent "
                                           "through Twilio's Messages API with twilio_auth_token.")
    twilio_from_number: str | None = Field(None, description="Our Twilio number, E.164 (+14105550100).")
    twilio_messaging_service_sid: str | None = Field(
        None, description="Or a Messaging Service SID (MG...) to send from (takes precedence over the number).")
    twilio_api_url: str = Field("https://api.twilio.com", description="Twilio REST base URL (tests: a local fake).")
    meta_page_access_token: str | None = Field(
        None, description="Page access token (pages_messaging, pages_manage_engagement): Messenger replies via the "
        "Send API and public replies to Page comments. With facebook_app_secret, calls carry appsecret_proof.")
    meta_graph_url: str = Field("https://graph.facebook.com/v21.0", description="Graph API base URL with version.")
    meta_message_tag: Literal["ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE",
                              "HUMAN_AGENT"] | None = Field(
        None, description="Messenger tag for messages outside the 24-hour window (only where Meta's policy allows "
        "it for the message; unset: such messages are not sent and fail with the reason).")
    x_consumer_key: str | None = Field(None, description="X app API key (OAuth 1.0a consumer key); its secret is "
                                       "twitter_consumer_secret (GROUNDCREW_X_CONSUMER_SECRET).")
    x_access_token: str | None = Field(None, description="X OAuth 1.0a access token of the brand account.")
    x_access_token_secret: str | None = Field(None, description="... and its secret.")
    x_bearer_token: str | None = Field(
        None, description="Or an OAuth 2.0 user-context access token (tweet.write, dm.write, users.read scopes); "
        "an app-only bearer token cannot post.")
    x_api_url: str = Field("https://api.x.com", description="X API base URL (tests: a local fake).")
    smtp_host: str | None = Field(None, description="SMTP server for email replies.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none (a local relay only).")
    email_from: str | None = Field(None, description="From of our email replies, e.g. 'City Services "
                                   "<help@city.example>' (required for email delivery).")
    outbound_webhook_secret: str | None = Field(
        None, description="Signs relay POSTs: X-Groundcrew-Signature: sha256=<hex HMAC-SHA256 of "
        "'<X-Groundcrew-Timestamp>.<raw body>'>.")
    notify_max_attempts: int = Field(6, ge=1, le=20, description="Sends of one message before it is failed "
                                     "(transient provider errors only; refusals fail at once).")
    notify_retry_base_s: float = Field(30.0, ge=0, le=3600, description="First retry after this; doubles each time.")
    notify_timeout_s: float = Field(15.0, gt=0, le=120, description="Per provider request.")
    # --- completion photos and signature (issue 25): limits per file and per completion ------------------------
    upload_max_file_bytes: int = Field(
        8_000_000, ge=1024, description="Largest photo or signature accepted with a job completion (bytes, "
        "decoded); a larger one is refused with 413 naming it. The app sends photos resized to 1600 px (a few "
        "hundred KB); this leaves room for an unresized phone photo.")
    upload_max_photos: int = Field(10, ge=0, le=100, description="Photos per job completion (more: 422).")
    upload_max_total_bytes: int = Field(
        24_000_000, ge=1024, description="All photos and the signature of one completion together (bytes, "
        "decoded; more: 413). The body of POST /jobs/{id}/status may be this, base64-encoded, plus "
        "max_request_bytes for the rest (completion_max_request_bytes).")

    @property
    def completion_max_request_bytes(self) -> int:
        """Body limit of a job completion: its files base64-encoded (4 characters per 3 bytes) plus the ordinary
        ``max_request_bytes`` for notes, parts and the JSON around them."""
        return 4 * -(-self.upload_max_total_bytes // 3) + self.max_request_bytes

    @field_validator("webform_rate_limit", "webhook_rate_limit", "open311_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip():
            from limits import parse_many

            try:
                parse_many(value)
            except ValueError:
                raise ValueError(f"'{value}' is not a rate limit such as '10/minute;100/hour'") from None
        return value.strip()

    @property
    def warnings(self) -> list[str]:
        """What an operator must know about this configuration (shown by the console from /health)."""
        out = []
        if self.insecure_channels:
            unset = [name for name, secret in (
                ("twitter", self.twitter_consumer_secret), ("facebook", self.facebook_app_secret),
                ("sms", self.twilio_auth_token), ("email", self.email_webhook_secret),
                ("email/mailgun", self.mailgun_signing_key)) if not secret]
            if unset:
                out.append("GROUNDCREW_INSECURE_CHANNELS is on: unsigned deliveries are accepted on "
                           f"{', '.join(unset)} (demo only; anyone can post complaints in a customer's name)")
        return out

    @field_validator("horizon_weekdays")
    @classmethod
    def _weekdays(cls, value: str) -> str:
        import re

        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(re.fullmatch(r"[1-7](-[1-7])?", p) and p[0] <= p[-1] for p in parts):
            raise ValueError(f"'{value}' is not a list of ISO weekdays 1-7 (1 = Monday) such as '1-5' or '1,3,5'")
        return value

    @field_validator("dispatch_morning_at", "horizon_roll_at")
    @classmethod
    def _local_time(cls, value: str | None) -> str | None:
        """HH:MM, or empty / None for "off"."""
        from datetime import time

        if value is None or not value.strip():
            return None
        try:
            time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a local time HH:MM (or empty for off)") from None
        return value.strip()

    @field_validator("horizon_closed_dates")
    @classmethod
    def _closed_dates(cls, value: str) -> str:
        from datetime import date

        for raw in (s.strip() for s in value.split(",") if s.strip()):
            try:
                date.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"'{raw}' is not a date YYYY-MM-DD") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundcrew.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in ``data_dir/secret_key``."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    @property
    def cache_dir(self) -> Path:
        return self.cache_dir_override or self.data_dir / "cache"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
