"""The webhook API's shapes. A secret appears only in the answers that create it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_URL = "https://hooks.example.com/brandrelay"
EventTypes = list[str]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": EXAMPLE_URL,
                    "event_types": ["partner_campaign.state_changed", "delivery.finished"],
                    "description": "CRM sync",
                }
            ]
        },
    )

    url: str = Field(min_length=1, max_length=2000, description="https:// (SSRF-checked)")
    event_types: EventTypes = Field(min_length=1, max_length=20)
    description: str = Field("", max_length=500)


class WebhookUpdate(BaseModel):
    """Leave a field out to keep it. `enabled: true` re-enables a disabled endpoint."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=1, max_length=2000)
    event_types: EventTypes | None = Field(None, min_length=1, max_length=20)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = None


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None = Field(description="why it was disabled (sustained failure)")
    failing_since: datetime | None = Field(description="every attempt failed since then")
    failed_events_in_row: int
    previous_secret_until: datetime | None = Field(
        description="the rotated-out secret also signs until then"
    )
    pending_events: int = 0
    failed_events: int = 0
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="the signing secret (whsec_...): shown this once")


class WebhookSecret(BaseModel):
    id: int
    secret: str = Field(description="the new signing secret: shown this once")
    previous_secret_until: datetime | None


class WebhookEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str = Field(description="the webhook-id header; the same on every attempt")
    event_type: str
    subject: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    payload: dict[str, Any]


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    attempt: int
    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str
    manual: bool
