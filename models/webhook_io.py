"""What the webhook endpoint workflow and its activities exchange (never SQLModel tables)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class WebhookEndpointInput(BaseModel):
    endpoint_id: int


class WebhookDueQuery(BaseModel):
    endpoint_id: int
    now: datetime  # the workflow's clock: retries follow it (also when a test skips time)


class WebhookDue(BaseModel):
    status: str  # "active" | "disabled" | "gone"
    event_ids: list[int]
    next_check_seconds: float


class WebhookAttemptInput(BaseModel):
    event_id: int
    now: datetime


class WebhookAttemptResult(BaseModel):
    outcome: str  # "delivered" | "retry" | "failed" | "skipped" | "error" (activity failed)
    endpoint_disabled: bool = False
