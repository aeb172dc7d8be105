"""Pydantic shapes workflows and activities exchange (never SQLModel tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditRecord(BaseModel):
    """An audit event as a workflow reports it; event_key makes retries no-ops."""

    brand_id: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    event_key: str = Field(max_length=200)
    region_id: int | None = None
    partner_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    comment: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    at: datetime | None = None


class AuditReceipt(BaseModel):
    seq: int
    hash: str
