"""The append-only, hash-chained audit trail (one chain per brand)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import utcnow


class AuditEvent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("brand_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    seq: int = Field(description="Position in the brand's chain, from 1")
    event_key: str = Field(max_length=200, unique=True, description="Makes a retried write a no-op")
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100, index=True, description='User id or "system"')
    action: str = Field(max_length=100, index=True)
    entity_type: str = Field(max_length=50, index=True)
    entity_id: str = Field(max_length=100, index=True)
    region_id: int | None = Field(default=None, index=True, description="For scoped reading")
    partner_id: int | None = Field(default=None, index=True, description="For scoped reading")
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    comment: str | None = Field(default=None, max_length=2000)
    request_id: str | None = Field(default=None, max_length=100)
    workflow_id: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=100)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # No server default on purpose: a process still running the code from before keyed
    # links cannot slip a plain SHA-256 event into a keyed chain, its insert fails instead.
    mac_version: int = Field(
        default=1, description="0: plain SHA-256 link (events from before keying), 1: HMAC-SHA256"
    )
    key_id: str | None = Field(
        default=None, max_length=16, description="Which audit key made the link (keyed events)"
    )


class AuditChainHead(SQLModel, table=True):
    """The last link of a brand's chain; locking this row serialises appends."""

    brand_id: int = Field(foreign_key="brand.id", primary_key=True)
    seq: int = Field(default=0)
    hash: str = Field(max_length=64)
