"""Co-op claims: written by the ClaimWorkflow from what was really spent (the fund ledger and
vendor invoices), with the evidence, confirmed by the GM and decided by HQ's approval chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from domain.money import ClaimState
from models.base import EnumText, utcnow


class Claim(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    fund_id: int = Field(foreign_key="fund.id", index=True)
    # What the claim is for: exactly one of the two (unique: one claim per campaign or order).
    partner_campaign_id: int | None = Field(
        default=None, foreign_key="partnercampaign.id", unique=True
    )
    print_order_id: int | None = Field(default=None, foreign_key="printorder.id", unique=True)
    state: ClaimState = Field(
        default=ClaimState.draft, sa_type=EnumText(ClaimState, 20), index=True
    )
    currency: str = Field(max_length=3)
    spend_minor: int = Field(default=0, sa_type=BigInteger, description="eligible spend")
    claimed_minor: int = Field(default=0, sa_type=BigInteger, description="HQ's share")
    coop_share_bp: int = Field(default=0)
    # [{channel, quantity, unit, gross_minor, eligible, source}]
    lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # [{kind, label, ...}]: the email as sent, delivery counts, the print PDF, proof of delivery,
    # invoices the GM added for local spend.
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    window_closes_at: datetime
    confirmed_by: int | None = Field(default=None, foreign_key="user.id")
    confirmed_at: datetime | None = None
    decided_at: datetime | None = None
    paid_at: datetime | None = None
    payment_reference: str = Field(default="", max_length=120)
    note: str = Field(default="", max_length=1000)
    workflow_id: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
