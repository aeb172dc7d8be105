"""Webhook endpoints, the events captured for them and the log of every delivery attempt.

An event row is written in the transaction of the audit event it reports (services.webhooks
.capture), once per matching enabled endpoint, so a committed change always has its webhook
events and a retried write (same audit event key) adds none. Rows are delivered oldest first
per subject by the endpoint's workflow (workflows/webhook_endpoint.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import EnumText, utcnow


class WebhookEventState(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # retried for the whole window without success


class WebhookEndpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    # Standard Webhooks secrets ("whsec_" + base64). Kept readable: HMAC needs the key itself.
    secret: str = Field(max_length=200)
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_secret_until: datetime | None = None
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = None
    # Sustained failure: since when every attempt failed, and events failed in a row.
    failing_since: datetime | None = None
    failed_events_in_row: int = 0
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookEvent(SQLModel, table=True):
    __table_args__ = (
        # One row per endpoint and captured fact: a replayed capture finds it.
        UniqueConstraint("endpoint_id", "source_key", name="uq_webhookevent_endpoint_source"),
        # The workflow's question: the oldest pending event of each subject.
        Index("ix_webhookevent_endpoint_state_subject", "endpoint_id", "state", "subject", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhookendpoint.id")
    brand_id: int = Field(index=True)
    message_id: str = Field(max_length=64, unique=True, description="the webhook-id header")
    source_key: str = Field(max_length=260, description="audit event key + event type")
    event_type: str = Field(max_length=64)
    subject: str = Field(max_length=64, description="ordering key: partner_campaign:12")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: WebhookEventState = Field(
        default=WebhookEventState.pending, sa_type=EnumText(WebhookEventState, 16)
    )
    attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # Retries run for the window from here: the capture, or a manual redelivery.
    window_started_at: datetime = Field(default_factory=utcnow)
    manual: bool = False  # a redelivery asked for through the API
    delivered_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)


class WebhookDelivery(SQLModel, table=True):
    """One attempt: what the receiver answered (or why there was no answer)."""

    __table_args__ = (Index("ix_webhookdelivery_endpoint_id", "endpoint_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(foreign_key="webhookendpoint.id")
    event_id: int = Field(foreign_key="webhookevent.id", index=True)
    brand_id: int
    attempt: int
    at: datetime = Field(default_factory=utcnow)
    ok: bool = False
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
    response_excerpt: str = Field(default="", max_length=500)
    manual: bool = False
