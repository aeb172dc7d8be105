"""The one settings object: every environment variable the project reads is a field here.

Nothing else in the project reads the environment; workflow code imports no settings at all
(workflows must stay deterministic), it receives what it needs as workflow input.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - the refused default
DEV_PRINT_VENDOR_SECRET = "dev-print-vendor-secret"  # noqa: S105 - refused in production


class AppEnv(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class EmailTransport(StrEnum):
    outbox = "outbox"
    smtp = "smtp"
    ses = "ses"


class SmsTransportKind(StrEnum):
    outbox = "outbox"
    sns = "sns"


class SmsType(StrEnum):
    """SNS's message type: Transactional is routed for reliability, Promotional for cost."""

    transactional = "Transactional"
    promotional = "Promotional"


class AssetStore(StrEnum):
    local = "local"
    s3 = "s3"


class ObjectLockMode(StrEnum):
    """S3 Object Lock modes: GOVERNANCE yields to s3:BypassGovernanceRetention, COMPLIANCE to
    nobody (not even the account root) until the retention date."""

    governance = "GOVERNANCE"
    compliance = "COMPLIANCE"


class Settings(BaseSettings):
    """Read from environment variables (upper-case field names) and an optional .env file."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    app_env: AppEnv = Field(AppEnv.dev, description="dev | test | production")
    log_level: str = Field("INFO", description="Python logging level")
    data_dir: Path = Field(
        PROJECT_ROOT / ".data", description="Embedded state: DBs, outbox, assets"
    )

    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite file in DATA_DIR")

    temporal_address: str = Field("localhost:7233", description="host:port of the frontend")
    temporal_namespace: str = Field("default", description="Temporal namespace")
    temporal_task_queue: str = Field("brandrelay", description="Orchestration task queue")
    temporal_delivery_task_queue: str = Field(
        "brandrelay-delivery", description="Rendering and sending task queue"
    )
    temporal_documents_task_queue: str = Field(
        "brandrelay-documents", description="PDF rendering task queue"
    )
    temporal_tls: bool = Field(False, description="Use TLS to reach the cluster")
    temporal_tls_cert: Path | None = Field(None, description="Client certificate (mTLS), PEM")
    temporal_tls_key: Path | None = Field(None, description="Client private key (mTLS), PEM")
    temporal_tls_ca: Path | None = Field(None, description="Server CA bundle, PEM")
    temporal_tls_server_name: str | None = Field(None, description="TLS SNI override")
    temporal_api_key: SecretStr | None = Field(None, description="API key (Temporal Cloud)")
    temporal_connect_attempts: int = Field(30, ge=1, description="Connection attempts at start")
    temporal_connect_backoff: float = Field(1.0, gt=0, description="Seconds between attempts")
    worker_shutdown_grace: float = Field(
        30.0, ge=0, description="Seconds running activities get to finish on SIGTERM"
    )
    worker_activity_threads: int = Field(16, ge=1, description="Threads for blocking activities")

    email_transport: EmailTransport = Field(EmailTransport.outbox, description="outbox|smtp|ses")
    email_from: str = Field("Brandrelay <noreply@brandrelay.example>", description="From header")
    smtp_host: str = Field("localhost", description="SMTP relay host")
    smtp_port: int = Field(1025, description="SMTP relay port")
    smtp_username: str | None = Field(None, description="SMTP auth user")
    smtp_password: SecretStr | None = Field(None, description="SMTP auth password")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS")
    smtp_tls_ca: Path | None = Field(
        None, description="CA bundle (PEM) the relay's cert is checked against"
    )
    ses_configuration_set: str | None = Field(None, description="SES configuration set name")
    ses_sns_topic_arns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SNS topics whose SES feedback is accepted (comma-separated)",
    )
    send_rate_per_second: float | None = Field(
        None, gt=0, description="Messages/s for any transport; unset: the transport's own default"
    )
    smtp_send_rate: float = Field(10.0, gt=0, description="Messages/s through the SMTP relay")
    outbox_send_rate: float = Field(1000.0, gt=0, description="Messages/s into the outbox")
    ses_fallback_send_rate: float = Field(
        14.0,
        gt=0,
        description="Messages/s when the SES account's max send rate cannot be read "
        "(a production account's starting quota; docs/sending-speed.md)",
    )
    sms_transport: SmsTransportKind = Field(
        SmsTransportKind.outbox, description="outbox (rows, viewable in the portal) | sns"
    )
    sms_rate_per_second: float | None = Field(
        None, gt=0, description="SMS/s for the SMS transport; unset: outbox 1000, SNS 20"
    )
    sms_type: SmsType = Field(
        SmsType.transactional, description="SNS SMS type: Transactional | Promotional"
    )
    sms_sns_region: str | None = Field(
        None, description="AWS region SMS are published from; unset: AWS_REGION"
    )
    sms_inbound_topic_arns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="SNS topics whose inbound SMS (STOP replies) are accepted (comma-separated)",
    )
    send_concurrency: int = Field(
        16, ge=1, le=256, description="Messages of one send in flight at once (hand-overs overlap)"
    )
    send_throttle_budget: float = Field(
        60.0,
        gt=0,
        description="Seconds a batch keeps retrying throttled messages before it ends early",
    )
    send_late_grace: int = Field(
        6 * 3600,
        ge=0,
        description="Seconds after a campaign's send_by a send may still start; later it stops",
    )
    sms_quiet_start: time = Field(
        time(21, 0), description="No SMS from this local time of the partner (Partner.timezone)"
    )
    sms_quiet_end: time = Field(time(9, 0), description="SMS may go again from this local time")
    journey_quiet_start: time = Field(
        time(21, 0), description="No journey email from this local time of the partner"
    )
    journey_quiet_end: time = Field(
        time(8, 0), description="Journey email may go again from this local time"
    )
    journey_sweep_interval: int = Field(
        300,
        ge=0,
        description="Seconds between sweeps that enrol due contacts into active journeys; "
        "0: no schedule",
    )

    asset_store: AssetStore = Field(AssetStore.local, description="local | s3")
    s3_bucket: str = Field("brandrelay-assets", description="Bucket for assets")
    asset_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest accepted asset upload, bytes"
    )
    asset_url_ttl: int = Field(
        300, ge=10, le=604800, description="Lifetime of signed asset download URLs, seconds"
    )
    asset_public_base_url: str = Field(
        "",
        description="S3 only: base URL (bucket website or CDN) serving the public-read prefix "
        "public/i/ where email images are copied; empty: images are served at "
        "PUBLIC_BASE_URL/i/{token}",
    )
    s3_sse: str | None = Field(None, description="Server-side encryption, e.g. AES256 or aws:kms")
    aws_region: str = Field("eu-west-1", description="AWS region for SES and S3")
    aws_endpoint_url: str | None = Field(None, description="Endpoint override (MinIO, moto)")
    aws_access_key_id: str | None = Field(None, description="AWS key id (else the default chain)")
    aws_secret_access_key: SecretStr | None = Field(None, description="AWS secret key")

    contact_import_chunk: int = Field(
        500, ge=1, le=10000, description="Contact CSV rows per import transaction"
    )
    contact_import_max_bytes: int = Field(
        200 * 1024 * 1024, ge=1024, description="Largest accepted contact CSV upload, bytes"
    )
    campaign_sheet_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest accepted campaign sheet upload, bytes"
    )
    campaign_sheet_max_rows: int = Field(
        2000, ge=1, le=100000, description="Most data rows in one campaign sheet"
    )
    campaign_sheet_confirm_within: int = Field(
        7 * 86400,
        ge=60,
        description="Seconds a validated campaign sheet waits for HQ's confirmation; then it "
        "expires (state failed) and nothing is created",
    )

    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY), description="Signs tokens, sessions and links"
    )
    audit_key: SecretStr | None = Field(
        None,
        description="Keys the audit chain (HMAC) and signs its checkpoints; unset: derived "
        "from SECRET_KEY, refused in production",
    )
    audit_key_previous: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Retired audit keys, comma-separated: verification only, never appends",
    )
    audit_checkpoint_interval: int = Field(
        600, ge=0, description="Seconds between scheduled audit checkpoints; 0: no schedule"
    )
    report_rollup_interval: int = Field(
        3600, ge=0, description="Seconds between scheduled reporting rollups; 0: no schedule"
    )
    report_rollup_lookback_days: int = Field(
        2, ge=0, le=31, description="Closed days each reporting rollup counts again (late facts)"
    )
    claim_approval_policy: str = Field(
        "", description="Name of the brand approval policy claims run; empty: the built-in one"
    )
    journey_approval_policy: str = Field(
        "",
        description="Name of the brand approval policy a journey's switch-on runs; empty: the "
        "built-in one (the partner's GM)",
    )
    audit_checkpoint_bucket: str = Field(
        "", description="S3 bucket of audit checkpoints (Object Lock); empty: S3_BUCKET"
    )
    audit_checkpoint_lock_mode: ObjectLockMode = Field(
        ObjectLockMode.governance, description="S3 Object Lock mode of checkpoints"
    )
    audit_checkpoint_retention_days: int = Field(
        365, ge=1, le=36500, description="S3 Object Lock retention of checkpoints, days"
    )
    access_token_ttl: int = Field(3600, ge=60, description="Bearer token lifetime, seconds")
    portal_session_ttl: int = Field(
        28800, ge=60, description="Portal sign-in lifetime, seconds (absolute, from sign-in)"
    )
    signin_link_ttl: int = Field(
        259200, ge=300, description="Lifetime of a sign-in link in a partner email, seconds"
    )
    signin_address_max_failures: int = Field(
        30, ge=1, description="Failed sign-ins per client address and window before refusing"
    )
    signin_address_window: int = Field(
        900, ge=60, description="Length of the per-address sign-in window, seconds"
    )
    trusted_proxy_hops: int = Field(
        0, ge=0, le=10, description="Reverse proxies in front of the API adding X-Forwarded-For"
    )
    public_base_url: str = Field("http://localhost:8000", description="Base URL in links")
    tracking_queue_size: int = Field(
        10000, ge=1, description="Open/click events held in memory before a write (tracking)"
    )
    tracking_batch_size: int = Field(
        500, ge=1, le=10000, description="Open/click events written per transaction (tracking)"
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body, bytes (uploads have their own)"
    )
    max_template_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest template version body (long sources), bytes"
    )
    webhook_allow_http: bool = Field(
        False, description="Accept http:// webhook URLs (development only; https otherwise)"
    )
    webhook_allow_private_addresses: bool = Field(
        False,
        description="Deliver webhooks to private, loopback, link-local or reserved addresses "
        "and to any port (development and tests only: SSRF)",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="One webhook POST in all: connect, send and answer, seconds"
    )
    webhook_retry_window_hours: float = Field(
        72.0, gt=0, description="How long an event is retried before it is marked failed"
    )
    webhook_retry_base_seconds: float = Field(
        5.0, gt=0, description="First wait after a failed webhook attempt; doubles each time"
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="Longest wait between two attempts of one webhook event"
    )
    webhook_disable_after_hours: float = Field(
        72.0, gt=0, description="Disable an endpoint whose every attempt failed for this long"
    )
    webhook_disable_after_failed_events: int = Field(
        20, ge=1, description="Disable an endpoint after this many events failed in a row"
    )
    webhook_secret_overlap_hours: float = Field(
        24.0, ge=0, description="After a secret rotation, the old secret also signs this long"
    )
    webhook_poll_seconds: float = Field(
        30.0, ge=1, description="How often an endpoint's workflow looks for new events"
    )
    webhook_sweep_interval: int = Field(
        600,
        ge=0,
        description="Seconds between sweeps that start the workflow of every enabled webhook "
        "endpoint; 0: no schedule",
    )
    print_vendor_url: str = Field(
        "http://127.0.0.1:8010", description="Base URL of the print vendor's API"
    )
    print_vendor_name: str = Field(
        "simulator", description="The print vendor's name on orders and callbacks"
    )
    print_vendor_secret: SecretStr = Field(
        SecretStr(DEV_PRINT_VENDOR_SECRET),
        description="Shared secret of the print vendor's signed callbacks",
    )
    print_vendor_timeout: float = Field(
        30.0, gt=0, le=300, description="One request to the print vendor, seconds"
    )
    print_vendor_callback_tolerance: int = Field(
        300, ge=10, description="Seconds a vendor callback's timestamp may be off from now"
    )
    print_vendor_accept_hours: float = Field(
        24.0, gt=0, description="Hours the vendor has to accept an order before ops are told"
    )
    print_pdf_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest print-ready PDF sent to the vendor, bytes"
    )
    print_sim_port: int = Field(8010, description="Port of the print vendor simulator (make up)")
    print_sim_callback_url: str = Field(
        "http://127.0.0.1:8000/api/v1/print-vendor/callbacks",
        description="Where the print vendor simulator POSTs its signed status callbacks",
    )
    print_sim_step_seconds: float = Field(
        5.0, ge=0, description="Simulator: seconds between an order's steps (its time scale)"
    )
    api_host: str = Field("127.0.0.1", description="API bind address (make up)")
    api_port: int = Field(8000, description="API port (make up)")

    @field_validator(
        "ses_sns_topic_arns", "sms_inbound_topic_arns", "audit_key_previous", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_dev(self) -> Settings:
        if self.app_env == AppEnv.production and (
            self.secret_key.get_secret_value() == DEV_SECRET_KEY
            or len(self.secret_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "SECRET_KEY is the development default or shorter than 32 characters; "
                "set a long random SECRET_KEY when APP_ENV=production"
            )
        return self

    @model_validator(mode="after")
    def _refuse_derived_audit_key_in_production(self) -> Settings:
        """The audit key must not follow SECRET_KEY in production: SECRET_KEY is rotated for
        sessions and links, and rotating the audit key breaks verification of older events."""
        if self.app_env != AppEnv.production:
            return self
        key = self.audit_key.get_secret_value() if self.audit_key is not None else ""
        if len(key) < 32 or key == self.secret_key.get_secret_value():
            raise ValueError(
                "AUDIT_KEY is unset (the development default derives it from SECRET_KEY), "
                "shorter than 32 characters or equal to SECRET_KEY; set a long random "
                "AUDIT_KEY of its own when APP_ENV=production"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_print_vendor_secret_in_production(self) -> Settings:
        """Whoever knows the development secret could forge the vendor's callbacks (mark an
        order delivered, book its spend)."""
        secret = self.print_vendor_secret.get_secret_value()
        if self.app_env == AppEnv.production and (
            secret == DEV_PRINT_VENDOR_SECRET or len(secret) < 32
        ):
            raise ValueError(
                "PRINT_VENDOR_SECRET is the development default or shorter than 32 "
                "characters; set the long random secret shared with the print vendor when "
                "APP_ENV=production"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The URL SQLAlchemy gets: the SQLite default, and PostgreSQL pinned to psycopg 3."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'brandrelay.db'}"
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def resolved_audit_checkpoint_bucket(self) -> str:
        return self.audit_checkpoint_bucket or self.s3_bucket

    @property
    def is_dev(self) -> bool:
        return self.app_env == AppEnv.dev


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; tests build their own Settings instead of patching this."""
    return Settings()
