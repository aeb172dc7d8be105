"""Co-op funds: what HQ gives a partner for a period, an append-only ledger of every movement of
that money, and the cost rates that price a send or a print run.

Money is integer minor units (cents) everywhere, never floats. A fund's balance is the sum of
its ledger (services.funds.ledger); nothing stores a running total that could drift from it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.money import CostChannel, LedgerKind
from models.base import EnumText, utcnow


class Fund(SQLModel, table=True):
    """One partner's co-op money for one period ("2026-Q4", "2026"): HQ pays `coop_share_bp`
    (basis points: 5000 = 50 %) of eligible spend, up to what the fund holds."""

    __table_args__ = (UniqueConstraint("partner_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    region_id: int = Field(foreign_key="region.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    period: str = Field(max_length=16)
    starts_on: date
    ends_on: date = Field(description="the last day of the period (inclusive)")
    currency: str = Field(max_length=3)
    coop_share_bp: int = Field(ge=0, le=10000)
    eligible_channels: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Days after the period's end during which claims may still be confirmed and decided.
    claim_window_days: int = Field(default=60, ge=1, le=366)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class FundLedgerEntry(SQLModel, table=True):
    """One movement, never updated or deleted. `key` makes every writer idempotent: a retried
    activity or a replayed callback adds nothing (unique per fund)."""

    __table_args__ = (
        UniqueConstraint("fund_id", "key"),
        Index("ix_fundledgerentry_fund_kind", "fund_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fund_id: int = Field(foreign_key="fund.id", index=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    partner_id: int = Field(foreign_key="partner.id", index=True)
    kind: LedgerKind = Field(sa_type=EnumText(LedgerKind, 16))
    # Signed effect on the money still available (see domain.money.LedgerKind).
    amount_minor: int = Field(sa_type=BigInteger)
    # spend: the full cost before the co-op share; claim_paid: what HQ paid out.
    gross_minor: int = Field(default=0, sa_type=BigInteger)
    paid_minor: int = Field(default=0, sa_type=BigInteger)
    channel: str = Field(default="", max_length=8)
    quantity: int = Field(default=0, description="messages, segments or copies")
    partner_campaign_id: int | None = Field(default=None, foreign_key="partnercampaign.id")
    print_order_id: int | None = Field(default=None, foreign_key="printorder.id")
    claim_id: int | None = Field(default=None, foreign_key="claim.id")
    key: str = Field(max_length=200)
    note: str = Field(default="", max_length=500)
    by_user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class CostRate(SQLModel, table=True):
    """What one unit costs a partner: an email, an SMS segment, a printed copy of `format` in
    the quantity band [`min_quantity`, `max_quantity`] (None: no upper bound)."""

    __table_args__ = (UniqueConstraint("brand_id", "channel", "format", "min_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    brand_id: int = Field(foreign_key="brand.id", index=True)
    channel: CostChannel = Field(sa_type=EnumText(CostChannel, 8))
    format: str = Field(default="", max_length=8, description="print only: A4, A5, ...")
    min_quantity: int = Field(default=1, ge=1)
    max_quantity: int | None = Field(default=None, ge=1)
    unit_minor: int = Field(ge=0, sa_type=BigInteger)
    currency: str = Field(max_length=3)
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = Field(default_factory=utcnow)
