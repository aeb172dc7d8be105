"""Rows for the embedded outbox transport: what was "sent", for the portal's outbox viewer.

The message itself stays an .eml file under the outbox directory (`path` is relative to it);
the row makes it listable by brand and partner campaign without reading every file. No foreign
keys: this is a record of what went out, kept as it was even when a campaign row goes away.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, false
from sqlmodel import Field, SQLModel

from models.base import utcnow


class OutboxMessage(SQLModel, table=True):
    # The viewer lists a brand's messages newest first: read in index order, not sorted.
    __table_args__ = (Index("ix_outboxmessage_brand_sent", "brand_id", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=300, index=True)
    to: str = Field(max_length=2000)
    subject: str = Field(max_length=1000)
    # From the send's tags (mail.tags): None for messages sent without them.
    brand_id: int | None = Field(default=None, index=True)
    partner_campaign_id: int | None = Field(default=None, index=True)
    delivery_id: str | None = Field(default=None, max_length=100)
    path: str = Field(max_length=300)
    # A test send (services.test_sends): shown as such, never a delivery.
    is_test: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    sent_at: datetime = Field(default_factory=utcnow, index=True)


class OutboxSms(SQLModel, table=True):
    """An SMS the embedded outbox SMS transport "sent": the whole message is the row (no file),
    one per message id, so a message handed over again after a crash is not recorded twice."""

    __table_args__ = (Index("ix_outboxsms_brand_sent", "brand_id", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=300, unique=True, index=True)
    to: str = Field(max_length=16)
    sender_id: str = Field(default="", max_length=16)
    body: str = Field(max_length=2000)
    encoding: str = Field(max_length=8)
    segments: int = Field(ge=1)
    brand_id: int | None = Field(default=None, index=True)
    partner_campaign_id: int | None = Field(default=None, index=True)
    delivery_id: str | None = Field(default=None, max_length=100)
    is_test: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    sent_at: datetime = Field(default_factory=utcnow, index=True)
