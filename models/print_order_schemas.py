"""The print orders' API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from core.said import said
from domain.money import PrintOrderState


class PrintOrderCreate(BaseModel):
    partner_campaign_id: int
    format: Literal["A4", "A5"]
    quantity: int = Field(ge=1, le=1_000_000)
    recipient_name: str = Field(min_length=1, max_length=200)
    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=1, max_length=20)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    wanted_by: date

    @field_validator("recipient_name", "street", "postal_code", "city", "country")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ord(ch) < 0x20 for ch in value):
            raise ValueError(said("must be one line of text"))
        return value

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class PrintOrderDecide(BaseModel):
    decision: Literal["approve", "request_changes", "reject"]
    comment: str = Field(default="", max_length=2000)


class PrintOrderCancelBody(BaseModel):
    comment: str = Field(default="", max_length=2000)


class TimelineItem(BaseModel):
    at: datetime
    action: str
    actor: str
    actor_name: str = Field(
        "", description='who acted: full name, else email; "system" for automatic steps'
    )
    comment: str | None = None


class PrintOrderRead(BaseModel):
    id: int
    partner_id: int
    partner_campaign_id: int
    state: PrintOrderState
    format: str
    quantity: int
    recipient_name: str
    street: str
    postal_code: str
    city: str
    country: str
    wanted_by: date
    currency: str
    quote_minor: int
    invoice_minor: int | None
    vendor: str
    vendor_order_id: str
    tracking_number: str
    tracking_url: str
    pdf_sha256: str
    pdf_url: str | None = Field(None, description="the print-ready PDF, once it is made")
    proof_of_delivery: dict[str, Any]
    error: str
    ordered_by: int
    created_at: datetime
    updated_at: datetime
    vendor_late: list[str] = Field(
        default_factory=list, description="the vendor's missed steps (accepted, shipped)"
    )
    may_decide: bool = False
    may_cancel: bool = False
    timeline: list[TimelineItem] = Field(default_factory=list)


class PrintOrderSummary(BaseModel):
    id: int
    partner_id: int
    partner_campaign_id: int
    state: PrintOrderState
    format: str
    quantity: int
    quote_minor: int
    currency: str
    wanted_by: date
    tracking_number: str
    error: str
    created_at: datetime


class CallbackAck(BaseModel):
    status: Literal["accepted", "duplicate"]
