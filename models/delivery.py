"""The delivery ledger: one row per recipient of a partner campaign's send.

The row is the unit of "exactly once": it moves pending -> sending -> sent (with the provider's
message id) or failed (with a reason), or to suppressed when the address was suppressed after
the snapshot. A retry only ever picks rows that are not final, and only one row at a time is
in `sending`, so a crash can duplicate at most that one message; its Message-ID is derived from
the row id, so the duplicate is recognisable.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.states import DeliveryStatus
from models.base import EnumText, utcnow


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("partner_campaign_id", "contact_id", name="uq_delivery_recipient"),
        # Progress bars count rows per status for a page of partner campaigns from the index.
        Index("ix_delivery_partner_campaign_status", "partner_campaign_id", "status"),
        # An inbound STOP finds the brands that texted a number (services.sms.inbound); only
        # SMS rows carry one, so email rows stay out of the index.
        Index(
            "ix_delivery_sms_phone",
            "phone",
            postgresql_where=text("phone <> ''"),
            sqlite_where=text("phone <> ''"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_campaign_id: int = Field(foreign_key="partnercampaign.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    contact_id: int | None = Field(default=None, description="None once the contact was erased")
    email: str = Field(default="", max_length=320, description="blanked on erasure")
    # The channel picked at the snapshot (models.contacts.Channel) and, for SMS, the number
    # (E.164; blanked on erasure like the address).
    channel: str = Field(
        default="email", max_length=8, sa_column_kwargs={"server_default": "email"}
    )
    phone: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=EnumText(DeliveryStatus, 16), index=True
    )
    attempts: int = 0
    message_id: str | None = Field(default=None, max_length=200, index=True)
    provider_message_id: str | None = Field(default=None, max_length=200, index=True)
    error: str | None = Field(default=None, max_length=1000)
    permanent: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class EventKind(StrEnum):
    """What happened to a message after it left (the event table's `kind`)."""

    delivered = "delivered"
    bounced = "bounced"
    complained = "complained"
    opened = "opened"
    clicked = "clicked"
    unsubscribed = "unsubscribed"


class DeliveryEvent(SQLModel, table=True):
    """One thing that happened to one recipient's message after it left: SES's delivered,
    bounced, complained (source "ses"), an open or click (source "tracking"), an unsubscribe
    (source "preferences"). Reporting reads this one table.

    brand, partner and partner campaign are copied from the delivery row so reports group
    without a join; they have no foreign keys (reporting copies, never edited). Writers are
    idempotent through `key`: a replayed SNS notification or a retried batch adds nothing."""

    __table_args__ = (
        Index("ix_deliveryevent_partner_campaign_kind", "partner_campaign_id", "kind"),
        Index("ix_deliveryevent_brand_kind_at", "brand_id", "kind", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    brand_id: int = 0
    partner_id: int = 0
    partner_campaign_id: int = 0
    kind: str = Field(max_length=32)
    source: str = Field(default="ses", max_length=16)
    url: str | None = Field(default=None, max_length=2000, description="the link of a click")
    detail: str | None = Field(default=None, max_length=1000)
    key: str = Field(max_length=200, unique=True, index=True, description="idempotency key")
    at: datetime = Field(default_factory=utcnow)
