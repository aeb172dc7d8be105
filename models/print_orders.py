"""Web-to-print orders: copies of an approved partner campaign's print variant, ordered at a
print vendor by the PrintOrderWorkflow, and the vendor's status callbacks (deduplicated)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.money import PrintOrderState
from models.base import EnumText, utcnow


class PrintOrder(SQLModel, table=True):
    __table_args__ = (
        # The client's Idempotency-Key: a retried POST finds the order it made.
        UniqueConstraint("partner_id", "request_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    partner_campaign_id: int = Field(foreign_key="partnercampaign.id", index=True)
    fund_id: int | None = Field(default=None, foreign_key="fund.id", index=True)
    state: PrintOrderState = Field(
        default=PrintOrderState.quoted, sa_type=EnumText(PrintOrderState, 20), index=True
    )
    format: str = Field(max_length=8)
    quantity: int = Field(ge=1)
    locale: str = Field(default="", max_length=10)
    # Where the copies go.
    recipient_name: str = Field(max_length=200)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=20)
    city: str = Field(max_length=100)
    country: str = Field(max_length=2)
    wanted_by: date
    currency: str = Field(max_length=3)
    quote_minor: int = Field(default=0, sa_type=BigInteger)
    invoice_minor: int | None = Field(default=None, sa_type=BigInteger)
    vendor: str = Field(default="", max_length=40)
    # Sent as the vendor's Idempotency-Key: one vendor order whatever retries and kills happen.
    vendor_key: str = Field(default="", max_length=80, index=True)
    vendor_order_id: str = Field(default="", max_length=80, index=True)
    vendor_due_at: datetime | None = None
    tracking_number: str = Field(default="", max_length=80)
    tracking_url: str = Field(default="", max_length=500)
    pdf_key: str = Field(default="", max_length=300, description="the print-ready PDF's object")
    pdf_sha256: str = Field(default="", max_length=64)
    proof_of_delivery: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    error: str = Field(default="", max_length=1000)
    request_key: str | None = Field(default=None, max_length=200)
    ordered_by: int = Field(foreign_key="user.id")
    workflow_id: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PrintVendorCallback(SQLModel, table=True):
    """A status callback as the vendor signed it; `event_id` makes a duplicate a no-op."""

    __table_args__ = (UniqueConstraint("vendor", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    vendor: str = Field(max_length=40)
    event_id: str = Field(max_length=120)
    print_order_id: int | None = Field(default=None, foreign_key="printorder.id", index=True)
    status: str = Field(max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
